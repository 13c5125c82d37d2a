"""The fakes refuse what the real APIs refuse (paths the SDKs never take on their own)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest

from tests.fakes.fake_google import GOOGLE_TOKEN_AUDIENCE, JWT_BEARER, generate_service_account_key
from tests.fakes.fake_providers import FakeProviders


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _post(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with http.post(url, **kwargs) as response:
        return response.status, await response.json()


def _twilio_auth(fakes: FakeProviders, token: str | None = None) -> dict[str, str]:
    secret = token or fakes.twilio.auth_token
    return {"Authorization": aiohttp.encode_basic_auth(fakes.twilio.account_sid, secret)}


async def test_twilio_refuses_bad_auth_and_incomplete_forms(
    fake_providers: FakeProviders, http: aiohttp.ClientSession
) -> None:
    fakes = fake_providers
    url = f"{fakes.twilio_url}/2010-04-01/Accounts/{fakes.twilio.account_sid}/Messages.json"
    form = {"To": "+15550100001", "From": "+15005550006", "Body": "hi"}

    assert await _post(http, url, data=form) == (401, _twilio_error(401, 20003, "Authenticate"))
    status, body = await _post(http, url, data=form, headers=_twilio_auth(fakes, "wrong"))
    assert (status, body["code"]) == (401, 20003)
    for missing, code in [("To", 21604), ("From", 21603), ("Body", 21602)]:
        partial = {k: v for k, v in form.items() if k != missing}
        status, body = await _post(http, url, data=partial, headers=_twilio_auth(fakes))
        assert (status, body["code"]) == (400, code)
    long = form | {"Body": "x" * 1601}
    status, body = await _post(http, url, data=long, headers=_twilio_auth(fakes))
    assert (status, body["code"]) == (400, 21617)
    assert fakes.twilio.requests == []


def _twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


def _mail(content: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": "jane@example.com"}]}],
        "from": {"email": "shop@example.com"},
        "subject": "Hi",
        "content": content,
    }


async def test_sendgrid_refuses_bad_auth_and_bad_shapes(
    fake_providers: FakeProviders, http: aiohttp.ClientSession
) -> None:
    url = f"{fake_providers.sendgrid_url}/v3/mail/send"
    auth = {"Authorization": f"Bearer {fake_providers.sendgrid.api_key}"}
    good = _mail([{"type": "text/plain", "value": "t"}, {"type": "text/html", "value": "h"}])

    status, body = await _post(http, url, json=good)
    assert status == 401 and body["errors"][0]["message"]
    html_first = _mail([{"type": "text/html", "value": "h"}, {"type": "text/plain", "value": "t"}])
    status, body = await _post(http, url, json=html_first, headers=auth)
    assert (status, body["errors"][0]["field"]) == (400, "content.0.type")
    status, body = await _post(http, url, json=good | {"personalizations": []}, headers=auth)
    assert (status, body["errors"][0]["field"]) == (400, "personalizations")
    status, body = await _post(http, url, json=good | {"from": {}}, headers=auth)
    assert (status, body["errors"][0]["field"]) == (400, "from.email")
    assert fake_providers.sendgrid.requests == []


def _assertion(private_key_pem: str, email: str) -> str:
    now = int(time.time())
    claims = {
        "iss": email,
        "aud": GOOGLE_TOKEN_AUDIENCE,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, private_key_pem, algorithm="RS256")


async def test_google_token_endpoint_checks_the_signature(
    fake_providers: FakeProviders, http: aiohttp.ClientSession
) -> None:
    url = f"{fake_providers.google_url}/token"
    key = fake_providers.google.key
    stranger = generate_service_account_key()

    forged = {
        "grant_type": JWT_BEARER,
        "assertion": _assertion(stranger.private_key_pem, key.client_email),
    }
    assert (await _post(http, url, data=forged))[1]["error"] == "invalid_grant"
    wrong_grant = {"grant_type": "client_credentials", "assertion": "x"}
    assert (await _post(http, url, data=wrong_grant))[1]["error"] == "unsupported_grant_type"
    signed = {
        "grant_type": JWT_BEARER,
        "assertion": _assertion(key.private_key_pem, key.client_email),
    }
    status, body = await _post(http, url, data=signed)
    assert status == 200 and body["access_token"] in fake_providers.google.issued_tokens


async def test_fcm_requires_an_issued_token_and_one_target(
    fake_providers: FakeProviders, http: aiohttp.ClientSession
) -> None:
    google = fake_providers.google
    url = f"{fake_providers.google_url}/v1/projects/{google.key.project_id}/messages:send"
    google.issued_tokens.add("ya29.known")
    message = {"message": {"token": "a:b", "notification": {"title": "t", "body": "b"}}}

    status, body = await _post(http, url, json=message, headers={"Authorization": "Bearer nope"})
    assert (status, body["error"]["status"]) == (401, "UNAUTHENTICATED")
    two = {"message": {"token": "a:b", "fid": "cAbCdEfGhIjKlMnOpQrStU"}}
    status, body = await _post(http, url, json=two, headers={"Authorization": "Bearer ya29.known"})
    assert (status, body["error"]["status"]) == (400, "INVALID_ARGUMENT")
    status, body = await _post(
        http, url, json=message, headers={"Authorization": "Bearer ya29.known"}
    )
    assert status == 200 and body["name"] == google.requests[0].name
