"""Builders for what services share in one process: the store and its id generator.

Each is created once per process through `ServiceContext.shared` and closed on drain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paymesh.config.factory import read_optional
from paymesh.core.db.migrate import migrate
from paymesh.core.db.store import Store
from paymesh.core.ids import IdGenerator
from paymesh.core.workers import EtcdWorkerLease, LocalWorkerAllocator
from paymesh.runtime.context import ServiceContext


async def id_generator(ctx: ServiceContext) -> IdGenerator:
    async def make() -> IdGenerator:
        s = ctx.settings
        if s.config_backend == "etcd":
            from etcd3aio import Etcd3Client

            client: Any = Etcd3Client(
                list(s.etcd_endpoints),
                ca_cert=read_optional(s.etcd_ca_file),
                cert_key=read_optional(s.etcd_key_file),
                cert_chain=read_optional(s.etcd_cert_file),
            )
            await client.connect()
            refresher: Any = None
            if s.etcd_user and s.etcd_password:
                refresher = client.token_refresher(s.etcd_user, s.etcd_password.get_secret_value())
                await refresher.__aenter__()
            lease = EtcdWorkerLease(
                client,
                prefix=s.config_prefix.rsplit("/", 1)[0] or "/paymesh",
                datacenter_id=s.datacenter_id,
                ttl=s.worker_lease_ttl_seconds,
            )
            await lease.acquire()
            generator = IdGenerator(s.datacenter_id, lease)
            lease.high_water_ms = lambda: generator.last_ms
            ctx.add_serving_condition("worker-id lease", lease.is_valid)

            async def close() -> None:
                await lease.release(generator.last_ms)
                if refresher is not None:
                    await refresher.__aexit__(None, None, None)
                await client.close()

            ctx.on_close(close)
            return generator
        directory = Path(s.config_file or ".paymesh/config.json").parent / "workers"
        directory.mkdir(parents=True, exist_ok=True)
        local = LocalWorkerAllocator(directory)
        local.acquire()

        async def release() -> None:
            local.release()

        ctx.on_close(release)
        return IdGenerator(s.datacenter_id, local)

    gen: IdGenerator = await ctx.shared("ids", make)
    return gen


async def store(ctx: ServiceContext) -> Store:
    async def make() -> Store:
        url = ctx.settings.database_url
        assert url is not None  # required by every service that asks for the store
        await migrate(url)
        st = Store.from_url(url, await id_generator(ctx))
        ctx.on_close(st.close)
        return st

    st: Store = await ctx.shared("store", make)
    return st
