"""The k8s manifests as `kubectl kustomize k8s/` renders them (kubectl is a system dependency:
`make system-deps` installs Debian's kubernetes-client when it is missing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"

Obj = dict[str, Any]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl missing: `make system-deps` installs it (Debian kubernetes-client)")
    return found


def kustomize(directory: Path) -> list[Obj]:
    res = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    return [o for o in yaml.safe_load_all(res.stdout) if o]


@pytest.fixture(scope="session")
def rendered() -> list[Obj]:
    return kustomize(K8S)


def by_kind(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}
