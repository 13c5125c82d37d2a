"""The console's door: API key for a session cookie, its flags, CSRF and Origin on every form,
logging out, and what a browser without a session gets."""

from __future__ import annotations

from typing import Any

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from gateway.platform.settings import Settings
from tests.dispatch.dispatch_support import (
    hidden,
    log_in,
    login_form,
    origin_of,
    post_login,
    set_cookies,
)
from tests.support import make_store


async def test_the_login_page_is_a_form_with_a_strict_policy(client: TestClient[Any, Any]) -> None:
    response = await client.get("/dispatch/login")
    assert response.status == 200
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    html = await response.text()
    assert 'type="password"' in html and hidden(html, "login_token")
    assert "<script>" not in html and "style=" not in html


async def test_an_unknown_key_gets_the_form_again_and_no_session(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    await make_store(engine)
    response = await post_login(client, "lm_0123456789abcdef_not-a-real-secret")
    assert response.status == 401
    assert "not recognised" in await response.text()
    assert not [n for n in set_cookies(response) if n.endswith("lm_dispatch")]


async def test_a_session_cookie_in_dev_is_httponly_strict_and_not_secure(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    response = await post_login(client, store.api_key)
    assert response.status == 303 and response.headers["Location"] == "/dispatch"
    cookie = set_cookies(response)["lm_dispatch"]["lm_dispatch"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"]  # LASTMILE_DEV serves plain http
    assert store.api_key not in cookie.value and len(cookie.value) >= 40


async def test_outside_dev_the_cookie_is_secure_and_host_only(
    aiohttp_client: Any, settings: Settings, engine: AsyncEngine
) -> None:
    client = await aiohttp_client(
        create_app(settings.model_copy(update={"dev": False})), cookie_jar=DummyCookieJar()
    )
    store = await make_store(engine)
    token, cookie = await login_form(client)
    assert cookie.startswith("__Host-lm_dispatch_login=")
    response = await client.post(
        "/dispatch/login",
        data={"api_key": store.api_key, "login_token": token, "timezone": "UTC"},
        headers={"Cookie": cookie, "Origin": origin_of(client)},
        allow_redirects=False,
    )
    assert response.status == 303
    session = set_cookies(response)["__Host-lm_dispatch"]["__Host-lm_dispatch"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Strict"
    assert session["path"] == "/" and not session["domain"]


async def test_a_login_from_another_site_or_without_its_token_is_refused(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    token, cookie = await login_form(client)
    cases = {
        "other origin": ({"Cookie": cookie, "Origin": "https://evil.example"}, token),
        "no origin": ({"Cookie": cookie}, token),
        "no login cookie": ({"Origin": origin_of(client)}, token),
        "wrong token": ({"Cookie": cookie, "Origin": origin_of(client)}, token[:-2] + "xx"),
    }
    for case, (headers, given) in cases.items():
        response = await client.post(
            "/dispatch/login",
            data={"api_key": store.api_key, "login_token": given},
            headers=headers,
            allow_redirects=False,
        )
        assert response.status == 403, case
        assert not [n for n in set_cookies(response) if n.endswith("lm_dispatch")], case


async def test_without_a_session_pages_redirect_and_data_is_refused(
    client: TestClient[Any, Any],
) -> None:
    page = await client.get("/dispatch", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/dispatch/login"
    forged = {"Cookie": "lm_dispatch=forged-session-token"}
    for path in ("/dispatch/board", "/dispatch/live"):
        response = await client.get(path, headers=forged)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"


async def test_logout_needs_the_csrf_token_and_the_origin(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    console = await log_in(client, store)
    refused = [
        ({"csrf": "not-the-token"}, console.form_headers()),
        ({}, console.form_headers()),
        ({"csrf": console.csrf}, console.headers(Origin="https://evil.example")),
        ({"csrf": console.csrf}, console.headers()),
    ]
    for form, headers in refused:
        response = await client.post(
            "/dispatch/logout", data=form, headers=headers, allow_redirects=False
        )
        assert response.status == 403
        assert (await client.get("/dispatch/board", headers=console.headers())).status == 200
    response = await client.post(
        "/dispatch/logout",
        data={"csrf": console.csrf},
        headers=console.form_headers(),
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/dispatch/login"
    assert set_cookies(response)["lm_dispatch"]["lm_dispatch"]["max-age"] == "0"
    # The old cookie is worthless now, even if a browser kept it.
    assert (await client.get("/dispatch/board", headers=console.headers())).status == 401
    again = await client.get("/dispatch", headers=console.headers(), allow_redirects=False)
    assert again.status == 303


async def test_each_login_is_a_new_session_with_its_own_csrf_token(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    first = await log_in(client, store)
    second = await log_in(client, store)
    assert first.cookie != second.cookie and first.csrf != second.csrf
    response = await client.post(
        "/dispatch/logout",
        data={"csrf": first.csrf},
        headers=second.form_headers(),
        allow_redirects=False,
    )
    assert response.status == 403  # one session's token does not work for another


async def test_a_logged_in_browser_skips_the_login_page(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    console = await log_in(client, await make_store(engine))
    response = await client.get("/dispatch/login", headers=console.headers(), allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/dispatch"
