"""Proof-of-delivery test material: a phone photo with EXIF GPS, a drawn signature, an upload."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from PIL import ExifTags, Image, ImageDraw

from tests.drivers.city import T0
from tests.drivers.drivers_support import DriverHandle, add_driver, add_route, add_shipment
from tests.support import Store


def doorstep_photo(size: tuple[int, int] = (1200, 900)) -> bytes:
    """A parcel on a doorstep, as a phone JPEG with its GPS position in the EXIF."""
    image = Image.new("RGB", size, (126, 132, 140))  # pavement
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((0, 0, w, h * 0.45), fill=(176, 96, 72))  # brick wall
    draw.rectangle((w * 0.3, h * 0.05, w * 0.7, h * 0.62), fill=(68, 46, 34))  # the door
    draw.rectangle((w * 0.38, h * 0.5, w * 0.62, h * 0.85), fill=(196, 154, 98))  # the box
    draw.line((w * 0.38, h * 0.6, w * 0.62, h * 0.6), fill=(150, 110, 60), width=12)  # tape
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (41.0, 52.0, 41.16),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (87.0, 37.0, 47.28),
        }
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=90)
    return out.getvalue()


def signature_png() -> bytes:
    """A scrawled signature on a transparent background."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = [(40, 140), (90, 60), (120, 150), (170, 70), (210, 140), (260, 90), (300, 130)]
    points += [(350, 60), (380, 150), (430, 100), (480, 120), (560, 80)]
    draw.line(points, fill=(20, 30, 90, 255), width=6, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def proof_form(
    photo: bytes | None = None,
    signature: bytes | None = None,
    recipient_name: str | None = "Jane Doe",
    **extra: str,
) -> FormData:
    form = FormData()
    if photo is not None:
        form.add_field("photo", photo, filename="IMG_0001.jpg", content_type="image/jpeg")
    if signature is not None:
        form.add_field("signature", signature, filename="sig.png", content_type="image/png")
    if recipient_name is not None:
        form.add_field("recipient_name", recipient_name)
    for name, value in extra.items():
        form.add_field(name, value)
    return form


async def post_proof(
    client: TestClient[Any, Any], driver: DriverHandle, shipment_id: str, form: Any
) -> Any:
    return await client.post(
        f"/v1/driver/stops/{shipment_id}/proof", data=form, headers=driver.headers
    )


@dataclass
class Delivery:
    store: Store
    driver: DriverHandle
    shipment_id: str
    route_id: str


async def routed_delivery(
    client: TestClient[Any, Any],
    store: Store,
    *,
    now: datetime = T0,
    tracking_number: str = "P1",
    **recipient: Any,
) -> Delivery:
    """A driver with a one-stop route to a shipment (recipient fields as given)."""
    from gateway.platform.appkeys import CLOCK

    client.app[CLOCK].freeze(now)
    driver = await add_driver(client, store)
    shipment_id = await add_shipment(client, store, tracking_number, (400, 0), **recipient)
    route = await add_route(client, store, driver, [shipment_id])
    return Delivery(store, driver, shipment_id, route["id"])
