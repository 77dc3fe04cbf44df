"""SSRF guard: address classes, URL checks, and the connect-time resolver."""

from __future__ import annotations

import ipaddress

import pytest

from paymesh.notify.notifier import Notifier, guarded_session
from paymesh.notify.ssrf import RefusedURL, check_url, refusal
from paymesh.notify.store import SqlDeliveryStore
from tests.notify.conftest import Apps, Merchant, Sessions


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "CGNAT"),
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


async def test_check_url() -> None:
    with pytest.raises(RefusedURL, match="loopback"):
        await check_url("http://localhost:8080/n", allow_private=False)
    with pytest.raises(RefusedURL, match="private"):
        await check_url("https://10.0.0.5/n", allow_private=False)
    with pytest.raises(RefusedURL, match="scheme"):
        await check_url("ftp://example.com/n", allow_private=False)
    with pytest.raises(RefusedURL, match="credentials"):
        await check_url("http://u:p@127.0.0.1/n", allow_private=True)
    with pytest.raises(RefusedURL, match="resolve"):
        await check_url("http://no-such-host.invalid/n", allow_private=False)
    assert await check_url("http://127.0.0.1:9/n", allow_private=True) == [
        ipaddress.ip_address("127.0.0.1")
    ]
    assert await check_url("http://93.184.216.34/n", allow_private=False) == [
        ipaddress.ip_address("93.184.216.34")
    ]


async def test_resolver_refuses_at_connect_time(
    sqlite_sessions: Sessions, merchant: Merchant
) -> None:
    """Even if the pre-check were bypassed, the connection itself cannot reach loopback."""
    from paymesh.notify.memory_bus import MemoryBus

    url = merchant.url.replace("127.0.0.1", "localhost")
    notifier = Notifier(
        MemoryBus(), Apps(), SqlDeliveryStore(sqlite_sessions), http=guarded_session()
    )
    try:
        refused = await notifier.post(url, {"a": 1}, 5, allow_private=False)
        assert not refused.delivered
        assert refused.http_status is None
        assert "refused" in refused.error or "Connect" in refused.error
        allowed = await notifier.post(url, {"a": 1}, 5, allow_private=True)
        assert allowed.delivered
        assert allowed.http_status == 200
    finally:
        await notifier.http.close()
    assert len(merchant.received) == 1
