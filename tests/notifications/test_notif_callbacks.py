"""Provider callbacks, signed for real: Twilio inbound SMS and status, SendGrid events."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from arq.worker import Worker
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.request_validator import RequestValidator

from gateway.app import create_app
from gateway.domain.inbound_sms import InboundSMS
from gateway.notifications import keywords
from gateway.notifications.store import is_opted_out
from gateway.notifications.tables import provider_callbacks
from gateway.platform.settings import Settings
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import (
    PHONE,
    add_rule,
    carrier_event,
    drain,
    notification_rows,
    notify_worker,
    quiet_store,
    register,
)
from tests.support import Store

__all__ = ["notify_worker"]  # fixtures
TWILIO_TOKEN = "twilio-test-token"  # the fake Twilio's auth token
OUR_NUMBER = "+15005550006"


@pytest.fixture
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def cb_client(
    aiohttp_client: Any, provider_settings: Settings, sendgrid_key: ec.EllipticCurvePrivateKey
) -> TestClient[Any, Any]:
    public = sendgrid_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = provider_settings.model_copy(
        update={"sendgrid_webhook_public_key": base64.b64encode(public).decode()}
    )
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    return client


async def twilio_post(
    client: TestClient[Any, Any], path: str, params: dict[str, str], *, token: str = TWILIO_TOKEN
) -> Any:
    """POST like Twilio: form body, X-Twilio-Signature over the public URL and the params."""
    signature = RequestValidator(token).compute_signature(f"http://gateway.test{path}", params)
    return await client.post(
        path,
        data=urlencode(params),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


async def inbound(
    client: TestClient[Any, Any], body: str, *, sid: str | None = None, **kwargs: Any
) -> Any:
    """An inbound SMS; each gets its own MessageSid unless `sid` replays one."""
    sid = sid or "SM" + secrets.token_hex(16)
    params = {"From": PHONE, "To": OUR_NUMBER, "Body": body, "MessageSid": sid}
    return await twilio_post(client, "/callbacks/twilio/sms", params, **kwargs)


async def _texted_store(
    client: TestClient[Any, Any], engine: AsyncEngine, worker: Worker, name: str = "Corner Books"
) -> tuple[Store, str]:
    """A store that has sent the recipient one SMS; (store, shipment id)."""
    store = await quiet_store(client, engine, name)
    await add_rule(client, store, ["out_for_delivery"], ["sms", "email"], mode="all")
    shipment_id = await register(client, store)
    await carrier_event(client, store, "out_for_delivery")
    await drain(engine, worker)
    return store, shipment_id


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Stop. ", "STOPALL", "unsubscribe", "cancel", "END", "quit"]
)
async def test_stop_and_its_synonyms_opt_the_number_out(
    cb_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker, word: str
) -> None:
    store, _ = await _texted_store(cb_client, engine, notify_worker)

    response = await inbound(cb_client, word)

    assert response.status == 200 and response.content_type == "text/xml"
    text = await response.text()
    assert "<Response><Message>Corner Books: you are unsubscribed" in text
    async with engine.connect() as conn:
        assert await is_opted_out(conn, store.tenant_id, PHONE)


async def test_start_resubscribes_and_help_answers_with_the_store_text(
    cb_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker
) -> None:
    store, _ = await _texted_store(cb_client, engine, notify_worker)
    await inbound(cb_client, "STOP")

    started = await inbound(cb_client, "start")
    default_help = await inbound(cb_client, "HELP")
    await cb_client.patch(
        "/v1/notification-settings",
        json={"help_text": "Corner Books: call 555-0100 <9-5>"},
        headers=store.headers,
    )
    custom_help = await inbound(cb_client, "info")

    assert "subscribed to delivery updates again" in await started.text()
    async with engine.connect() as conn:
        assert not await is_opted_out(conn, store.tenant_id, PHONE)
    assert "Reply STOP to unsubscribe" in await default_help.text()
    assert "<Message>Corner Books: call 555-0100 &lt;9-5&gt;</Message>" in await custom_help.text()


async def test_stop_applies_to_the_store_that_texted_last(
    cb_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
) -> None:
    first, _ = await _texted_store(cb_client, engine, notify_worker, "First Store")
    second, _ = await _texted_store(cb_client, engine, notify_worker, "Second Store")

    response = await inbound(cb_client, "STOP")

    assert "Second Store" in await response.text()
    async with engine.connect() as conn:
        assert await is_opted_out(conn, second.tenant_id, PHONE)
        assert not await is_opted_out(conn, first.tenant_id, PHONE)


@pytest.mark.parametrize(
    "forgery",
    [
        {"token": "not-the-auth-token"},
        {"headers": {}},
        {"path": "/callbacks/twilio/sms?extra=1"},
    ],
)
async def test_forged_inbound_sms_is_refused_and_changes_nothing(
    cb_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    forgery: dict[str, Any],
) -> None:
    store, _ = await _texted_store(cb_client, engine, notify_worker)
    params = {"From": PHONE, "To": OUR_NUMBER, "Body": "STOP", "MessageSid": "SM" + "2" * 32}
    signature = RequestValidator(forgery.get("token", TWILIO_TOKEN)).compute_signature(
        "http://gateway.test/callbacks/twilio/sms", params
    )
    headers = forgery.get("headers", {"X-Twilio-Signature": signature})

    response = await cb_client.post(
        forgery.get("path", "/callbacks/twilio/sms"), data=params, headers=headers
    )

    assert response.status == 403
    assert (await response.json())["error"]["code"] == "invalid_signature"
    async with engine.connect() as conn:
        assert not await is_opted_out(conn, store.tenant_id, PHONE)


async def test_other_replies_go_to_the_inbound_handlers_with_their_shipment(
    cb_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, shipment_id = await _texted_store(cb_client, engine, notify_worker)
    seen: list[InboundSMS] = []

    async def declines(_conn: Any, sms: InboundSMS) -> str | None:
        seen.append(sms)
        return None

    async def answers(_conn: Any, sms: InboundSMS) -> str | None:
        return "Thanks, we told your driver." if sms.body == "leave it at the door" else None

    monkeypatch.setattr(keywords, "INBOUND_SMS_HANDLERS", (declines, answers))
    answered = await inbound(cb_client, "leave it at the door")
    unclaimed = await inbound(cb_client, "hello?")

    assert "<Message>Thanks, we told your driver.</Message>" in await answered.text()
    assert await unclaimed.text() == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    assert (seen[0].tenant_id, seen[0].shipment_id) == (store.tenant_id, shipment_id)
    assert (seen[0].last_template, seen[0].from_number) == ("out_for_delivery", PHONE)


async def test_twilio_status_reports_update_the_log(
    cb_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
) -> None:
    _, shipment_id = await _texted_store(cb_client, engine, notify_worker)
    [sent] = fake_providers.twilio.requests
    assert sent.status_callback
    path = sent.status_callback.removeprefix("http://gateway.test")

    for status in ("delivered", "sent"):  # reports may arrive out of order
        report = {"MessageSid": sent.sid, "MessageStatus": status, "To": PHONE}
        assert (await twilio_post(cb_client, path, report)).status == 204
    forged = await twilio_post(
        cb_client, path, {"MessageSid": sent.sid, "MessageStatus": "failed"}, token="nope"
    )

    assert forged.status == 403
    sms = next(r for r in await notification_rows(engine, shipment_id) if r.channel == "sms")
    assert (sms.status, sms.provider_id) == ("delivered", sent.sid)
    assert sms.delivered_at is not None


async def test_undelivered_sms_is_failed_with_its_code(
    cb_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
) -> None:
    store, shipment_id = await _texted_store(cb_client, engine, notify_worker)
    [sent] = fake_providers.twilio.requests
    assert sent.status_callback
    path = sent.status_callback.removeprefix("http://gateway.test")

    report = {"MessageSid": sent.sid, "MessageStatus": "undelivered", "ErrorCode": "21610"}
    assert (await twilio_post(cb_client, path, report)).status == 204

    sms = next(r for r in await notification_rows(engine, shipment_id) if r.channel == "sms")
    assert (sms.status, sms.reason) == ("failed", "twilio_21610")
    async with engine.connect() as conn:
        assert await is_opted_out(conn, store.tenant_id, PHONE)


def _signed_sendgrid(key: ec.EllipticCurvePrivateKey, events: list[dict[str, Any]]) -> Any:
    payload = json.dumps(events)
    timestamp = "1770000000"
    signature = key.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    return payload, headers


async def test_sendgrid_events_are_verified_and_applied(
    cb_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    _, shipment_id = await _texted_store(cb_client, engine, notify_worker)
    [mail] = fake_providers.sendgrid.requests
    events = [
        {"event": "processed", "sg_message_id": f"{mail.message_id}.filter0001", "email": "x"},
        {"event": "delivered", **mail.custom_args, "sg_message_id": f"{mail.message_id}.f2"},
        {"event": "open", **mail.custom_args},
    ]
    payload, headers = _signed_sendgrid(sendgrid_key, events)
    other_key = ec.generate_private_key(ec.SECP256R1())
    forged_payload, forged_headers = _signed_sendgrid(other_key, [{"event": "bounce"}])

    forged = await cb_client.post(
        "/callbacks/sendgrid/events", data=forged_payload, headers=forged_headers
    )
    tampered = await cb_client.post(
        "/callbacks/sendgrid/events", data=payload.replace("delivered", "dropped"), headers=headers
    )
    response = await cb_client.post("/callbacks/sendgrid/events", data=payload, headers=headers)

    assert (forged.status, tampered.status, response.status) == (403, 403, 200)
    assert await response.json() == {"applied": 1}  # processed: already sent; open: ignored
    email = next(r for r in await notification_rows(engine, shipment_id) if r.channel == "email")
    assert (email.status, email.provider_id) == ("delivered", mail.message_id)


async def test_a_bounce_fails_the_email(
    cb_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    _, shipment_id = await _texted_store(cb_client, engine, notify_worker)
    [mail] = fake_providers.sendgrid.requests
    payload, headers = _signed_sendgrid(sendgrid_key, [{"event": "bounce", **mail.custom_args}])

    response = await cb_client.post("/callbacks/sendgrid/events", data=payload, headers=headers)

    assert response.status == 200
    email = next(r for r in await notification_rows(engine, shipment_id) if r.channel == "email")
    assert (email.status, email.reason) == ("failed", "sendgrid_bounce")


async def test_a_replayed_start_does_not_resubscribe(
    cb_client: TestClient[Any, Any], engine: AsyncEngine, notify_worker: Worker
) -> None:
    """STOP, START, STOP; then Twilio (or anyone holding the request) replays the START."""
    store, _ = await _texted_store(cb_client, engine, notify_worker)
    start_sid = "SM" + secrets.token_hex(16)
    await inbound(cb_client, "STOP")
    await inbound(cb_client, "START", sid=start_sid)
    await inbound(cb_client, "STOP")

    replay = await inbound(cb_client, "START", sid=start_sid)

    assert replay.status == 200 and "<Message>" not in await replay.text()  # no second answer
    async with engine.connect() as conn:
        assert await is_opted_out(conn, store.tenant_id, PHONE)


async def test_replayed_reports_and_events_are_recognised_and_change_nothing(
    cb_client: TestClient[Any, Any],
    engine: AsyncEngine,
    notify_worker: Worker,
    fake_providers: FakeProviders,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> None:
    _, shipment_id = await _texted_store(cb_client, engine, notify_worker)
    [sent] = fake_providers.twilio.requests
    [mail] = fake_providers.sendgrid.requests
    assert sent.status_callback
    status_path = sent.status_callback.removeprefix("http://gateway.test")
    report = {"MessageSid": sent.sid, "MessageStatus": "delivered", "To": PHONE}
    event = {"event": "delivered", "sg_event_id": "ev-1", **mail.custom_args}
    payload, headers = _signed_sendgrid(sendgrid_key, [event])

    for _ in range(2):
        assert (await twilio_post(cb_client, status_path, report)).status == 204
        events = await cb_client.post("/callbacks/sendgrid/events", data=payload, headers=headers)
        applied = (await events.json())["applied"]
    rows = await notification_rows(engine, shipment_id)

    assert applied == 0  # the second time
    assert {(r.channel, r.status) for r in rows} == {("sms", "delivered"), ("email", "delivered")}
    async with engine.connect() as conn:
        seen = (await conn.execute(sa.select(provider_callbacks))).all()
    assert sorted(r.provider for r in seen) == ["sendgrid", "twilio_status"]  # once each
