"""Console sessions in Redis: a random token in the cookie, its SHA-256 as the key.

Only the hash is stored, so a Redis dump holds no usable cookie. A session ends at logout or
SESSION_TTL after login (Redis expires it); it carries its own CSRF token and the dispatcher's
time zone. Losing Redis logs dispatchers out, nothing more: the database holds no session state.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Final

from redis.asyncio import Redis

from gateway.platform.names import DISPATCH_SESSION_KEY

SESSION_TTL: Final = timedelta(hours=12)  # one dispatcher's shift, with room to spare
TOKEN_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class Session:
    tenant_id: str
    csrf: str  # the forms' token: compared on every POST
    timezone: str  # IANA name, validated at login
    created_at: datetime

    def csrf_matches(self, given: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), given.encode())


def _key(token: str) -> str:
    return DISPATCH_SESSION_KEY + hashlib.sha256(token.encode()).hexdigest()


async def create(redis: Redis, tenant_id: str, timezone: str, now: datetime) -> tuple[str, Session]:
    """A new session (always a new token: a login never reuses one). Returns (token, session)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session = Session(tenant_id, secrets.token_urlsafe(TOKEN_BYTES), timezone, now)
    payload = {**asdict(session), "created_at": now.isoformat()}
    await redis.set(_key(token), json.dumps(payload), ex=int(SESSION_TTL.total_seconds()))
    return token, session


async def load(redis: Redis, token: str) -> Session | None:
    """The session behind a cookie's token, or None when unknown, expired or logged out."""
    if not token or len(token) > 100:
        return None
    raw = await redis.get(_key(token))
    if raw is None:
        return None
    data = json.loads(raw)
    return Session(
        data["tenant_id"],
        data["csrf"],
        data["timezone"],
        datetime.fromisoformat(data["created_at"]),
    )


async def end(redis: Redis, token: str) -> None:
    if token and len(token) <= 100:
        await redis.delete(_key(token))
