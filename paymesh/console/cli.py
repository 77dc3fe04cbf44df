"""`paymesh console …` and `paymesh config …`: the console server, operators, and config
from a shell, through the same validation, compare-and-swap and audit log as the console.

Settings come from `--config` / PAYMESH_* like every service: `database_url` (audit log,
operators) and the config store (`config_backend`, `etcd_*` or `config_file`), plus
PAYMESH_MASTER_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from paymesh.errors import PaymeshError
from paymesh.runtime.settings import Settings, load_settings

PASSWORD_ENV = "PAYMESH_CONSOLE_PASSWORD"  # noqa: S105 (the variable's name)


def _actor(args: argparse.Namespace) -> str:
    return str(args.actor or f"cli:{getpass.getuser()}")


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


def _read_json(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text)


def _write_private(path: str, text: str) -> None:
    """Write `text` to a file only its owner can read (an export holds ciphertexts)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


async def _config(args: argparse.Namespace, settings: Settings) -> int:
    from paymesh.console.runtime import open_backends
    from paymesh.console.service import Ref

    async with open_backends(settings, source="cli") as b:
        svc = b.service
        if args.action == "list":
            base = svc.prefix + "/"
            for e in await b.repo.store.list(base):
                print(f"{e.key.removeprefix(base)}\t{e.revision}")
            return 0
        if args.action == "get":
            view, revision = await svc.view(Ref.parse(svc.prefix, args.key))
            _print({"key": args.key, "revision": revision, "document": view})
            return 0
        if args.action == "set":
            ref = Ref.parse(svc.prefix, args.key)
            doc = _read_json(args.file) if args.file else json.loads(args.document)
            if not isinstance(doc, dict):
                raise SystemExit("the document must be a JSON object")
            revision = await svc.save(
                ref, doc, expected_revision=args.expected_revision, actor=_actor(args)
            )
            _print({"key": ref.short(), "revision": revision})
            return 0
        if args.action == "export":
            data = await svc.export()
            text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
            if args.output and args.output != "-":
                await asyncio.to_thread(_write_private, args.output, text)
            else:
                sys.stdout.write(text)
            return 0
        if args.action == "import":
            data = _read_json(args.file)
            docs = data.get("documents", data) if isinstance(data, dict) else None
            if not isinstance(docs, dict):
                raise SystemExit('expected {"documents": {key: document}} or {key: document}')
            done = await svc.import_documents(docs, actor=_actor(args))
            _print([{"key": k, "revision": r} for k, r in done])
            return 0
        if args.action == "rotate-key":
            rotated = await svc.rotate_key(actor=_actor(args))
            _print({"key_id": b.repo.key_id, "rotated": rotated})
            return 0
        if args.action == "audit":
            for entry in await b.audit.entries(limit=args.limit, key=args.key):
                print(json.dumps(entry.as_json(), ensure_ascii=False, sort_keys=True))
            return 0
    raise SystemExit(f"unknown config action {args.action!r}")


async def _console(args: argparse.Namespace, settings: Settings) -> int:
    from paymesh.console.runtime import open_backends, start_console

    if args.action == "add-user":
        password = os.environ.get(PASSWORD_ENV) or (
            sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
        )
        async with open_backends(settings, source="cli") as b:
            await b.users.add(args.username, password, args.role)
            await b.audit.record(
                actor=_actor(args),
                source="cli",
                action="add_user",
                key=f"users/{args.username}",
                detail=f"role {args.role}",
            )
        print(f"operator {args.username} ({args.role}) saved")
        return 0
    if args.action == "users":
        async with open_backends(settings, source="cli") as b:
            for name, role, disabled in await b.users.list():
                print("\t".join([name, role, *(["disabled"] if disabled else [])]))
        return 0
    host, _, port = (args.listen or settings.console_listen).rpartition(":")
    async with open_backends(settings, source="console", live=True) as b:
        runner, bound = await start_console(b, settings, host or "127.0.0.1", int(port))
        print(f"paymesh console at http://{host}:{bound}/", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
    return 0


def _run(coro_fn: Any, args: argparse.Namespace) -> int:
    from paymesh.runtime import logging as plog

    settings = load_settings(args.config)
    plog.configure(settings.log_level if args.command == "console" else "WARNING")
    try:
        rc: int = asyncio.run(coro_fn(args, settings))
    except PaymeshError as e:
        print(f"error: {e.message}", file=sys.stderr)
        for field, problem in getattr(e, "field_errors", {}).items():
            print(f"  {field or '(document)'}: {problem}", file=sys.stderr)
        return 2
    return rc


def add_parsers(sub: Any) -> None:
    c = sub.add_parser("console", help="the ops console (serve; add-user; users)")
    c.add_argument("--config", help="TOML settings file (also PAYMESH_CONFIG)")
    csub = c.add_subparsers(dest="action")
    c.set_defaults(func=lambda a: _run(_console, a), action="serve", listen=None)
    serve = csub.add_parser("serve", help="serve the console (the default)")
    serve.add_argument("--listen", help="host:port (default: setting console_listen)")
    au = csub.add_parser("add-user", help="create or update an operator")
    au.add_argument("username")
    au.add_argument("--role", choices=["admin", "viewer"], default="viewer")
    au.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"read the password from stdin (or set {PASSWORD_ENV})",
    )
    au.add_argument("--actor", help="who is doing this (audit log); default cli:$USER")
    csub.add_parser("users", help="list operators")

    g = sub.add_parser("config", help="read and write config (validated, CAS, audited)")
    g.add_argument("--config", help="TOML settings file (also PAYMESH_CONFIG)")
    g.add_argument("--actor", help="who is doing this (audit log); default cli:$USER")
    gsub = g.add_subparsers(dest="action", required=True)
    g.set_defaults(func=lambda a: _run(_config, a))
    gsub.add_parser("list", help="keys and revisions")
    get = gsub.add_parser("get", help="one document, secrets masked")
    get.add_argument("key", help="apps/<id>, channels/<channel>/<id> or notify")
    st = gsub.add_parser("set", help="create or replace a document (secrets left out are kept)")
    st.add_argument("key")
    st.add_argument("document", nargs="?", default="{}", help="JSON (or use --file)")
    st.add_argument("--file", help="read the JSON document from a file (- for stdin)")
    st.add_argument(
        "--expected-revision",
        type=int,
        default=None,
        help="compare-and-swap on this revision (0: must not exist)",
    )
    ex = gsub.add_parser("export", help="every document as stored (secrets stay encrypted)")
    ex.add_argument("-o", "--output", help="file (mode 0600); default stdout")
    im = gsub.add_parser("import", help="write documents from an export or {key: document}")
    im.add_argument("file", help="JSON file (- for stdin)")
    gsub.add_parser("rotate-key", help="re-encrypt every secret under PAYMESH_MASTER_KEY")
    au2 = gsub.add_parser("audit", help="export the audit log (JSON lines, newest first)")
    au2.add_argument("--limit", type=int, default=1000)
    au2.add_argument("--key", help="only entries for this key (e.g. apps/demo)")


__all__ = ["add_parsers"]
