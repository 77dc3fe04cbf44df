"""One distribution, import name paymesh, the top-level folders mapped into paymesh.*."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "gateway": "gateway",
    "channels": "channels",
    "notify": "notify",
    "callback": "callback",
    "order_monitor": "order-monitor",
    "config": "config",
    "recon": "recon",
}


def test_folders_are_mapped_into_the_package() -> None:
    for name, folder in FOLDERS.items():
        link = ROOT / "paymesh" / name
        assert link.is_symlink(), link
        assert link.resolve() == (ROOT / folder).resolve()
        assert (ROOT / folder / "__init__.py").exists()


def test_wheel_contains_every_package_and_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("paymesh-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "paymesh/cli.py",
        "paymesh/py.typed",
        "paymesh/order_monitor/__init__.py",
        "paymesh/gateway/envoy/paymesh.pb",
        "paymesh/gateway/info.py",
        "paymesh/config/models.py",
        "paymesh/merchant/v1/pay_service_pb2.py",
        "paymesh/merchant/v1/pay_service_pb2.pyi",
        "paymesh/channel/v1/channel_service_pb2_grpc.pyi",
    ):
        assert expected in names, expected
    # Every source module in the mapped folders ships (no package forgotten by discovery).
    for name, folder in FOLDERS.items():
        for py in (ROOT / folder).rglob("*.py"):
            if "__pycache__" in py.parts:
                continue
            rel = py.relative_to(ROOT / folder)
            assert f"paymesh/{name}/{rel.as_posix()}" in names, rel
