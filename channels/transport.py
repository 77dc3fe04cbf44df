"""The one network module of the channels: provider HTTP calls, exchange records.

Adapters build `HttpRequest`s and parse `HttpResponse`s without I/O; `Transport.send` is the
only place bytes cross the network. Bodies come back exactly as received (provider
signatures cover the exact bytes). Timeouts, connection failures and 5xx raise
`ChannelUnavailable`: the outcome at the provider is unknown, nothing may become terminal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from paymesh.channel.v1 import channel_pb2
from paymesh.errors import ChannelUnavailable
from paymesh.runtime.logging import get_logger, redact_body

log = get_logger("paymesh.channels.transport")

# Bodies kept in exchange records are cut to this many characters.
MAX_LOGGED_BODY = 8192


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One provider request, fully built (signed) by an adapter.

    `redact_keys` names body fields (JSON keys or form parameters) that are personal data
    or secrets for this provider and must not reach the channel log, on top of the keys the
    log redactor always masks.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    redact_keys: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A provider response; `headers` have lowercase names, `body` is the exact bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: int = 0

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def _loggable_url(url: str, redact_keys: frozenset[str]) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = redact_body(parts.query, redact_keys, limit=MAX_LOGGED_BODY)
    return parts._replace(query=query).geturl()


def make_exchange(
    request: HttpRequest,
    response: HttpResponse | None = None,
    *,
    error: str = "",
    latency_ms: int = 0,
) -> channel_pb2.Exchange:
    """An `Exchange` record (redacted) for the gateway's channel log."""
    ex = channel_pb2.Exchange(
        http_method=request.method,
        url=_loggable_url(request.url, request.redact_keys),
        request_body=redact_body(request.body, request.redact_keys, limit=MAX_LOGGED_BODY),
        latency_ms=latency_ms,
        error=error,
    )
    if response is not None:
        ex.http_status = response.status
        ex.response_body = redact_body(response.body, request.redact_keys, limit=MAX_LOGGED_BODY)
        ex.latency_ms = response.elapsed_ms
    return ex


class Transport:
    """Async HTTP client for provider APIs: one keep-alive `ClientSession` per transport.

    `send` appends an `Exchange` to `exchanges` (when given) for every attempt, successful
    or not, before returning or raising.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        connect_timeout_seconds: float = 5.0,
        limit: int = 100,
        limit_per_host: int = 50,
        user_agent: str = "paymesh/0.1",
    ) -> None:
        self._timeout = timeout_seconds
        self._connect_timeout = connect_timeout_seconds
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=self._limit_per_host,
                keepalive_timeout=30,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                headers={"User-Agent": self._user_agent},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(
        self,
        request: HttpRequest,
        *,
        timeout_seconds: float | None = None,
        exchanges: list[channel_pb2.Exchange] | None = None,
    ) -> HttpResponse:
        """Send `request`; 2xx-4xx come back as `HttpResponse`, the rest raise.

        Raises ChannelUnavailable on timeout, connection failure or a 5xx answer.
        """
        total = timeout_seconds if timeout_seconds is not None else self._timeout
        timeout = aiohttp.ClientTimeout(
            total=total, connect=min(self._connect_timeout, total), sock_read=total
        )
        started = time.monotonic()
        session = self._get_session()
        host = urlsplit(request.url).hostname or ""

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        def fail(kind: str, message: str, cause: BaseException | None) -> ChannelUnavailable:
            ms = elapsed()
            if exchanges is not None:
                exchanges.append(make_exchange(request, error=message, latency_ms=ms))
            log.warning(
                "channel_http_failed",
                method=request.method,
                url=_loggable_url(request.url, request.redact_keys),
                kind=kind,
                error=message,
                latency_ms=ms,
            )
            return ChannelUnavailable(message, metadata={"host": host, "failure": kind})

        try:
            async with session.request(
                request.method,
                request.url,
                data=request.body if request.body else None,
                headers=dict(request.headers),
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                headers = {k.lower(): v for k, v in resp.headers.items()}
                status = resp.status
        except TimeoutError as e:
            raise fail("timeout", f"provider timed out after {total:g}s", e) from e
        except aiohttp.ClientError as e:
            raise fail("connection", f"provider connection failed: {type(e).__name__}", e) from e
        except (OSError, asyncio.IncompleteReadError) as e:
            raise fail("connection", f"provider connection failed: {type(e).__name__}", e) from e

        response = HttpResponse(status=status, headers=headers, body=body, elapsed_ms=elapsed())
        if exchanges is not None:
            exchanges.append(make_exchange(request, response))
        log.info(
            "channel_http",
            method=request.method,
            url=_loggable_url(request.url, request.redact_keys),
            status=status,
            latency_ms=response.elapsed_ms,
        )
        if status >= 500:
            raise ChannelUnavailable(
                f"provider answered HTTP {status}",
                metadata={"host": host, "failure": "http_5xx", "http_status": str(status)},
            )
        return response


__all__ = [
    "HttpRequest",
    "HttpResponse",
    "Transport",
    "make_exchange",
]
