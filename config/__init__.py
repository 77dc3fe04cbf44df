"""paymesh.config: typed configuration in etcd.

- `store`: the ConfigStore interface (`Entry`, `WatchEvent`, `Snapshot`); implementations
  `etcd_store.EtcdConfigStore` and `file_store.FileConfigStore` (`paymesh dev`);
  `factory.open_store(settings)` picks one, `factory.config_repository(ctx)` is the
  process's shared repository.
- `keys`: the key layout under the prefix (default `/paymesh/config`).
- `models` / `apps`: pydantic models (channel accounts, apps, notify defaults).
- `registry`: channel -> account model, JSON Schemas for the ops console.
- `crypto`: AES-256-GCM for secret fields, master key from `PAYMESH_MASTER_KEY`.
- `repository.ConfigRepository`: what services use: validated, decrypted, cached, live.

Submodules are imported explicitly (this package imports nothing heavy on its own).
"""
