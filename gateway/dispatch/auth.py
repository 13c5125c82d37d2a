"""Who is at the console: the session cookie, the CSRF token of every form, the Origin check.

The cookie is HttpOnly and SameSite=Strict, Secure (with the `__Host-` prefix, which pins it to
this host and path `/`) unless `LASTMILE_DEV` serves plain http. Every POST must carry the
session's CSRF token and come from this gateway's origin; the login form, which has no session
yet, is tied to a short-lived login cookie instead (no one can log a browser into their store).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web
from redis.exceptions import RedisError

from gateway.dispatch import sessions
from gateway.dispatch.sessions import SESSION_TTL, Session
from gateway.platform.appkeys import REDIS, SETTINGS

SESSION: Final = web.RequestKey("dispatch_session", Session)
SESSION_TOKEN: Final = web.RequestKey("dispatch_session_token", str)
LOGIN_TTL_S: Final = 3600  # a login form left open longer than this must be reloaded


class Forbidden(Exception):
    """A POST without the right CSRF token or from another origin."""


def _secure(request: web.Request) -> bool:
    return not request.app[SETTINGS].dev


def session_cookie_name(request: web.Request) -> str:
    return "__Host-lm_dispatch" if _secure(request) else "lm_dispatch"


def login_cookie_name(request: web.Request) -> str:
    return "__Host-lm_dispatch_login" if _secure(request) else "lm_dispatch_login"


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="Strict",
    )


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    _set_cookie(
        request, response, session_cookie_name(request), token, int(SESSION_TTL.total_seconds())
    )
    response.del_cookie(login_cookie_name(request), path="/")


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    _set_cookie(request, response, session_cookie_name(request), "", 0)


def new_login_token() -> str:
    """The login form's token: set it as the login cookie too; the POST must bring both."""
    return secrets.token_urlsafe(24)


def set_login_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    _set_cookie(request, response, login_cookie_name(request), token, LOGIN_TTL_S)


async def current_session(request: web.Request) -> Session | None:
    """The request's session, or None (no cookie, unknown, expired, or Redis away)."""
    if SESSION in request:
        return request[SESSION]
    token = request.cookies.get(session_cookie_name(request), "")
    if not token:
        return None
    try:
        session = await sessions.load(request.app[REDIS], token)
    except (RedisError, OSError):
        return None
    if session is not None:
        request[SESSION] = session
        request[SESSION_TOKEN] = token
    return session


def check_origin(request: web.Request) -> None:
    """The POST comes from this gateway's pages. Raises Forbidden."""
    given = request.headers.get("Origin") or _origin_of(request.headers.get("Referer", ""))
    allowed = {_origin_of(request.app[SETTINGS].public_url), str(request.url.origin())}
    if not given or given == "null" or given not in allowed:
        raise Forbidden()


def check_csrf(session: Session, given: object) -> None:
    """Raises Forbidden unless `given` is the session's token."""
    if not isinstance(given, str) or not session.csrf_matches(given):
        raise Forbidden()


def check_login_token(request: web.Request, given: object) -> None:
    """Raises Forbidden unless `given` is the login cookie's token."""
    expected = request.cookies.get(login_cookie_name(request), "")
    if not expected or not isinstance(given, str):
        raise Forbidden()
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Forbidden()


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"
