"""The `paymesh` command: serve services, run the sandbox, the dev mesh, tools."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from paymesh import __version__
from paymesh.runtime import logging as plog


def _cmd_serve(args: argparse.Namespace) -> int:
    from paymesh.runtime.server import serve_forever
    from paymesh.runtime.settings import load_settings

    settings = load_settings(args.config)
    if args.listen:
        settings.listen = args.listen
    plog.configure(settings.log_level)
    if args.workers > 1:
        from paymesh.runtime.workers import run_workers

        if settings.listen.rpartition(":")[2] in ("", "0"):
            raise SystemExit("--workers needs a fixed listen port (they share it)")
        argv = ["serve", *args.services, "--listen", settings.listen]
        if args.config:
            argv += ["--config", args.config]
        return run_workers(argv, args.workers, settings.drain_seconds)
    asyncio.run(serve_forever(args.services, settings))
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from paymesh.channels.sandbox.app import run_sandbox

    plog.configure("INFO")
    asyncio.run(run_sandbox(args.host, args.port))
    return 0


def _cmd_sandbox_roots(args: argparse.Namespace) -> int:
    import json
    import urllib.request
    from pathlib import Path

    url = args.url.rstrip("/") + "/_sandbox/unionpay/trust-roots"
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (an operator's URL)
        roots = json.load(resp)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "acp_test_root.cer").write_text(roots["root_cert_pem"])
        (out / "acp_test_middle.cer").write_text(roots["middle_cert_pem"])
        print(f"wrote {out / 'acp_test_root.cer'} and {out / 'acp_test_middle.cer'}")
    else:
        print(json.dumps(roots, indent=2))
    return 0


def _cmd_envoy_config(args: argparse.Namespace) -> int:
    from paymesh.gateway.envoy.config import render_text
    from paymesh.gateway.envoy.upstreams import UpstreamTls

    upstreams = dict(u.split("=", 1) if "=" in u else ("*", u) for u in args.upstream)
    tls_files = (args.tls_cert, args.tls_key, args.tls_ca)
    if any(tls_files) and not all(tls_files):
        raise SystemExit("--tls-cert, --tls-key and --tls-ca go together")
    print(
        render_text(
            listen_port=args.port,
            admin_port=args.admin_port,
            upstreams=upstreams,
            listen_address=args.address,
            upstream_tls=UpstreamTls(*tls_files) if all(tls_files) else None,
            stats_port=args.stats_port,
            otlp_collector=args.otlp_collector,
        )
    )
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    from paymesh.dev import run_dev

    plog.configure("INFO")
    asyncio.run(run_dev(args.state_dir, edge_port=args.port))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from paymesh.bench import run_bench

    plog.configure("WARNING")
    asyncio.run(
        run_bench(
            args.seconds,
            args.concurrency,
            args.channel,
            workers=args.workers,
            callbacks=args.callbacks,
            callback_rate=args.callback_rate,
            seed=args.seed_orders,
            json_path=args.json,
        )
    )
    return 0


def _cmd_certs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from paymesh.deploy import certs

    services = args.service or certs.default_services()
    for folder in certs.init(Path(args.dir), services, args.namespace, args.days):
        print(folder)
    return 0


def _cmd_cashier_link(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from paymesh.config.crypto import MasterKeyError
    from paymesh.core.cashier import static_url
    from paymesh.runtime.clock import utcnow
    from paymesh.runtime.settings import load_settings

    base = args.base_url or load_settings(args.config).callback_base_url
    if not base:
        raise SystemExit("--base-url (or callback_base_url, the public edge URL) is required")
    try:
        print(static_url(base, args.app, utcnow() + timedelta(days=args.days)))
    except MasterKeyError as e:  # the links' key comes from PAYMESH_MASTER_KEY
        raise SystemExit(f"paymesh cashier-link: {e}") from e
    return 0


def _cmd_recon(args: argparse.Namespace) -> int:
    plog.configure("WARNING")
    try:
        rc: int = asyncio.run(args.recon(args))
    except Exception as e:  # an unreachable service or a refused request: say so, exit 1
        import grpc

        if isinstance(e, grpc.aio.AioRpcError):
            print(f"recon: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
        raise
    return rc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paymesh", description="aggregated payment gateway")
    p.add_argument("--version", action="version", version=f"paymesh {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve any set of services in one process")
    s.add_argument("services", nargs="+", help="service names, or `all`")
    s.add_argument("--config", help="TOML settings file (also PAYMESH_CONFIG)")
    s.add_argument("--listen", help="gRPC listen address host:port")
    s.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the listen port (SO_REUSEPORT); one per core",
    )
    s.set_defaults(func=_cmd_serve)

    sb = sub.add_parser("sandbox", help="run the provider sandbox")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8090)
    sb.set_defaults(func=_cmd_sandbox)

    r = sub.add_parser(
        "sandbox-roots", help="export a running sandbox's UnionPay trust roots (root, middle)"
    )
    r.add_argument("--url", default="http://127.0.0.1:8090", help="the sandbox's base URL")
    r.add_argument("--out", help="directory for acp_test_root.cer / acp_test_middle.cer")
    r.set_defaults(func=_cmd_sandbox_roots)

    e = sub.add_parser("envoy-config", help="print the Envoy edge config")
    e.add_argument("--port", type=int, default=8080)
    e.add_argument("--admin-port", type=int, default=9901)
    e.add_argument("--address", default="127.0.0.1")
    e.add_argument(
        "--upstream",
        action="append",
        default=[],
        help="cluster=host:port (pay, query, refund, transfer, callback, info) or host:port for all",
    )
    e.add_argument("--tls-cert", help="the edge's certificate: mutual TLS to the gateways")
    e.add_argument("--tls-key", help="its private key")
    e.add_argument("--tls-ca", help="the mesh CA the gateways' certificates are checked against")
    e.add_argument("--stats-port", type=int, help="serve only /stats/prometheus on this port")
    e.add_argument("--otlp-collector", help="host:port of an OTLP/gRPC collector: trace requests")
    e.set_defaults(func=_cmd_envoy_config)

    c = sub.add_parser("certs", help="mutual TLS: a mesh CA and per-service certificates")
    c.add_argument("action", choices=["init"])
    c.add_argument("--dir", default="certs", help="output folder (an existing CA is reused)")
    c.add_argument("--namespace", default="paymesh", help="k8s namespace of the Services")
    c.add_argument("--days", type=int, default=365, help="validity of service certificates")
    c.add_argument(
        "--service", action="append", default=[], help="a service (repeat); default: all + edge"
    )
    c.set_defaults(func=_cmd_certs)

    d = sub.add_parser("dev", help="run the whole mesh on embedded backends")
    d.add_argument("--state-dir", default=".paymesh")
    d.add_argument("--port", type=int, default=8080, help="edge (Envoy) port")
    d.set_defaults(func=_cmd_dev)
    b = sub.add_parser("bench", help="CreateOrder via the edge and gRPC vs a grpc.aio echo")
    b.add_argument("--seconds", type=float, default=10.0)
    b.add_argument("--concurrency", type=int, default=32)
    b.add_argument(
        "--channel",
        choices=("wechat", "unionpay"),
        default="wechat",
        help="provider behind CreateOrder: wechat (qr) or unionpay (app tn)",
    )
    b.add_argument("--workers", type=int, default=1, help="gateway processes (serve --workers)")
    b.add_argument(
        "--callbacks", type=int, default=1000, help="payments in the callback case (0: skip)"
    )
    b.add_argument(
        "--callback-rate",
        type=float,
        default=120.0,
        help="payments/s of the paced callback run, after the burst (0: burst only)",
    )
    b.add_argument(
        "--seed-orders",
        type=int,
        default=1_000_000,
        help="orders pre-seeded before the last CreateOrder case (0: skip)",
    )
    b.add_argument("--json", help="also write the results as JSON to this file")
    b.set_defaults(func=_cmd_bench)

    cl = sub.add_parser(
        "cashier-link",
        help="print an app's static cashier link (a counter QR code: the payer enters the amount)",
    )
    cl.add_argument("--app", required=True, help="the app id")
    cl.add_argument("--days", type=int, default=3650, help="valid for this many days")
    cl.add_argument("--base-url", help="public edge URL (default: callback_base_url)")
    cl.add_argument("--config", help="settings TOML (PAYMESH_CONFIG)")
    cl.set_defaults(func=_cmd_cashier_link)

    from paymesh.console.cli import add_parsers

    add_parsers(sub)

    from paymesh.recon.cli import add_parser as add_recon

    add_recon(sub)
    sub.choices["recon"].set_defaults(func=_cmd_recon)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rc: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
