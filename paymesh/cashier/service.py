"""`paymesh serve cashier`: the cashier's HTTP server, beside the process's gRPC server.

It has no gRPC service of its own (the process's health service reports it); it listens
on `cashier_listen` for Envoy, which routes `/cashier/` to it, and shares the core's
CoreDeps (store, channel client, config) with whatever else the process serves.
"""

from __future__ import annotations

import ssl

import grpc
from aiohttp import web

from paymesh.cashier.web import Cashier, build_app
from paymesh.core.deps import build_core_deps
from paymesh.runtime.context import ServiceContext
from paymesh.runtime.logging import get_logger
from paymesh.runtime.settings import Settings

log = get_logger("paymesh.cashier")


def server_ssl(settings: Settings) -> ssl.SSLContext | None:
    """TLS with the service's mesh certificate when it has one, and client certificates
    signed by the mesh CA required when the CA is set (the edge presents its own): the
    same mutual TLS as the process's gRPC port."""
    if not (settings.tls_cert_file and settings.tls_key_file):
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    if settings.tls_ca_file:
        context.load_verify_locations(settings.tls_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "127.0.0.1", int(port)


async def register(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    deps = await build_core_deps(ctx)
    cashier = Cashier(
        deps,
        base_url=ctx.settings.callback_base_url or "",
        sandbox_url=(ctx.settings.cashier_sandbox_url or "").rstrip("/"),
    )
    runner = web.AppRunner(build_app(cashier), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    host, port = split_listen(ctx.settings.cashier_listen)
    await web.TCPSite(runner, host, port, ssl_context=server_ssl(ctx.settings)).start()
    ctx.on_close(runner.cleanup)
    log.info("cashier_listening", listen=ctx.settings.cashier_listen)
    return []


__all__ = ["register", "split_listen"]
