"""The k8s manifests boot: rendered by kustomize, valid against the Kubernetes schemas, and
every Deployment gets what the code it runs asks for."""

from __future__ import annotations

import copy
import json
import shutil
from collections import defaultdict
from pathlib import Path

import kubernetes_validate
import pytest

from paymesh import __version__
from paymesh.catalog import CHANNEL_NAMES
from paymesh.config.crypto import MASTER_KEY_ENV
from paymesh.deploy import certs, k8s
from paymesh.gateway.envoy.config import descriptor_path
from paymesh.order_monitor.service import INTERVAL_ENV, PENDING_AFTER_ENV
from paymesh.runtime.registry import SPECS, resolve
from paymesh.runtime.settings import ENV_PREFIX, Settings, load_settings, require
from paymesh.testing.processes import envoy_validate
from tests.deploy.conftest import K8S, Obj, by_kind, kustomize

K8S_VERSION = "1.32.0"
KNOWN_ENV = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {
    MASTER_KEY_ENV,
    PENDING_AFTER_ENV,
    INTERVAL_ENV,
}


def _pods(rendered: list[Obj]) -> dict[str, Obj]:
    return {n: d["spec"]["template"] for n, d in by_kind(rendered, "Deployment").items()}


def test_committed_manifests_are_what_the_registry_generates() -> None:
    assert k8s.main(["--dir", str(K8S), "--check"]) == 0, "run `make k8s`"


def test_every_object_is_valid_for_kubernetes(rendered: list[Obj]) -> None:
    kinds = {o["kind"] for o in rendered}
    assert {"Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"} <= kinds
    assert "HorizontalPodAutoscaler" in kinds
    for obj in rendered:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    # The validator is live: a misspelt field and a wrongly typed one are refused.
    deployment = copy.deepcopy(next(o for o in rendered if o["kind"] == "Deployment"))
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment = copy.deepcopy(next(o for o in rendered if o["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_every_container_is_probed_limited_non_root_read_only(rendered: list[Obj]) -> None:
    pods = _pods(rendered)
    assert pods
    for name, pod in pods.items():
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for c in spec["containers"]:
            where = f"{name}/{c['name']}"
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in c, where
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), where
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), where
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, where
            assert sc["runAsUser"] > 0, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert c["image"].startswith("ghcr.io/paymesh/paymesh:"), where


def test_image_tag_is_the_project_version(rendered: list[Obj]) -> None:
    images = {c["image"] for p in _pods(rendered).values() for c in p["spec"]["containers"]}
    assert images == {f"ghcr.io/paymesh/paymesh:{__version__}"}


def test_every_serve_names_a_registered_service_and_every_service_runs(
    rendered: list[Obj],
) -> None:
    served = set()
    for name, pod in _pods(rendered).items():
        (c,) = pod["spec"]["containers"]
        if name == "edge":
            assert c["command"] == ["envoy"]
            continue
        if name == "console":
            assert c["args"] == ["console", "serve"]
            continue
        assert c["args"][0] == "serve"
        names = c["args"][1 : c["args"].index("--listen")]
        assert [s.name for s in resolve(names)] == ["info", *names]  # SystemExit if unknown
        served.update(names)
    assert served == set(SPECS) - {"info"}


def _env(pod: Obj, configmaps: dict[str, Obj]) -> dict[str, str]:
    """The environment a container starts with (Secret values stand in as placeholders)."""
    (c,) = pod["spec"]["containers"]
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]]["data"])
    for item in c.get("env", []):
        env[item["name"]] = item.get("value", "from-secret")
    return env


def test_env_names_are_settings_the_code_reads(rendered: list[Obj]) -> None:
    configmaps = by_kind(rendered, "ConfigMap")
    for name, pod in _pods(rendered).items():
        unknown = set(_env(pod, configmaps)) - KNOWN_ENV
        assert not unknown, (name, unknown)


