"""The delivered email carries the driver's proof (signed links to photo and signature), even
when the SMS told the customer first; ratings of the delivery name the route's driver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.platform.appkeys import CLOCK
from tests.drivers.proof_support import (
    doorstep_photo,
    post_proof,
    proof_form,
    routed_delivery,
    signature_png,
)
from tests.drivers.trips import drain
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import notify_client, notify_worker, quiet_store

__all__ = ["notify_client", "notify_worker"]  # fixtures

# The worker renders emails at the real time: this delivery happens now, not on the grid's day.
T0 = datetime.now(UTC).replace(microsecond=0)
AT = T0 + timedelta(minutes=20)


async def test_the_delivered_email_carries_photo_and_signature_links_that_work(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    client = notify_client
    client.app[CLOCK].freeze(T0)
    store = await quiet_store(client, engine)
    delivery = await routed_delivery(
        client, store, now=T0, phone="+15555550123", email="jane.doe@example.com"
    )
    client.app[CLOCK].freeze(AT)
    form = proof_form(doorstep_photo(), signature_png(), "Jane Doe", occurred_at=AT.isoformat())
    assert (await post_proof(client, delivery.driver, delivery.shipment_id, form)).status == 201
    await drain(engine, notify_worker)

    [sms] = fake_providers.twilio.requests  # the default rule: the first reachable channel
    assert "delivered" in sms.body
    [mail] = fake_providers.sendgrid.requests  # and the proof, by email, by default
    assert mail.to == ["jane.doe@example.com"]
    assert mail.subject == "Your Corner Books order was delivered"
    assert "Signed by: Jane Doe" in mail.text
    photo_url = _line(mail.text, "Photo: ")
    signature_url = _line(mail.text, "Signature: ")
    assert photo_url.startswith("http://gateway.test/p/")
    assert signature_url.startswith("http://gateway.test/p/")
    assert mail.html is not None
    assert f'<img src="{photo_url}"' in mail.html and f'<img src="{signature_url}"' in mail.html
    client.app[CLOCK].freeze(AT + timedelta(days=29))  # still there for a month
    photo = await client.get(photo_url.removeprefix("http://gateway.test"))
    signature = await client.get(signature_url.removeprefix("http://gateway.test"))
    assert (photo.status, photo.content_type) == (200, "image/jpeg")
    assert (signature.status, signature.content_type) == (200, "image/png")
    client.app[CLOCK].freeze(AT + timedelta(days=31))  # as long as the tracking page, no longer
    assert (await client.get(photo_url.removeprefix("http://gateway.test"))).status == 404


async def test_a_rating_names_the_driver_and_a_low_one_alerts_the_dispatcher(
    notify_client: TestClient[Any, Any],
    notify_worker: Worker,
    engine: AsyncEngine,
    fake_providers: FakeProviders,
) -> None:
    client = notify_client
    client.app[CLOCK].freeze(T0)
    store = await quiet_store(client, engine)
    delivery = await routed_delivery(client, store, now=T0)
    client.app[CLOCK].freeze(AT)
    assert (
        await post_proof(
            client, delivery.driver, delivery.shipment_id, proof_form(signature=signature_png())
        )
    ).status == 201
    link = await client.post(
        f"/v1/shipments/{delivery.shipment_id}/tracking-link", headers=store.headers
    )
    token_path = (await link.json())["url"].removeprefix("http://gateway.test")

    rated = await client.post(f"{token_path}/rating", json={"score": 2, "comment": "Box crushed"})
    assert rated.status == 201, await rated.text()

    ratings = (await (await client.get("/v1/ratings", headers=store.headers)).json())["ratings"]
    assert [(r["score"], r["driver_id"]) for r in ratings] == [(2, delivery.driver.id)]
    alerts = (await (await client.get("/v1/alerts", headers=store.headers)).json())["alerts"]
    assert [(a["kind"], a["driver_id"], a["data"]["comment"]) for a in alerts] == [
        ("low_rating", delivery.driver.id, "Box crushed")
    ]


def _line(text: str, prefix: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(prefix)).removeprefix(prefix)
