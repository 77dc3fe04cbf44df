"""Operators, their sessions, and the login throttle.

- Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile);
  an unknown user costs the same hash verification as a known one.
- A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256,
  the user, a per-session CSRF token and the expiry.
- Throttle: after `max_failures` failed logins of one username within `window`, further
  attempts are refused without checking the password until the window has passed. Failed
  logins are counted from the audit log, so the throttle holds across console replicas.
  Per client address, `max_address_failures` failures (any usernames) within `window` lock
  that address out too (also counted from the audit log, by its `remote`: it stops one
  client spraying usernames at any replica).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncEngine

from paymesh.console.audit import AuditLog
from paymesh.core.db.console_models import ConsoleSession, ConsoleUser, Role
from paymesh.errors import InvalidArgument

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 12
SESSION_TTL = timedelta(hours=8)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Operator:
    username: str
    role: Role

    @property
    def can_write(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True, slots=True)
class Session:
    operator: Operator
    csrf_token: str
    expires_at: datetime

    def csrf_ok(self, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_token)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Users:
    def __init__(
        self,
        engine: AsyncEngine,
        audit: AuditLog,
        *,
        max_failures: int = 5,
        max_address_failures: int = 20,
        window: timedelta = timedelta(minutes=15),
        session_ttl: timedelta = SESSION_TTL,
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._max_failures = max_failures
        self._max_address_failures = max_address_failures
        self._window = window
        self._ttl = session_ttl
        self._users = cast(sa.Table, ConsoleUser.__table__)
        self._sessions = cast(sa.Table, ConsoleSession.__table__)

    # ---- operators ----

    async def add(self, username: str, password: str, role: Role | str) -> None:
        """Create or update an operator (new password and role)."""
        if not USERNAME.match(username):
            raise InvalidArgument("username must be 1-64 of [A-Za-z0-9_.@-]", field="username")
        if len(password) < MIN_PASSWORD:
            raise InvalidArgument(
                f"password must be at least {MIN_PASSWORD} characters", field="password"
            )
        try:
            role = Role(role)
        except ValueError:
            raise InvalidArgument("role must be admin or viewer", field="role") from None
        now = datetime.now(UTC)
        values = {
            "password_hash": _hasher.hash(password),
            "role": role.value,
            "disabled": False,
            "updated_at": now,
        }
        async with self._engine.begin() as conn:
            done = await conn.execute(
                sa.update(self._users).where(self._users.c.username == username).values(**values)
            )
            if done.rowcount == 0:
                await conn.execute(
                    sa.insert(self._users).values(username=username, created_at=now, **values)
                )

    async def list(self) -> list[tuple[str, str, bool]]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    self._users.c.username, self._users.c.role, self._users.c.disabled
                ).order_by(self._users.c.username)
            )
            return [(r.username, r.role, bool(r.disabled)) for r in rows]

    async def throttled(self, username: str, address: str = "") -> bool:
        if address:
            from_there = await self._audit.count_since(
                remote=address, action="login_failed", window=self._window
            )
            if from_there >= self._max_address_failures:
                return True
        failures = await self._audit.count_since(
            actor=username[:64], action="login_failed", window=self._window
        )
        return failures >= self._max_failures

    async def authenticate(self, username: str, password: str) -> Operator | None:
        """The operator when the password matches (and the user is enabled), else None."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(self._users).where(self._users.c.username == username[:64])
                )
            ).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        ok: bool
        try:
            ok = _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None or row.disabled:
            return None
        return Operator(row.username, Role(row.role))

    # ---- sessions ----

    async def open_session(self, operator: Operator) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        session = Session(operator, secrets.token_urlsafe(32), now + self._ttl)
        async with self._engine.begin() as conn:
            await conn.execute(sa.delete(self._sessions).where(self._sessions.c.expires_at < now))
            await conn.execute(
                sa.insert(self._sessions).values(
                    token_hash=_token_hash(token),
                    username=operator.username,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
        return token, session

    async def session(self, token: str) -> Session | None:
        """The live session of a cookie token (expired, unknown or disabled user: None)."""
        if not token or len(token) > 128:
            return None
        s, u = self._sessions, self._users
        q = (
            sa.select(s.c.csrf_token, s.c.expires_at, u.c.username, u.c.role, u.c.disabled)
            .join(u, u.c.username == s.c.username)
            .where(s.c.token_hash == _token_hash(token))
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(q)).first()
        if row is None or row.disabled or row.expires_at <= datetime.now(UTC):
            return None
        return Session(Operator(row.username, Role(row.role)), row.csrf_token, row.expires_at)

    async def close_session(self, token: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.delete(self._sessions).where(self._sessions.c.token_hash == _token_hash(token))
            )


__all__ = ["MIN_PASSWORD", "Operator", "Session", "Users"]