def test_each_service_gets_every_setting_it_needs(rendered: list[Obj]) -> None:
    configmaps = by_kind(rendered, "ConfigMap")
    for name, pod in _pods(rendered).items():
        if name == "edge":
            continue
        env = _env(pod, configmaps)
        # The same check `paymesh serve` runs at startup (it exits naming what is missing).
        settings = load_settings(env={k: v for k, v in env.items() if k != MASTER_KEY_ENV})
        if name == "console":  # what paymesh.console.runtime.open_backends requires
            require(settings, {"console": ("database_url", "config_backend")})
            assert settings.notify_admin_target, "the console re-sends through notify"
            assert settings.recon_target, "the reconciliation pages call recon"
            assert settings.console_listen.startswith("0.0.0.0:")
            assert MASTER_KEY_ENV in env
            continue
        require(settings, {s.name: s.needs for s in resolve([name])})
        if "config_backend" in SPECS[name].needs:
            assert MASTER_KEY_ENV in env, name
    assert configmaps["paymesh-settings"]["data"]["PAYMESH_CALLBACK_BASE_URL"].startswith(
        "https://"
    )


def test_secrets_are_per_service_and_least_privilege(rendered: list[Obj]) -> None:
    refs: dict[str, set[str]] = {}
    for name, pod in _pods(rendered).items():
        for c in pod["spec"]["containers"]:
            assert "secretRef" not in json.dumps(c.get("envFrom", [])), name
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == f"paymesh-{name}", (name, ref)
                    refs.setdefault(name, set()).add(ref["key"])
    assert "edge" not in refs
    assert refs["pay"] == {"PAYMESH_DATABASE_URL", MASTER_KEY_ENV}
    assert refs["notify"] == {"PAYMESH_DATABASE_URL", "PAYMESH_NATS_URL", MASTER_KEY_ENV}
    for channel in k8s.channel_names():
        assert refs[channel] == {MASTER_KEY_ENV}, channel


