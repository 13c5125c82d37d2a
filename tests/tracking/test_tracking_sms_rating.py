"""Rating by SMS reply: the real `/callbacks/twilio/sms`, signed with twilio's RequestValidator,
after a real "delivered" SMS went out through the fake Twilio."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.request_validator import RequestValidator

from gateway.app import create_app
from gateway.domain.inbound_sms import InboundSMS
from gateway.notifications.inbound import INBOUND_SMS_HANDLERS
from gateway.platform.settings import Settings
from gateway.tracking.ratings import sms_rating_reply
from tests.notifications.notif_support import add_rule, drain, notify_worker, quiet_store
from tests.tracking.tracking_support import DELIVERED, ON_THE_WAY, Tracked, track_shipment

__all__ = ["notify_worker"]  # a fixture
PHONE = "+15555550123"  # the recipient's number in tracking_support


@pytest.fixture
async def sms_client(aiohttp_client: Any, provider_settings: Settings) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(provider_settings))
    return client


async def _texted(
    client: TestClient[Any, Any], engine: AsyncEngine, worker: Worker, scans: tuple[str, ...]
) -> Tracked:
    """A shipment whose recipient got an SMS for each of `scans` that a rule covers."""
    store = await quiet_store(client, engine, "Corner Books")
    await add_rule(client, store, ["out_for_delivery", "delivered"], ["sms"], mode="all")
    tracked = await track_shipment(client, engine, scans, store=store)
    await drain(engine, worker)
    return tracked


async def _reply(
    client: TestClient[Any, Any], settings: Settings, body: str, *, forged: bool = False
) -> Any:
    sid = "SM" + secrets.token_hex(16)  # each reply is its own message
    params = {"From": PHONE, "To": "+15005550006", "Body": body, "MessageSid": sid}
    assert settings.twilio_auth_token is not None
    token = "not-the-token" if forged else settings.twilio_auth_token.get_secret_value()
    signature = RequestValidator(token).compute_signature(
        f"{settings.public_url}/callbacks/twilio/sms", params
    )
    return await client.post(
        "/callbacks/twilio/sms",
        data=urlencode(params),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


async def _ratings(client: TestClient[Any, Any], tracked: Tracked) -> list[dict[str, Any]]:
    response = await client.get("/v1/ratings", headers=tracked.store.headers)
    ratings: list[dict[str, Any]] = (await response.json())["ratings"]
    return ratings


async def test_reply_after_delivered_sms_is_a_rating(
    sms_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    provider_settings: Settings,
) -> None:
    tracked = await _texted(sms_client, engine, notify_worker, DELIVERED)

    forged = await _reply(sms_client, provider_settings, "1 awful", forged=True)
    answer = await _reply(sms_client, provider_settings, "5 great driver, thanks!")

    assert forged.status == 403
    assert answer.status == 200
    assert "Thanks for rating your Corner Books delivery 5/5!" in await answer.text()
    ratings = await _ratings(sms_client, tracked)
    assert [(r["score"], r["comment"], r["source"]) for r in ratings] == [
        (5, "great driver, thanks!", "sms")
    ]
    assert ratings[0]["shipment_id"] == tracked.shipment_id


async def test_digits_before_delivery_are_left_to_other_handlers(
    sms_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    provider_settings: Settings,
) -> None:
    tracked = await _texted(sms_client, engine, notify_worker, ON_THE_WAY)

    answer = await _reply(sms_client, provider_settings, "5")

    assert answer.status == 200
    assert "Thanks for rating" not in await answer.text()
    assert await _ratings(sms_client, tracked) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_handler_is_registered_and_ignores_unknown_senders(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    assert sms_rating_reply in INBOUND_SMS_HANDLERS
    stranger = InboundSMS(PHONE, "+15005550006", "5", "SM1", None, None, None)
    async with engine.begin() as conn:
        assert await sms_rating_reply(conn, stranger) is None
