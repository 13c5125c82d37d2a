"""The dispatcher console's routes: log in (API key → session cookie), log out, the console page,
its board as JSON, its live stream and its static files.

A page without a session redirects to the login form; the board and the stream answer 401.
Refused forms (CSRF token or origin) get a 403 page that changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from aiohttp import web
from redis.exceptions import RedisError

from gateway.dispatch import assets, pages, sessions, stream
from gateway.dispatch.auth import (
    SESSION_TOKEN,
    Forbidden,
    check_csrf,
    check_login_token,
    check_origin,
    clear_session_cookie,
    current_session,
    new_login_token,
    set_login_cookie,
    set_session_cookie,
)
from gateway.dispatch.board import BoardRequest, build_board
from gateway.dispatch.rules import day_of, valid_timezone
from gateway.dispatch.sessions import Session
from gateway.dispatch.trail import driver_trail
from gateway.dispatch.view import View, initials
from gateway.platform.appkeys import CLOCK, DB, REDIS, SETTINGS
from gateway.platform.http.errors import ApiError
from gateway.tenants import store as tenants

log = logging.getLogger(__name__)

CONSOLE: Final = "/dispatch"
LOGIN: Final = "/dispatch/login"
MAX_KEY_CHARS: Final = 200


def _page(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    found = request.app[assets.ASSETS]
    urls = {
        "css_url": found.url("dispatch.css"),
        "js_url": found.url("dispatch.js"),
        "map_js_url": found.url("dispatch-map.js"),
        "leaflet_css_url": found.url("leaflet/leaflet.css"),
        "leaflet_js_url": found.url("leaflet/leaflet.js"),
    }
    return pages.html_response(request.app[SETTINGS], template, status=status, **urls, **context)


def _refused(request: web.Request) -> web.Response:
    return _page(request, "refused.html.j2", status=403, login=LOGIN)


def _login_form(
    request: web.Request, *, status: int = 200, problem: str | None = None
) -> web.Response:
    token = new_login_token()
    response = _page(request, "login.html.j2", status=status, problem=problem, token=token)
    set_login_cookie(request, response, token)
    return response


async def login_page(request: web.Request) -> web.Response:
    if await current_session(request) is not None:
        raise web.HTTPSeeOther(CONSOLE)
    return _login_form(request)


async def login(request: web.Request) -> web.Response:
    """Exchange the store's API key for a new session (a login never reuses a session)."""
    form = await request.post()
    try:
        check_origin(request)
        check_login_token(request, form.get("login_token"))
    except Forbidden:
        return _refused(request)
    api_key = form.get("api_key")
    tenant_id = None
    if isinstance(api_key, str) and 0 < len(api_key.strip()) <= MAX_KEY_CHARS:
        async with request.app[DB].connect() as conn:
            tenant_id = await tenants.authenticate(conn, api_key.strip())
    if tenant_id is None:
        problem = "That API key was not recognised. Check it and try again."
        return _login_form(request, status=401, problem=problem)
    zone = form.get("timezone")
    timezone = valid_timezone(zone if isinstance(zone, str) else "")
    try:
        token, _ = await sessions.create(
            request.app[REDIS], tenant_id, timezone, request.app[CLOCK].now()
        )
    except (RedisError, OSError):
        problem = "Signing in is not possible right now. Try again in a minute."
        return _login_form(request, status=503, problem=problem)
    log.info("dispatch login tenant=%s", tenant_id)
    response = web.HTTPSeeOther(CONSOLE)
    set_session_cookie(request, response, token)
    raise response


async def logout(request: web.Request) -> web.Response:
    form = await request.post()
    session = await current_session(request)
    if session is None:
        raise web.HTTPSeeOther(LOGIN)
    try:
        check_origin(request)
        check_csrf(session, form.get("csrf"))
    except Forbidden:
        return _refused(request)
    try:
        await sessions.end(request.app[REDIS], request[SESSION_TOKEN])
    except (RedisError, OSError):
        return _page(request, "refused.html.j2", status=503, login=LOGIN)
    response = web.HTTPSeeOther(LOGIN)
    clear_session_cookie(request, response)
    raise response


def _asked(request: web.Request, session: Session) -> BoardRequest:
    day = request.query.get("day") or None
    return BoardRequest(session.tenant_id, session.timezone, day, request.app[CLOCK].now())


async def console(request: web.Request) -> web.Response:
    session = await current_session(request)
    if session is None:
        raise web.HTTPSeeOther(LOGIN)
    board = await build_board(request.app[DB], request.app[REDIS], _asked(request, session))
    tile_url, attribution = pages.tiles(request.app[SETTINGS])
    return _page(
        request,
        "console.html.j2",
        board=board,
        board_json=board.to_json(),
        csrf=session.csrf,
        tiles=tile_url,
        attribution=attribution,
        v=View(board),
        initials=initials,
    )


async def _api_session(request: web.Request) -> Session:
    session = await current_session(request)
    if session is None:
        raise ApiError(401, "unauthorized", "log in at /dispatch/login")
    return session


async def board_json(request: web.Request) -> web.Response:
    session = await _api_session(request)
    board = await build_board(request.app[DB], request.app[REDIS], _asked(request, session))
    return web.json_response(board.to_json(), headers=pages.headers(request.app[SETTINGS]))


async def trail(request: web.Request) -> web.Response:
    """Where one of the store's drivers has been on the day asked for (another store's: 404)."""
    session = await _api_session(request)
    asked = _asked(request, session)
    day = day_of(asked.now, asked.timezone, asked.day)
    driver_id = request.match_info["id"]
    points = await driver_trail(request.app[DB], session.tenant_id, driver_id, day, asked.now)
    if points is None:
        raise ApiError(404, "not_found", "driver not found")
    body = {"driver_id": driver_id, "points": points}
    return web.json_response(body, headers=pages.headers(request.app[SETTINGS]))


async def live(request: web.Request) -> web.StreamResponse:
    session = await _api_session(request)
    return await stream.board_stream(request, request[SESSION_TOKEN], _asked(request, session))


async def prepare(app: web.Application) -> None:
    """Start-up: the console's files in memory and its templates compiled."""
    pages.warm_up()
    await assets.prepare_assets(app)
    app[stream.STREAMS] = stream.OpenStreams()


ROUTES: Final = (
    web.get(CONSOLE, console),
    web.get(LOGIN, login_page),
    web.post(LOGIN, login),
    web.post("/dispatch/logout", logout),
    web.get("/dispatch/board", board_json),
    web.get("/dispatch/live", live),
    web.get("/dispatch/drivers/{id}/trail", trail),
    web.get(assets.PREFIX + "{version}/{name:.+}", assets.static_file),
)