def test_notify_reads_its_signing_key_from_a_secret_volume(rendered: list[Obj]) -> None:
    pod = _pods(rendered)["notify"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    key_file = Path(env["PAYMESH_NOTIFY_SIGNING_KEY_FILE"])
    (mount,) = [m for m in c["volumeMounts"] if key_file.is_relative_to(m["mountPath"])]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "paymesh-notify-signing-key"
    assert mount["readOnly"] is True


def test_channel_targets_are_the_registry_channels_at_their_services(rendered: list[Obj]) -> None:
    data = by_kind(rendered, "ConfigMap")["paymesh-settings"]["data"]
    targets = load_settings(env=data).channel_targets
    channels = {s.name for s in SPECS.values() if s.entry == k8s.CHANNEL_ENTRY}
    assert set(targets) == channels
    assert channels == CHANNEL_NAMES  # the one list of channels (paymesh.catalog)
    services = by_kind(rendered, "Service")
    for channel, target in targets.items():
        host = target.removeprefix("dns:///").rsplit(":", 1)[0]
        assert host == channel, target
        assert host in services, target
        assert services[host]["spec"]["clusterIP"] == "None"  # per-request balancing


def test_every_deployment_has_a_pdb_and_stateless_ones_an_hpa(rendered: list[Obj]) -> None:
    deployments = by_kind(rendered, "Deployment")
    pdbs = by_kind(rendered, "PodDisruptionBudget")
    hpas = by_kind(rendered, "HorizontalPodAutoscaler")
    for name, d in deployments.items():
        labels = d["spec"]["template"]["metadata"]["labels"]
        pdb = pdbs[name]["spec"]
        assert pdb["selector"]["matchLabels"].items() <= labels.items()
        assert d["spec"]["replicas"] >= 2
    stateless = {"edge"} | {t.name for t in k8s.tiers() if t.stateless}
    assert set(hpas) == stateless
    assert {"notify", "monitor"}.isdisjoint(hpas)
    for name, h in hpas.items():
        assert h["spec"]["scaleTargetRef"]["name"] == name
        (metric,) = h["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"


def test_edge_probes_a_route_its_listener_serves(rendered: list[Obj], tmp_path: Path) -> None:
    envoy = json.loads(by_kind(rendered, "ConfigMap")["paymesh-envoy"]["data"]["envoy.json"])
    (c,) = _pods(rendered)["edge"]["spec"]["containers"]
    (port,) = [p for p in c["ports"] if p["name"] == "http"]
    listener = envoy["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"]["port_value"] == port["containerPort"]
    assert listener["address"]["socket_address"]["address"] == "0.0.0.0"
    assert envoy["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    filters = {f["name"]: f["typed_config"] for f in hcm["http_filters"]}
    health = filters["envoy.filters.http.health_check"]
    paths = {h["string_match"]["exact"] for h in health["headers"] if h["name"] == ":path"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["port"] in (port["name"], port["containerPort"])
        assert c[probe]["httpGet"]["path"] in paths
    assert filters["envoy.filters.http.buffer"]["max_request_bytes"] <= 1 << 20
    assert hcm["use_remote_address"] is True
    assert c["resources"]["limits"]["memory"]
    # Envoy accepts it (with the descriptor at its local path instead of the image's).
    transcoder = filters["envoy.filters.http.grpc_json_transcoder"]
    assert transcoder["proto_descriptor"] == k8s.DESCRIPTOR
    text = json.dumps(envoy).replace(k8s.DESCRIPTOR, str(descriptor_path()))
    # ... and the edge's mesh certificate from `paymesh certs init` instead of its Secret.
    certs.init(tmp_path, ["edge"], "paymesh")
    text = text.replace(k8s.TLS_DIR, str(tmp_path / "edge"))
    ok, out = envoy_validate(text)
    assert ok, out


def test_edge_upstreams_are_the_gateway_services(rendered: list[Obj]) -> None:
    envoy = json.loads(by_kind(rendered, "ConfigMap")["paymesh-envoy"]["data"]["envoy.json"])
    services = by_kind(rendered, "Service")
    for cluster in envoy["static_resources"]["clusters"]:
        if cluster["name"] == "envoy_admin":  # the stats listener's way to the local admin
            continue
        (ep,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        host = ep["endpoint"]["address"]["socket_address"]["address"]
        assert host in services, cluster["name"]
        assert services[host]["spec"]["clusterIP"] == "None"


def test_kustomize_overlay_can_change_the_image(tmp_path: Path) -> None:
    # The runbook's way to point at your registry: an overlay on k8s/ (`bases:` so that
    # Debian's kubectl 1.20, kustomize v2, reads it too; newer ones accept it).
    shutil.copytree(K8S, tmp_path / "base")
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "kustomization.yaml").write_text(
        "bases: [../base]\nimages:\n  - name: ghcr.io/paymesh/paymesh\n"
        "    newName: registry.example/paymesh\n    newTag: abc\n"
    )
    objects = kustomize(tmp_path / "prod")
    pods = _pods(objects)
    assert {c["image"] for p in pods.values() for c in p["spec"]["containers"]} == {
        "registry.example/paymesh:abc"
    }


def _runbook_secrets() -> dict[str, set[str]]:
    """Secret name -> keys, as the runbook's `kubectl create secret` commands create them."""
    text = (K8S / "README.md").read_text()
    section = text[text.index("## 2. Secrets") : text.index("## 3. Apply")]
    block = section.split("```sh", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    created: dict[str, set[str]] = {}
    loop: list[str] | None = None
    for line in block.splitlines():
        line = line.strip()
        if line.startswith("for "):
            words = line.split(";")[0].split()[3:]
            # `for d in certs/*/`: one folder per service from `paymesh certs init`
            loop = certs.default_services() if words == ["certs/*/"] else words
            line = line.split("do", 1)[1].strip() if "do " in line else ""
        if line.startswith("done"):
            loop = None
            continue
        if "create secret generic" not in line:
            continue
        cmd = line.split("create secret generic", 1)[1].split()
        name = cmd[0]
        keys = set()
        for arg in cmd[1:]:
            arg = arg.strip("'\"")
            if arg.startswith(("--from-literal=", "--from-file=")):
                value = arg.split("=", 1)[1].strip("'\"")
                if "=" in value:
                    keys.add(value.split("=", 1)[0])
                elif value == "$d":  # a certs init folder
                    keys |= {"tls.crt", "tls.key", "ca.crt"}
        for item in loop if loop is not None and "$" in name else [None]:
            created[name.replace("$s", item) if item else name] = keys
    return created


def test_the_runbook_creates_every_secret_and_key_the_manifests_use(
    rendered: list[Obj],
) -> None:
    created = _runbook_secrets()
    assert created, "no `kubectl create secret` in the runbook"
    needed: dict[str, set[str]] = defaultdict(set)
    for pod in _pods(rendered).values():
        spec = pod["spec"]
        for c in spec["containers"]:
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    needed[ref["name"]].add(ref["key"])
            env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
            for mount in c["volumeMounts"]:
                (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
                if "secret" in volume:
                    # the files the container is told to read from this mount
                    files = {
                        Path(v).name for v in env.values() if v.startswith(mount["mountPath"] + "/")
                    }
                    if volume["secret"]["secretName"].startswith("paymesh-tls-"):
                        files |= {"tls.crt", "tls.key", "ca.crt"}
                    needed[volume["secret"]["secretName"]] |= files
    for name, keys in needed.items():
        assert name in created, f"the runbook never creates Secret {name}"
        assert keys <= created[name], (name, keys - created[name])


def test_every_grpc_hop_is_mutual_tls(rendered: list[Obj]) -> None:
    configmaps = by_kind(rendered, "ConfigMap")
    for name, pod in _pods(rendered).items():
        (c,) = pod["spec"]["containers"]
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        tls_volume = volumes[mounts[k8s.TLS_DIR]]
        assert tls_volume["secret"]["secretName"] == f"paymesh-tls-{name}"
        if name == "edge":
            continue
        settings = load_settings(env=_env(pod, configmaps))
        for path in (settings.tls_cert_file, settings.tls_key_file, settings.tls_ca_file):
            assert path
            assert Path(path).parent == Path(k8s.TLS_DIR), (name, path)
        if name == "console":
            continue  # an HTTP server (probed over HTTP) and an mTLS client of notify
        # Probes use the plaintext health-only port (kubelet probes speak no TLS).
        assert settings.health_listen
        health_port = int(settings.health_listen.rsplit(":", 1)[1])
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["grpc"]["port"] == health_port, (name, probe)
        assert health_port != k8s.GRPC_PORT
    envoy = json.loads(configmaps["paymesh-envoy"]["data"]["envoy.json"])
    for cluster in envoy["static_resources"]["clusters"]:
        if cluster["name"] == "envoy_admin":  # loopback to its own admin: no network hop
            continue
        sock = cluster["transport_socket"]["typed_config"]
        ctx = sock["common_tls_context"]
        assert ctx["validation_context"]["trusted_ca"]["filename"] == f"{k8s.TLS_DIR}/ca.crt"
        assert ctx["tls_certificates"][0]["certificate_chain"]["filename"].startswith(k8s.TLS_DIR)
        host = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        name = host["address"]["socket_address"]["address"]
        assert sock["sni"] == name
        assert ctx["validation_context"]["match_typed_subject_alt_names"] == [
            {"san_type": "DNS", "matcher": {"exact": name}}
        ]
        # `paymesh certs init` puts that name on the gateway's certificate.
        assert name in certs.service_names(name, "paymesh")
