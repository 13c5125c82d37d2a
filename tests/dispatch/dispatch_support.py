"""Helpers for the console tests: log in through the form as a browser would, and keep the
session cookie by hand (aiohttp's cookie jar ignores cookies set by an IP address host)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from tests.support import Store


@dataclass
class Console:
    """A logged-in browser: its cookie header, the page's CSRF token, its origin."""

    cookie: str
    csrf: str
    origin: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Cookie": self.cookie, **extra}

    def form_headers(self) -> dict[str, str]:
        return self.headers(Origin=self.origin)


def origin_of(client: TestClient[Any, Any]) -> str:
    return str(client.make_url("/").origin())


def set_cookies(response: ClientResponse) -> dict[str, SimpleCookie]:
    """Each Set-Cookie header, parsed, by cookie name."""
    found = {}
    for header in response.headers.getall("Set-Cookie", []):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match[1]


async def login_form(client: TestClient[Any, Any]) -> tuple[str, str]:
    """GET the login page: (its login token, the login cookie header)."""
    response = await client.get("/dispatch/login")
    assert response.status == 200
    token = hidden(await response.text(), "login_token")
    cookies = set_cookies(response)
    name = next(n for n in cookies if "lm_dispatch_login" in n)
    return token, f"{name}={cookies[name][name].value}"


async def post_login(
    client: TestClient[Any, Any], api_key: str, *, timezone: str = "America/Chicago"
) -> ClientResponse:
    token, cookie = await login_form(client)
    return await client.post(
        "/dispatch/login",
        data={"api_key": api_key, "login_token": token, "timezone": timezone},
        headers={"Cookie": cookie, "Origin": origin_of(client)},
        allow_redirects=False,
    )


async def log_in(client: TestClient[Any, Any], store: Store, **kwargs: Any) -> Console:
    response = await post_login(client, store.api_key, **kwargs)
    assert response.status == 303, await response.text()
    cookies = set_cookies(response)
    name = next(n for n in cookies if n.endswith("lm_dispatch"))
    cookie = f"{name}={cookies[name][name].value}"
    page = await client.get("/dispatch", headers={"Cookie": cookie})
    assert page.status == 200
    return Console(cookie, hidden(await page.text(), "csrf"), origin_of(client))
