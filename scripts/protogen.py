"""Generate Python code, .pyi stubs and the Envoy descriptor set from proto/.

Usage: python scripts/protogen.py [--check] [--out DIR]

--check generates into a temporary folder and exits 1 when any committed file differs
(the staleness test runs this).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
AREAS = ("common", "merchant", "channel", "events", "ops")
DESCRIPTOR = Path("gateway/envoy/paymesh.pb")
RPC_TYPES = ("google/rpc/status.proto", "google/rpc/error_details.proto")


def ours() -> list[str]:
    return sorted(str(p.relative_to(PROTO)) for p in (PROTO / "paymesh").rglob("*.proto"))


def generate(out: Path) -> list[Path]:
    """Write generated files under out (same relative layout as the repo); return them."""
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    files = ours()
    out.mkdir(parents=True, exist_ok=True)
    (out / DESCRIPTOR.parent).mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_grpc_out={out}",
        *files,
    ]
    # The Envoy descriptor set also carries google.rpc types so the transcoder can render
    # ErrorInfo details of errors as JSON (convert_grpc_status).
    descriptor_cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{well_known}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={out / DESCRIPTOR}",
        *files,
        *RPC_TYPES,
    ]
    env_path = str(Path(sys.executable).parent)
    subprocess.run(cmd, check=True, env={"PATH": env_path})  # noqa: S603
    subprocess.run(descriptor_cmd, check=True, env={"PATH": env_path})  # noqa: S603
    produced = [p for p in out.rglob("*") if p.is_file()]
    # Package markers for the generated namespaces.
    for area in AREAS:
        for pkg in (out / "paymesh" / area, out / "paymesh" / area / "v1"):
            init = pkg / "__init__.py"
            if pkg.is_dir() and not init.exists():
                init.write_text("")
                produced.append(init)
    return produced


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        produced = generate(tmp_path)
        stale = []
        for f in produced:
            rel = f.relative_to(tmp_path)
            dest = ROOT / rel
            if args.check:
                if not dest.exists() or not filecmp.cmp(f, dest, shallow=False):
                    stale.append(str(rel))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dest)
        if args.check:
            # Generated files whose proto was removed are stale too.
            expected = {str(f.relative_to(tmp_path)) for f in produced}
            for area in AREAS:
                for f in (ROOT / "paymesh" / area).rglob("*"):
                    rel = str(f.relative_to(ROOT))
                    if f.is_file() and "__pycache__" not in rel and rel not in expected:
                        stale.append(rel)
            if stale:
                print("generated code is stale; run `make proto`:\n  " + "\n  ".join(stale))
                return 1
            print(f"generated code up to date ({len(produced)} files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
