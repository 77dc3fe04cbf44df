"""Open a ConfigStore from one setting string.

- `etcd://host:port[,host:port...]` (or bare `host:port[,...]`): EtcdConfigStore
- `file:///abs/path.json` or `file:rel/path.json`: FileConfigStore (`paymesh dev`)
"""

from __future__ import annotations

from paymesh.config.store import ConfigStore
from paymesh.errors import ConfigInvalid


def open_store(target: str) -> ConfigStore:
    """A ConfigStore for `target` (see module doc). Nothing connects until first use."""
    target = target.strip()
    if target.startswith("file:"):
        from paymesh.config.file_store import FileConfigStore

        path = target.removeprefix("file:")
        if path.startswith("//"):
            path = path[2:]
        if not path:
            raise ConfigInvalid("config store file path is empty")
        return FileConfigStore(path)
    if target.startswith(("etcd://", "http://")) or (target and "://" not in target):
        from paymesh.config.etcd_store import EtcdConfigStore

        rest = target.split("://", 1)[-1]
        endpoints = [e.strip().rstrip("/") for e in rest.split(",") if e.strip()]
        if not endpoints:
            raise ConfigInvalid("no etcd endpoints given")
        return EtcdConfigStore(endpoints)
    raise ConfigInvalid(f"unsupported config store {target!r}: use etcd://host:port or file:PATH")


__all__ = ["open_store"]
