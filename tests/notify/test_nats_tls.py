"""notify's NATS connection over TLS (client certificate verified) with user/password: the
settings nats_ca_file / nats_cert_file / nats_key_file and credentials in nats_url."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from paymesh.deploy import certs
from paymesh.notify.jetstream import JetStreamBus
from paymesh.runtime import tls
from paymesh.runtime.settings import MissingSettings, Settings
from paymesh.testing.processes import NatsServer

USER, PASSWORD = "notify", "s3cret-pass"


class SecureNats(NatsServer):
    def __init__(self, certs_dir: Path) -> None:
        super().__init__()
        self.certs_dir = certs_dir

    def command(self) -> list[str]:
        server = self.certs_dir / "nats"
        return [
            *super().command(),
            "--tlsverify",
            "--tlscert",
            str(server / "tls.crt"),
            "--tlskey",
            str(server / "tls.key"),
            "--tlscacert",
            str(server / "ca.crt"),
            "--user",
            USER,
            "--pass",
            PASSWORD,
        ]


@pytest.fixture(scope="module")
def mesh_certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nats-certs")
    certs.init(root / "mesh", ["nats", "notify"], "paymesh")
    certs.init(root / "other", ["notify"], "paymesh")
    return root


@pytest.fixture(scope="module")
def secure_nats(mesh_certs: Path) -> Iterator[SecureNats]:
    server = SecureNats(mesh_certs / "mesh")
    server.start()
    try:
        yield server
    finally:
        server.close()


def _settings(folder: Path, ca: Path) -> Settings:
    return Settings(
        nats_ca_file=str(ca / "ca.crt"),
        nats_cert_file=str(folder / "tls.crt"),
        nats_key_file=str(folder / "tls.key"),
    )


def _url(server: SecureNats, password: str = PASSWORD) -> str:
    return f"nats://{USER}:{password}@{server.host}:{server.port}"


async def test_notify_publishes_over_tls_with_credentials(
    secure_nats: SecureNats, mesh_certs: Path
) -> None:
    options = tls.nats_options(_settings(mesh_certs / "mesh" / "notify", mesh_certs / "mesh"))
    bus = JetStreamBus(
        _url(secure_nats), stream=f"T{uuid.uuid4().hex[:8]}", connect_options=options
    )
    try:
        await bus.connect()
        assert await bus.publish(f"{bus.subject_prefix}.x", b"{}", uuid.uuid4().hex) is True
    finally:
        await bus.close()


@pytest.mark.parametrize("case", ["plaintext", "wrong password", "client cert from another CA"])
async def test_without_tls_or_credentials_notify_cannot_connect(
    secure_nats: SecureNats, mesh_certs: Path, case: str
) -> None:
    good = tls.nats_options(_settings(mesh_certs / "mesh" / "notify", mesh_certs / "mesh"))
    url, options = {
        "plaintext": (_url(secure_nats), {}),
        "wrong password": (_url(secure_nats, "nope"), good),
        "client cert from another CA": (
            _url(secure_nats),
            tls.nats_options(_settings(mesh_certs / "other" / "notify", mesh_certs / "mesh")),
        ),
    }[case]
    bus = JetStreamBus(url, stream=f"T{uuid.uuid4().hex[:8]}", connect_options=options)
    try:
        # nats-py either raises or keeps retrying the refused handshake: bounded either way.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.connect(), 5)
        assert bus._nc is None, case
    finally:
        await bus.close()


def test_half_a_client_pair_is_a_startup_error(mesh_certs: Path) -> None:
    with pytest.raises(MissingSettings, match="nats_cert_file"):
        tls.nats_options(Settings(nats_cert_file=str(mesh_certs / "mesh" / "notify" / "tls.crt")))
