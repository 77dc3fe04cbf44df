"""The one way a process opens its config: settings -> ConfigStore -> ConfigRepository.

`config_backend` picks the store: `etcd` (`etcd_endpoints`) in production, `file`
(`config_file`) for `paymesh dev`. The repository is created once per process through
`ServiceContext.shared` and closed on drain.
"""

from __future__ import annotations

from pathlib import Path

from paymesh.config.crypto import SecretCipher
from paymesh.config.repository import ConfigRepository
from paymesh.config.store import ConfigStore
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.settings import Settings


def read_optional(path: str | None) -> bytes | None:
    """The bytes of a file a setting names (TLS material), or None when it is unset."""
    return Path(path).read_bytes() if path else None


def open_store(s: Settings) -> ConfigStore:
    """The ConfigStore the settings name (etcd with TLS/credentials, or the file store)."""
    if s.config_backend == "etcd":
        from paymesh.config.etcd_store import EtcdConfigStore

        if not s.etcd_endpoints:
            raise SystemExit("config_backend=etcd needs etcd_endpoints (PAYMESH_ETCD_ENDPOINTS)")
        return EtcdConfigStore(
            s.etcd_endpoints,
            ca_cert=read_optional(s.etcd_ca_file),
            cert_key=read_optional(s.etcd_key_file),
            cert_chain=read_optional(s.etcd_cert_file),
            user=s.etcd_user,
            password=s.etcd_password.get_secret_value() if s.etcd_password else None,
        )
    if s.config_backend == "file":
        from paymesh.config.file_store import FileConfigStore

        if not s.config_file:
            raise SystemExit("config_backend=file needs config_file (PAYMESH_CONFIG_FILE)")
        return FileConfigStore(s.config_file)
    raise SystemExit(f"config_backend must be etcd or file, not {s.config_backend!r}")


async def config_repository(ctx: ServiceContext) -> ConfigRepository:
    async def make() -> ConfigRepository:
        store = open_store(ctx.settings)
        repo = ConfigRepository(store, ctx.settings.config_prefix, SecretCipher.from_env())
        await repo.start()

        async def close() -> None:
            await repo.close()
            await store.close()

        ctx.on_close(close)
        return repo

    repo: ConfigRepository = await ctx.shared("config", make)
    return repo


__all__ = ["config_repository", "open_store"]
