"""End to end: carrier webhook → shipment_changed → send_notification in a real arq worker → the
real SDKs → the fake Twilio, SendGrid and FCM, which record what arrived."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.sms_length import segment_count
from gateway.domain.privacy import mask_phone
from gateway.notifications.store import is_opted_out
from gateway.shipments.store import recipient_of
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import (
    EMAIL,
    PHONE,
    PUSH_TOKEN,
    TRACKING_NUMBER,
    add_rule,
    carrier_event,
    drain,
    listed,
    notification_rows,
    notify_client,
    notify_worker,
    quiet_store,
    register,
)

__all__ = ["notify_client", "notify_worker"]  # fixtures


async def test_a_carrier_event_reaches_every_channel_once(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    await add_rule(notify_client, store, ["out_for_delivery"], ["push", "sms", "email"], mode="all")
    shipment_id = await register(notify_client, store)

    path = await carrier_event(notify_client, store, "out_for_delivery")
    await drain(engine, notify_worker)
    await carrier_event(notify_client, store, "out_for_delivery", path)  # a carrier retry
    await drain(engine, notify_worker)

    [sms] = fake_providers.twilio.requests
    assert sms.to == PHONE
    assert sms.body.startswith("Corner Books: your order is out for delivery, expected Mon, Mar 16")
    assert "http://gateway.test/t/" in sms.body and segment_count(sms.body) == 1
    assert sms.status_callback and sms.status_callback.startswith(
        "http://gateway.test/callbacks/twilio/status?n=ntf_"
    )
    [mail] = fake_providers.sendgrid.requests
    assert mail.to == [EMAIL]
    assert mail.subject == "Your Corner Books order is out for delivery"
    assert TRACKING_NUMBER in mail.text and "Hi Jane Doe" in mail.text
    assert mail.html and "Out for delivery" in mail.html
    assert mail.custom_args["notification_id"].startswith("ntf_")
    [push] = fake_providers.google.requests
    assert push.target == PUSH_TOKEN
    assert push.title == "Out for delivery"
    assert push.body and push.body.startswith("Corner Books: your order is out for delivery")

    shown = await listed(notify_client, store, shipment_id)
    assert sorted(n["channel"] for n in shown) == ["email", "push", "sms"]
    assert {n["status"] for n in shown} == {"sent"}
    by_channel = {n["channel"]: n for n in shown}
    assert by_channel["sms"]["provider_message_id"] == sms.sid
    assert by_channel["sms"]["body"] == sms.body
    assert by_channel["sms"]["template"] == "sms/en/out_for_delivery"
    assert by_channel["sms"]["to"] == mask_phone(PHONE)
    assert by_channel["sms"]["sms_segments"] == segment_count(sms.body)
    assert by_channel["email"]["provider_message_id"] == mail.message_id


async def test_default_rules_use_the_first_reachable_channel(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    shipment_id = await register(notify_client, store, push_tokens=[])

    await carrier_event(notify_client, store, "out_for_delivery")
    await drain(engine, notify_worker)

    assert len(fake_providers.twilio.requests) == 1  # push unreachable: SMS is next
    assert fake_providers.sendgrid.requests == [] and fake_providers.google.requests == []
    [row] = await notification_rows(engine, shipment_id)
    assert (row.channel, row.status, row.fallback) == ("sms", "sent", ["email"])


async def test_provider_500_twice_then_201_sends_exactly_one(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    await add_rule(notify_client, store, ["out_for_delivery"], ["sms"])
    shipment_id = await register(notify_client, store)
    fake_providers.twilio.fail_next(2)

    await carrier_event(notify_client, store, "out_for_delivery")
    await drain(engine, notify_worker)

    assert fake_providers.twilio.attempts == 3
    assert len(fake_providers.twilio.requests) == 1
    [row] = await notification_rows(engine, shipment_id)
    assert (row.status, row.attempts, row.reason) == ("sent", 3, None)


async def test_unregistered_push_token_is_dropped_and_sms_takes_over(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    shipment_id = await register(notify_client, store, push_tokens=["unregistered-device-1"])

    await carrier_event(notify_client, store, "out_for_delivery")
    await drain(engine, notify_worker)

    assert fake_providers.google.requests == []  # refused: UNREGISTERED
    assert [r.to for r in fake_providers.twilio.requests] == [PHONE]
    push, sms = await notification_rows(engine, shipment_id)
    assert (push.channel, push.status) == ("push", "failed")
    assert push.reason and "UNREGISTERED" in push.reason.upper()
    assert (sms.channel, sms.status, sms.cause_id) == ("sms", "sent", push.cause_id)
    async with engine.connect() as conn:
        recipient = await recipient_of(conn, shipment_id)
    assert recipient is not None and recipient["push_tokens"] == []


async def test_unsubscribed_number_is_opted_out_and_email_takes_over(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    await register(notify_client, store, phone="+15555551610", push_tokens=[])

    path = await carrier_event(notify_client, store, "out_for_delivery")
    await drain(engine, notify_worker)
    await carrier_event(notify_client, store, "delivered_signature_and_photo", path)
    await drain(engine, notify_worker)

    assert fake_providers.twilio.requests == []
    assert fake_providers.twilio.attempts == 1  # the second event never tried SMS
    assert [m.subject for m in fake_providers.sendgrid.requests] == [
        "Your Corner Books order is out for delivery",
        "Your Corner Books order was delivered",
    ]
    async with engine.connect() as conn:
        assert await is_opted_out(conn, store.tenant_id, "+15555551610")


async def test_retries_run_out_then_the_next_channel_is_used(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    shipment_id = await register(notify_client, store, phone="+15555550500", push_tokens=[])

    await carrier_event(notify_client, store, "out_for_delivery")
    await drain(engine, notify_worker)

    assert fake_providers.twilio.attempts == 6  # the first try and five retries
    assert len(fake_providers.sendgrid.requests) == 1
    sms, email = await notification_rows(engine, shipment_id)
    assert (sms.status, sms.reason) == ("failed", "retries_exhausted:twilio_20500")
    assert email.status == "sent"


async def test_a_burst_of_news_ends_with_the_newest(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine, collapse_window_s=1)
    await add_rule(notify_client, store, ["in_transit", "out_for_delivery", "delivered"], ["sms"])
    shipment_id = await register(notify_client, store)

    path = await carrier_event(notify_client, store, "departed_facility_utc_next_day")
    for case in ("out_for_delivery", "delivered_signature_and_photo"):
        await carrier_event(notify_client, store, case, path)
    await drain(engine, notify_worker)

    # The first news to be planned went out at once (the worker runs the three fan-outs
    # concurrently, in no fixed order; test_notif_burst.py has the steps one by one); the rest
    # collapsed into the newest, sent when the window closed.
    *_, last = fake_providers.twilio.requests
    assert len(fake_providers.twilio.requests) <= 2
    assert "your order was delivered" in last.body
    rows = await notification_rows(engine, shipment_id)
    outcomes = {(r.event, r.channel): (r.status, r.reason) for r in rows}
    assert outcomes.pop(("delivered", "sms")) == ("sent", None)
    assert outcomes.pop(("delivered", "email")) == ("sent", None)  # the proof, emailed by default
    # the other two: superseded, but for the one planned first if it was not the delivery
    others = sorted(outcomes.values())
    assert others in (
        [("sent", None), ("suppressed", "superseded")],
        [("suppressed", "superseded")] * 2,
    )
    assert len(fake_providers.twilio.requests) == 1 + others.count(("sent", None))


async def test_the_delivered_email_carries_proof_of_delivery(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    await add_rule(notify_client, store, ["delivered"], ["email"])
    await register(notify_client, store)

    await carrier_event(notify_client, store, "delivered_signature_and_photo")
    await drain(engine, notify_worker)

    [mail] = fake_providers.sendgrid.requests
    assert "Signed by: HOLLOWAY" in mail.text and "Recipient: Jane Doe" in mail.text
    assert TRACKING_NUMBER in mail.text
    assert "delivered Mon, Mar 16, 3:27 PM" in mail.text  # 19:27Z in New York
    assert mail.html is not None
    assert '<img src="data:image/jpeg;base64,' in mail.html and "HOLLOWAY" in mail.html


async def test_store_override_and_spanish_recipient(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    store = await quiet_store(notify_client, engine)
    await add_rule(notify_client, store, ["out_for_delivery"], ["sms", "email"], mode="all")
    response = await notify_client.put(
        "/v1/templates/sms/es/out_for_delivery",
        json={
            "body": "¡{{ store_name }} va para allá! Llegará hoy por la tarde. Síguelo aquí, "
            "en tiempo real y cuando quieras: {{ tracking_url }}"
        },
        headers=store.headers,
    )
    assert response.status == 200, await response.text()
    await register(notify_client, store, locale="es-MX", timezone="America/Mexico_City")

    await carrier_event(notify_client, store, "out_for_delivery")
    await drain(engine, notify_worker)

    [sms] = fake_providers.twilio.requests
    # Accents would make it UCS-2 and three segments: it goes out as GSM-7 look-alike text.
    assert sms.body.startswith("¡Corner Books va para alla! Llegara hoy por la tarde. Siguelo aqui")
    assert "cuando quieras: http://gateway.test/t/" in sms.body
    assert segment_count(sms.body) == 1
    [mail] = fake_providers.sendgrid.requests
    assert mail.subject == "Tu pedido de Corner Books ha salido a reparto"
    assert "Llegada prevista: lun 16 de mar." in mail.text
