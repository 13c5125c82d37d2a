"""What the drivers area adds to a delivery rating: the route's driver, and a low-rating alert.

Called by the tracking area (`tracking/ratings.py`) inside the transaction that saves a rating.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers import store_alerts, store_routes
from gateway.drivers.model import LOW_RATING_MAX_SCORE, AlertKind
from gateway.drivers.store_alerts import NewAlert


async def driver_of_shipment(conn: AsyncConnection, shipment_id: str) -> str | None:
    """The driver of the route that has (or had) the shipment as a stop, or None (a carrier)."""
    found = await store_routes.stop_of_shipment(conn, shipment_id)
    return found[0].driver_id if found else None


async def alert_if_low(
    conn: AsyncConnection,
    *,
    tenant_id: str,
    shipment_id: str,
    rating_id: str,
    driver_id: str | None,
    score: int,
    comment: str | None,
    at: datetime,
) -> bool:
    """A `low_rating` alert for a score of LOW_RATING_MAX_SCORE or less (once per score given)."""
    if score > LOW_RATING_MAX_SCORE:
        return False
    data = {"rating_id": rating_id, "score": score, "comment": comment, "shipment_id": shipment_id}
    return await store_alerts.record(
        conn,
        NewAlert(
            f"low_rating:{rating_id}:{score}",
            tenant_id,
            AlertKind.LOW_RATING,
            at,
            data,
            driver_id=driver_id,
            shipment_id=shipment_id,
        ),
    )
