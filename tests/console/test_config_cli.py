"""`paymesh config …` and `paymesh console add-user` as an operator runs them, against a real
etcd: the same validation, compare-and-swap and audit log as the console; key rotation."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from paymesh.config.crypto import MASTER_KEY_ENV, PREVIOUS_KEYS_ENV, SecretCipher, key_id_of
from paymesh.testing.ports import free_port, port_open
from paymesh.testing.servers import EtcdServer

SECRET = "cli-secret-6Hq2Lz9W-4fJ8sK1mQ7xR3tB5"
OLD_KEY = base64.b64encode(os.urandom(32)).decode()
NEW_KEY = base64.b64encode(os.urandom(32)).decode()


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(
        self, *args: str, stdin: str = "", key: str = OLD_KEY, previous: str = ""
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, MASTER_KEY_ENV: key, PREVIOUS_KEYS_ENV: previous}
        return subprocess.run(
            [sys.executable, "-m", "paymesh.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, **kw: Any) -> str:
        done = self.run(*args, **kw)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def cli(etcd_server: EtcdServer, etcd_prefix: str, tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYMESH_")}
    env.update(
        PAYMESH_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}",
        PAYMESH_CONFIG_BACKEND="etcd",
        PAYMESH_ETCD_ENDPOINTS=etcd_server.endpoint,
        PAYMESH_CONFIG_PREFIX=etcd_prefix + "config",
    )
    return Cli(env)


APP = {"app_id": "cli-app", "name": "CLI app", "sign_type": "HMAC-SHA256", "secret": SECRET}


def test_set_get_conflict_rotate_export_import_and_audit(cli: Cli, tmp_path: Path) -> None:
    out = json.loads(
        cli.ok(
            "config",
            "--actor",
            "ops-bot",
            "set",
            "apps/cli-app",
            json.dumps(APP),
            "--expected-revision",
            "0",
        )
    )
    first = out["revision"]

    # validation through the model: a bad value changes nothing and names the field
    bad = cli.run("config", "set", "apps/cli-app", json.dumps({**APP, "notify_url": "ftp://x"}))
    assert bad.returncode == 2
    assert "notify_url" in bad.stderr
    assert SECRET not in bad.stderr + bad.stdout

    # get masks the secret; set without the secret keeps it
    got = json.loads(cli.ok("config", "get", "apps/cli-app"))
    assert got["revision"] == first
    assert SECRET not in json.dumps(got)
    keep = {k: v for k, v in APP.items() if k != "secret"} | {"name": "Renamed"}
    second = json.loads(cli.ok("config", "set", "apps/cli-app", json.dumps(keep)))["revision"]

    # compare-and-swap: a writer still at the first revision gets a conflict
    stale = cli.run(
        "config", "set", "apps/cli-app", json.dumps(APP), "--expected-revision", str(first)
    )
    assert stale.returncode == 2
    assert "changed" in stale.stderr
    assert json.loads(cli.ok("config", "get", "apps/cli-app"))["document"]["name"] == "Renamed"

    # export keeps secrets encrypted under the current key id
    exported = json.loads(cli.ok("config", "export"))
    doc = exported["documents"]["apps/cli-app"]
    assert key_id_of(doc["secret"]) == SecretCipher.from_base64(OLD_KEY).key_id
    assert SECRET not in json.dumps(exported)

    # rotation: the new key with the old one as previous re-encrypts everything
    rotated = json.loads(cli.ok("config", "rotate-key", key=NEW_KEY, previous=OLD_KEY))
    assert rotated["rotated"] == [exported["prefix"] + "/apps/cli-app"]
    assert cli.run("config", "get", "apps/cli-app", key=OLD_KEY).returncode == 2
    after = json.loads(cli.ok("config", "get", "apps/cli-app", key=NEW_KEY))
    assert after["document"]["name"] == "Renamed"

    # import the export (encrypted under the old key) into another name: decrypted with the
    # previous key, validated, re-encrypted under the new one
    moved = {"documents": {"apps/copy-app": {**doc, "app_id": "copy-app"}}}
    # a ciphertext is bound to its key: moved under another key it must not decrypt
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    refused = cli.run(
        "config", "import", str(tmp_path / "moved.json"), key=NEW_KEY, previous=OLD_KEY
    )
    assert refused.returncode == 2
    plain = {"documents": {"apps/copy-app": {**APP, "app_id": "copy-app"}}}
    (tmp_path / "plain.json").write_text(json.dumps(plain))
    imported = json.loads(cli.ok("config", "import", str(tmp_path / "plain.json"), key=NEW_KEY))
    assert imported == [{"key": "apps/copy-app", "revision": imported[0]["revision"]}]

    lines = [json.loads(x) for x in cli.ok("config", "audit", key=NEW_KEY).splitlines()]
    actions = [(e["action"], e["key"], e["outcome"]) for e in reversed(lines)]
    assert actions == [
        ("create", "apps/cli-app", "ok"),
        ("update", "apps/cli-app", "invalid"),  # refused attempts are audited too
        ("update", "apps/cli-app", "ok"),
        ("update", "apps/cli-app", "conflict"),
        ("rotate_key", exported["prefix"] + "/apps/cli-app", "ok"),
        ("create", "apps/copy-app", "ok"),
    ]
    assert lines[-1]["actor"] == "ops-bot"
    assert lines[-3]["fields"] == ["name"]
    assert all(e["source"] == "cli" for e in lines)
    assert SECRET not in json.dumps(lines)
    assert second > first


def test_add_user_then_list(cli: Cli) -> None:
    out = cli.ok(
        "console",
        "add-user",
        "carol",
        "--role",
        "admin",
        "--password-stdin",
        stdin="carol-password-99\n",
    )
    assert "carol (admin)" in out
    short = cli.run("console", "add-user", "dave", "--password-stdin", stdin="short\n")
    assert short.returncode == 2
    assert "at least 12" in short.stderr
    assert cli.ok("console", "users").splitlines() == ["carol\tadmin"]


def test_paymesh_console_serves_the_login_form(cli: Cli) -> None:
    port = free_port()
    env = {**cli.env, MASTER_KEY_ENV: OLD_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paymesh.cli", "console", "serve", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "console did not start"
            time.sleep(0.2)
        front = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert 'type="password"' in front.read().decode()
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(f"http://127.0.0.1:{port}/accounts", timeout=10)
        assert info.value.code == 303
        assert info.value.headers["Location"] == "/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
