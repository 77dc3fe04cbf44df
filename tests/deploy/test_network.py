"""Who can reach whom under the rendered NetworkPolicies, evaluated the way the Kubernetes
NetworkPolicy API defines it (a pod selected by any policy of a direction is isolated in that
direction; traffic passes when some rule of a selecting policy admits the peer and port)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest

from paymesh.deploy import k8s
from paymesh.deploy.network import CASHIER_PORT
from tests.deploy.conftest import Obj, by_kind


@dataclass(frozen=True)
class Peer:
    name: str
    labels: dict[str, str] | None = None  # a pod of this namespace
    ip: str | None = None  # an address outside the cluster


INTERNET = Peer("internet", ip="203.0.113.10")
METADATA = Peer("metadata", ip="169.254.169.254")
DATABASE = Peer("database", ip="10.20.0.5")  # MySQL/etcd/NATS on a private address


def _selects(selector: Obj, labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def _peer_matches(rule_peer: Obj, peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        if peer.ip is None:
            return False
        ip = ipaddress.ip_address(peer.ip)
        block = rule_peer["ipBlock"]
        if ip not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(ip in ipaddress.ip_network(c) for c in block.get("except", []))
    if peer.labels is None:
        return False
    if "namespaceSelector" in rule_peer:
        return _selects(rule_peer.get("podSelector", {}), peer.labels)
    return _selects(rule_peer["podSelector"], peer.labels)


def _port_matches(rule: Obj, port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == protocol and p["port"] == port for p in ports)


def _allowed(
    policies: list[Obj], subject: Peer, other: Peer, port: int, direction: str, protocol: str
) -> bool:
    if subject.labels is None:
        return True  # outside the cluster: not ours to police
    key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if direction in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            if not _port_matches(rule, port, protocol):
                continue
            if peers not in rule or any(_peer_matches(p, other) for p in rule[peers]):
                return True
    return False


def reachable(policies: list[Obj], src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> bool:
    return _allowed(policies, src, dst, port, "Egress", protocol) and _allowed(
        policies, dst, src, port, "Ingress", protocol
    )


@pytest.fixture(scope="module")
def mesh(rendered: list[Obj]) -> tuple[list[Obj], dict[str, Peer]]:
    policies = list(by_kind(rendered, "NetworkPolicy").values())
    pods = {
        name: Peer(name, labels=d["spec"]["template"]["metadata"]["labels"])
        for name, d in by_kind(rendered, "Deployment").items()
    }
    return policies, pods


def _role(name: str) -> str:
    if name in ("edge", "console"):
        return name
    return {t.name: t.role for t in k8s.tiers()}[name]


def test_every_deployment_is_isolated_both_ways(
    mesh: tuple[list[Obj], dict[str, Peer]],
) -> None:
    policies, pods = mesh
    for name, pod in pods.items():
        assert pod.labels is not None
        own = [
            p
            for p in policies
            if p["spec"]["podSelector"].get("matchLabels", {}).get("component") == name
        ]
        assert own, f"{name} has no NetworkPolicy of its own"
        assert set(own[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_who_reaches_each_service(mesh: tuple[list[Obj], dict[str, Peer]]) -> None:
    policies, pods = mesh
    callers_of_channels = {"gateway", "callback", "monitor", "recon", "cashier"}
    for dst_name, dst in pods.items():
        port = k8s.EDGE_PORT if dst_name == "edge" else k8s.GRPC_PORT
        allowed = {s for s, src in pods.items() if reachable(policies, src, dst, port)}
        role = _role(dst_name)
        if role in ("gateway", "callback"):
            assert allowed == {"edge"}, (dst_name, allowed)
        elif role == "notify":
            assert allowed == {"console"}, (dst_name, allowed)  # NotifyAdminService
        elif role == "recon":
            assert allowed == {"console"}, (dst_name, allowed)  # ReconciliationService
        elif role == "channel":
            expected = {s for s in pods if s != "edge" and _role(s) in callers_of_channels}
            assert allowed == expected, (dst_name, allowed)
            assert expected >= {"pay", "callback", "monitor"}
        else:
            assert allowed == set(), (dst_name, allowed)
        assert reachable(policies, INTERNET, dst, port) == (dst_name == "edge"), dst_name
        # the cashier's pages: from the edge only
        pages = {s for s, src in pods.items() if reachable(policies, src, dst, CASHIER_PORT)}
        assert pages == ({"edge"} if role == "cashier" else set()), (dst_name, pages)


def test_who_reaches_the_internet(mesh: tuple[list[Obj], dict[str, Peer]]) -> None:
    policies, pods = mesh
    https = {n for n, p in pods.items() if reachable(policies, p, INTERNET, 443)}
    assert https == {*k8s.channel_names(), "notify"}
    assert {n for n, p in pods.items() if reachable(policies, p, INTERNET, 8443)} == {"notify"}
    assert not any(reachable(policies, p, METADATA, 80) for p in pods.values())


def test_backends_and_dns(mesh: tuple[list[Obj], dict[str, Peer]]) -> None:
    policies, pods = mesh
    mysql = {n for n, p in pods.items() if reachable(policies, p, DATABASE, 3306)}
    users = ("gateway", "callback", "monitor", "recon", "notify", "console", "cashier")
    assert mysql == {n for n in pods if _role(n) in users}
    nats = {n for n, p in pods.items() if reachable(policies, p, DATABASE, 4222)}
    assert nats == {"notify"}
    etcd = {n for n, p in pods.items() if reachable(policies, p, DATABASE, 2379)}
    assert etcd == set(pods) - {"edge"}
    dns = Peer("kube-dns", labels={"k8s-app": "kube-dns"})
    assert all(reachable(policies, p, dns, 53, "UDP") for p in pods.values())
