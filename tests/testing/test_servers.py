"""The real-server harness: each fixture gives a server that really works, and restarts."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable

import nats
import pytest
from etcd3aio import Etcd3Client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from paymesh.testing import servers
from paymesh.testing.servers import (
    BinaryNotFoundError,
    EnvoyFactory,
    EnvoyProcess,
    EtcdServer,
    MariaDBServer,
    NatsServer,
    ServerStartError,
    envoy_binary,
    envoy_validate,
    find_binary,
    free_port,
    port_open,
    temporary_databases,
    wait_ready,
)


def _envoy_config(admin_port: int, listener_port: int) -> str:
    return f"""\
admin:
  address:
    socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}
static_resources:
  listeners:
  - name: main
    address:
      socket_address: {{address: 127.0.0.1, port_value: {listener_port}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "pong"}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"""


def test_free_port_is_unique_and_bindable() -> None:
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20
    assert all(1024 <= p <= 65535 for p in ports)
    assert not any(port_open(p) for p in list(ports)[:3])


async def _etcd_roundtrip(endpoint: str, key: str, value: bytes) -> bytes:
    async with Etcd3Client([endpoint]) as client:
        assert client.kv is not None
        await client.kv.put(key, value)
        response = await client.kv.get(key)
        got: bytes = response.kvs[0].value
        return got


async def test_etcd_put_get(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    assert etcd_server.endpoint == f"127.0.0.1:{etcd_server.port}"
    assert await _etcd_roundtrip(etcd_server.endpoint, etcd_prefix + "k", b"v1") == b"v1"


async def test_nats_jetstream(nats_server: NatsServer) -> None:
    assert nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    stream = f"T{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        ack = await js.publish(f"{stream}.a", b"hello", headers={"Nats-Msg-Id": "e1"})
        dup = await js.publish(f"{stream}.a", b"hello", headers={"Nats-Msg-Id": "e1"})
        assert ack.stream == stream
        assert dup.duplicate
        sub = await js.pull_subscribe(f"{stream}.>", durable="worker")
        msgs = await sub.fetch(1, timeout=5)
        assert [m.data for m in msgs] == [b"hello"]
        await msgs[0].ack()
    finally:
        await nc.close()


async def test_mariadb_sqlalchemy(mariadb_database: str, mariadb_server: MariaDBServer) -> None:
    prefix = f"mysql+aiomysql://root@127.0.0.1:{mariadb_server.port}/t_"
    assert mariadb_database.startswith(prefix)
    engine = create_async_engine(mariadb_database)
    try:
        async with engine.begin() as conn:
            tables = (await conn.execute(text("SHOW TABLES"))).all()
            assert tables == []
            await conn.execute(
                text("CREATE TABLE t (id BIGINT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(64))")
            )
            await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), {"n": "支付 ✓"})
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, name FROM t"))).all()
            assert [tuple(r) for r in rows] == [(1, "支付 ✓")]
            charset = (
                await conn.execute(
                    text(
                        "SELECT default_character_set_name FROM information_schema.schemata"
                        " WHERE schema_name = DATABASE()"
                    )
                )
            ).scalar_one()
            assert charset == "utf8mb4"
    finally:
        await engine.dispose()


def test_temporary_databases_are_dropped(mariadb_server: MariaDBServer) -> None:
    def databases() -> set[str]:
        return {row[0] for row in mariadb_server.execute("SHOW DATABASES")}

    with temporary_databases(mariadb_server) as create:
        names = {create().rsplit("/", 1)[1], create().rsplit("/", 1)[1]}
        assert len(names) == 2
        assert names <= databases()
    assert not names & databases()


def test_mariadb_database_factory_gives_distinct_databases(
    mariadb_database_factory: Callable[[], str], mariadb_database: str
) -> None:
    urls = {mariadb_database_factory(), mariadb_database_factory(), mariadb_database}
    assert len(urls) == 3


def test_envoy_binary_found() -> None:
    assert envoy_binary().endswith("envoy")


def test_envoy_validate() -> None:
    ok, output = envoy_validate(_envoy_config(free_port(), free_port()))
    assert ok, output
    bad = _envoy_config(free_port(), free_port()).replace("direct_response", "no_such_field")
    ok, output = envoy_validate(bad)
    assert not ok
    assert "no_such_field" in output


def test_envoy_started_answers(envoy_factory: EnvoyFactory) -> None:
    from paymesh.testing.ports import http_get

    admin, listener = free_port(), free_port()
    proc = envoy_factory(_envoy_config(admin, listener))
    assert proc.admin_port == admin
    wait_ready(admin, timeout=5)
    assert http_get(f"http://127.0.0.1:{admin}/ready") == (200, b"LIVE\n")
    assert http_get(f"http://127.0.0.1:{listener}/x") == (200, b"pong")
    proc.stop()
    assert not port_open(admin)


async def test_etcd_restart(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    key = etcd_prefix + "kept"
    assert await _etcd_roundtrip(etcd_server.endpoint, key, b"before") == b"before"
    etcd_server.stop()
    assert not port_open(etcd_server.port)
    etcd_server.start()
    async with Etcd3Client([etcd_server.endpoint]) as client:
        assert client.kv is not None
        response = await client.kv.get(key)
        assert response.kvs[0].value == b"before"  # same data dir


async def test_nats_restart_keeps_jetstream_store(nats_server: NatsServer) -> None:
    stream = f"R{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        await js.publish(f"{stream}.a", b"kept")
    finally:
        await nc.close()
    nats_server.stop()
    assert not port_open(nats_server.port)
    nats_server.start()
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        assert info.state.messages == 1
    finally:
        await nc.close()


async def test_mariadb_restart(mariadb_server: MariaDBServer, mariadb_database: str) -> None:
    mariadb_server.execute(f"CREATE TABLE `{mariadb_database.rsplit('/', 1)[1]}`.k (v INT)")
    mariadb_server.stop(kill=True)  # a crash, not a clean shutdown
    assert not mariadb_server.running
    mariadb_server.start()
    engine = create_async_engine(mariadb_database)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT COUNT(*) FROM k"))).scalar_one() == 0
    finally:
        await engine.dispose()


def test_standalone_server_close_removes_its_dir() -> None:
    server = NatsServer()
    with server:
        assert server.running
        assert port_open(server.port)
    assert not server.running
    assert not server.root.exists()


_seen_pids: dict[str, set[int | None]] = {"etcd": set(), "nats": set()}


@pytest.mark.parametrize("attempt", [1, 2])
async def test_servers_are_shared_per_session(
    attempt: int, etcd_server: EtcdServer, nats_server: NatsServer
) -> None:
    _seen_pids["etcd"].add(etcd_server.pid)
    _seen_pids["nats"].add(nats_server.pid)
    assert etcd_server.running
    assert nats_server.running
    if attempt == 2:
        assert len(_seen_pids["etcd"]) == 1
        assert len(_seen_pids["nats"]) == 1
    await asyncio.sleep(0)


def test_missing_binary_fails_with_install_command_never_skips() -> None:
    with pytest.raises(BinaryNotFoundError) as caught:
        find_binary("no-such-server-xyz", packages="no-such-package")
    message = str(caught.value)
    assert message.startswith("no-such-server-xyz not found:")
    assert "make system-deps" in message
    assert "apt-get install no-such-package" in message

    def make() -> NatsServer:
        raise BinaryNotFoundError(message)

    with pytest.raises(pytest.fail.Exception, match="apt-get install no-such-package"):
        servers._start(make)


def test_failed_start_reports_log_tail() -> None:
    admin = free_port()
    proc = EnvoyProcess(_envoy_config(admin, free_port()).replace("direct_response", "bogus"))
    try:
        with pytest.raises(ServerStartError, match="bogus") as caught:
            proc.start(timeout=30)
        assert "tail of" in str(caught.value)
        assert not proc.running
    finally:
        proc.close()


def test_first_start_replaces_a_port_taken_meanwhile() -> None:
    server = NatsServer()
    taken = server.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with server:
            assert server.port != taken
            assert port_open(server.port)
