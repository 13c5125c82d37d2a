"""Recording a delivery rating, from the tracking page or an SMS reply, and telling the store.

Both paths end in `record_rating` inside the caller's transaction: the rating row (with the
driver of the route, for the store's own deliveries), a dispatcher alert for a low score and,
for a new rating, the `rating.created` store webhook are committed together.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.events import format_utc
from gateway.domain.inbound_sms import InboundSMS
from gateway.drivers import ratings as driver_ratings
from gateway.store_webhooks import events as webhook_events
from gateway.tracking import store_ratings as rating_store
from gateway.tracking.page_text import PageLocale
from gateway.tracking.rules import (
    RatingInput,
    RatingLocked,
    RatingNotAllowed,
    may_rate,
    parse_sms_reply,
)
from gateway.tracking.store import TrackedShipment, load_shipment
from gateway.tracking.store_ratings import Rating

log = logging.getLogger(__name__)

DELIVERED_TEMPLATE: Final = "delivered"
# Replies stay in the GSM-7 alphabet (one SMS segment holds 160 of them): no accented vowels.
_SMS_THANKS: Final = {
    "en": "Thanks for rating your {store} delivery {n}/5!",
    "es": "¡Gracias por valorar tu entrega de {store} con {n}/5!",
}
_SMS_LOCKED: Final = {
    "en": "Thanks! Your rating for this {store} delivery is already saved.",
    "es": "¡Gracias! Tu valoracion de esta entrega de {store} ya esta guardada.",
}


async def record_rating(
    conn: AsyncConnection, shipment: TrackedShipment, given: RatingInput, now: datetime
) -> tuple[Rating, bool]:
    """Create or edit the shipment's rating: (rating, created). A new one emits `rating.created`.

    Raises RatingNotAllowed before delivery and RatingLocked after the edit window.
    """
    if not may_rate(shipment.status):
        raise RatingNotAllowed(shipment.id)
    driver_id = await driver_ratings.driver_of_shipment(conn, shipment.id)
    rating, created = await rating_store.save(
        conn, shipment.tenant_id, shipment.id, given, now, driver_id
    )
    await driver_ratings.alert_if_low(
        conn,
        tenant_id=shipment.tenant_id,
        shipment_id=shipment.id,
        rating_id=rating.id,
        driver_id=rating.driver_id,
        score=rating.score,
        comment=rating.comment,
        at=now,
    )
    if created:
        await webhook_events.emit(
            conn,
            shipment.tenant_id,
            webhook_events.EventType.RATING_CREATED.value,
            rating_json(rating, shipment.tracking_number),
            f"rating.created:{rating.id}",
        )
    log.info(
        "rating %s for %s via %s", "created" if created else "edited", shipment.id, given.source
    )
    return rating, created


def rating_json(rating: Rating, tracking_number: str) -> dict[str, Any]:
    """A rating as the merchant API and the store webhook show it."""
    return {
        "id": rating.id,
        "shipment_id": rating.shipment_id,
        "tracking_number": tracking_number,
        "driver_id": rating.driver_id,
        "score": rating.score,
        "comment": rating.comment,
        "source": rating.source,
        "created_at": format_utc(rating.created_at),
        "updated_at": format_utc(rating.updated_at),
    }


async def sms_rating_reply(conn: AsyncConnection, sms: InboundSMS) -> str | None:
    """INBOUND_SMS_HANDLERS entry: claims `1`-`5` (+ comment) once the parcel is delivered.

    Returns the thank-you text, or None to let the next handler (driver relay) have the reply.
    """
    given = parse_sms_reply(sms.body)
    if given is None or sms.shipment_id is None:
        return None
    shipment = await load_shipment(conn, sms.shipment_id)
    if shipment is None or shipment.tenant_id != sms.tenant_id:
        return None
    if sms.last_template != DELIVERED_TEMPLATE and not may_rate(shipment.status):
        return None
    lang = PageLocale(shipment.recipient.get("locale")).lang
    try:
        await record_rating(conn, shipment, given, datetime.now(UTC))
    except RatingLocked:
        return _SMS_LOCKED[lang].format(store=shipment.store_name)
    except RatingNotAllowed:
        return None
    return _SMS_THANKS[lang].format(store=shipment.store_name, n=given.score)
