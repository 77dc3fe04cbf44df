"""Two deployments on one NATS: each notify service's bus, built from its settings
(`nats_stream`, `nats_subject_prefix`), keeps its own stream; neither sees the other's
events. With the same names the second would share (and steal from) the first's consumer."""

from __future__ import annotations

import uuid

import nats
import pytest
from pydantic import ValidationError

from paymesh.notify.buses import open_bus
from paymesh.notify.envelope import subject_for
from paymesh.notify.service import bus_options
from paymesh.runtime.settings import Settings
from paymesh.testing.processes import NatsServer


async def test_two_deployments_share_one_nats_through_their_own_streams(
    nats_server: NatsServer,
) -> None:
    tag = uuid.uuid4().hex[:8]
    deployments = {
        name: Settings(
            nats_url=nats_server.url,
            nats_stream=f"PM_{name.upper()}_{tag}",
            nats_subject_prefix=f"{name}{tag}.events",
        )
        for name in ("blue", "green")
    }
    buses = {
        name: open_bus(nats_server.url, **bus_options(nats_server.url, s))
        for name, s in deployments.items()
    }
    try:
        for name, bus in buses.items():
            prefix = deployments[name].nats_subject_prefix
            assert await bus.publish(subject_for("order.paid", prefix), name.encode(), "E1")
        for name, bus in buses.items():
            sub = await bus.subscribe()
            got = await sub.fetch(10, max_wait=1.0)
            assert [m.data for m in got] == [name.encode()]  # its own event only
            for m in got:
                await m.ack()
            await sub.close()
    finally:
        for bus in buses.values():
            await bus.close()
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            streams = {s.config.name for s in await js.streams_info()}
            assert {s.nats_stream for s in deployments.values()} <= streams
            for s in deployments.values():
                await js.delete_stream(s.nats_stream)
        finally:
            await nc.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [("nats_stream", "has.dot"), ("nats_stream", ""), ("nats_subject_prefix", "a.>")],
)
def test_stream_and_prefix_must_be_valid_nats_names(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings(**{field: value})
