"""SSRF guard for merchant notify URLs.

A notify_url is the merchant's to choose, so it must not be able to point paymesh at its own
network: the host is resolved and every address must be public (no loopback, private,
link-local, multicast, reserved, unspecified, CGNAT or site-local addresses, IPv4-mapped
IPv6 included) unless the app explicitly allows private URLs (dev only).

`check_url` gives a clear refusal reason before the request; `GuardedResolver` applies the
same rule inside aiohttp when it connects, so a DNS answer that changes between the check and
the connection (rebinding) cannot slip through.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Set around one request by the notifier: does this app allow private addresses?
allow_private_var: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "paymesh_notify_allow_private", default=False
)

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class RefusedURL(Exception):
    """The URL is not allowed as a notification target; ``str(e)`` is the reason."""


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("shared (CGNAT)", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("not global", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address {address}"
    return None


def parse_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RefusedURL(f"notify_url scheme must be http or https, not {parts.scheme!r}")
    if not parts.hostname:
        raise RefusedURL("notify_url has no host")
    if parts.username or parts.password:
        raise RefusedURL("notify_url must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise RefusedURL(f"notify_url has a bad port: {e}") from e
    return parts.hostname, port


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise RefusedURL(f"cannot resolve {host}: {e}") from e
    out: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in out:
            out.append(address)
    if not out:
        raise RefusedURL(f"{host} resolves to no address")
    return out


async def check_url(url: str, *, allow_private: bool) -> list[IPAddress]:
    """The URL's addresses, or RefusedURL with the reason."""
    host, port = parse_target(url)
    addresses = await resolve(host, port)
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise RefusedURL(f"notify_url host {host} resolves to a {reason}")
    return addresses


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that drops non-public answers unless `allow_private_var` is set."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if allow_private_var.get():
            return results
        kept = [r for r in results if refusal(ipaddress.ip_address(r["host"])) is None]
        if not kept:
            raise OSError(f"refused: {host} resolves only to non-public addresses")
        return kept

    async def close(self) -> None:
        await self._inner.close()


__all__ = [
    "GuardedResolver",
    "RefusedURL",
    "allow_private_var",
    "check_url",
    "parse_target",
    "refusal",
    "resolve",
]
