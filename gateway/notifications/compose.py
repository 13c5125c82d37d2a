"""One notification row → the message a channel sends: context, template, rendered text."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import Message, OutboundEmail, OutboundPush, OutboundSMS
from gateway.notifications import store_config as config
from gateway.notifications import store_reads as reads
from gateway.notifications.formatting import format_eta, format_moment
from gateway.notifications.render import Rendered, TemplateProblem, render_builtin, render_override
from gateway.notifications.rules import ChannelKind, TriggerEvent, language
from gateway.notifications.store_reads import Scan, SendView
from gateway.tracking.store_short_links import current_tracking_url

log = logging.getLogger(__name__)

CARRIER_NAMES: Final = {"ups": "UPS", "fedex": "FedEx", "usps": "USPS", "dhl": "DHL"}
SMS_STORE_NAME_CHARS: Final = 40  # keeps every SMS within two segments
# A longer place is left out of an SMS (the page shows it): an English SMS stays one segment.
SMS_LOCATION_CHARS: Final = 32
STATUS_CALLBACK_PATH: Final = "/callbacks/twilio/status"
INLINE_IMAGES: Final = ("data:image/jpeg;base64,", "data:image/png;base64,")
MAX_INLINE_IMAGE_CHARS: Final = 300_000
# The built-in templates say when, where, who signed and show the photo only for these events;
# a store's override may use them anywhere, so then the scan is always read.
SCAN_EVENTS: Final = frozenset(
    {TriggerEvent.DELIVERED.value, TriggerEvent.AVAILABLE_FOR_PICKUP.value}
)


@dataclass(frozen=True, slots=True)
class Composed:
    rendered: Rendered
    message: Message

    def columns(self) -> dict[str, str | None]:
        """The notification row's rendered-message columns."""
        r = self.rendered
        return {"template": r.template, "subject": r.subject, "body": r.body, "html": r.html}


async def compose(conn: AsyncConnection, view: SendView, public_url: str) -> Composed:
    """Render the row for its channel and address. May write the shipment's short link."""
    row = view.row
    status = row.facts.get("status")
    scan = Scan()
    if status and (view.has_overrides or row.event in SCAN_EVENTS):
        scan = await reads.newest_scan(conn, row.shipment_id, status)
    url = await current_tracking_url(conn, public_url, row.shipment_id, datetime.now(UTC))
    context = message_context(view, scan, url)
    rendered = await _render(conn, view, context)
    return Composed(rendered, _message(row, rendered, public_url, context["tracking_url"]))


def message_context(view: SendView, scan: Scan, url: str | None) -> dict[str, Any]:
    """Every variable a template can use (render.SAMPLE_CONTEXT lists the same names)."""
    row, recipient = view.row, view.recipient
    zone, locale = recipient.zone, recipient.locale
    eta_day = row.facts.get("eta")
    eta_at = row.facts.get("eta_at")
    store_name, location = view.store_name, _place(scan.location)
    if row.channel == ChannelKind.SMS.value:
        store_name = store_name[:SMS_STORE_NAME_CHARS].rstrip()
        location = location if location and len(location) <= SMS_LOCATION_CHARS else None
    return {
        "store_name": store_name,
        "recipient_name": recipient.name,
        "tracking_number": view.tracking_number,
        "carrier": CARRIER_NAMES.get(view.carrier, view.carrier.title()),
        "event": row.event,
        "status": row.facts.get("status") or row.event,
        "eta": format_eta(
            date.fromisoformat(eta_day) if eta_day else None,
            datetime.fromisoformat(eta_at) if eta_at else None,
            zone,
            locale,
        ),
        "when": format_moment(scan.occurred_at, zone, locale) if scan.occurred_at else None,
        "location": location,
        "tracking_url": url,
        "signed_by": scan.signed_by,
        "photo_url": scan.photo_url if _showable(scan.photo_url) else None,
    }


def _showable(photo_url: str | None) -> bool:
    """A web image, or an inline JPEG/PNG as carriers send them (kept off the text part)."""
    if not photo_url:
        return False
    if photo_url.startswith(("https://", "http://")):
        return True
    return photo_url.startswith(INLINE_IMAGES) and len(photo_url) <= MAX_INLINE_IMAGE_CHARS


def _place(location: dict[str, Any] | None) -> str | None:
    if not location:
        return None
    parts = [location.get("city"), location.get("region")]
    text = ", ".join(str(p).title() if p == location.get("city") else str(p) for p in parts if p)
    return text or None


async def _render(conn: AsyncConnection, view: SendView, context: dict[str, Any]) -> Rendered:
    row, recipient = view.row, view.recipient
    channel, event = ChannelKind(row.channel), TriggerEvent(row.event)
    lang = language(recipient.locale)
    if view.has_overrides:
        locales = list(dict.fromkeys([recipient.locale, lang]))
        found = await config.find_template(conn, row.tenant_id, channel.value, locales, event.value)
        if found is not None:
            name = f"{channel.value}/{found.locale}/{event.value}"
            try:
                return render_override(channel, name, found.parts, context)
            except TemplateProblem as exc:
                # Checked when stored; a failure now (e.g. a variable that is None) must not
                # cost the customer their message: the built-in template still goes out.
                log.warning("override %s failed for %s, using built-in: %s", name, row.id, exc)
    return render_builtin(channel, lang, event, context)


def _message(row: Any, rendered: Rendered, public_url: str, url: str | None) -> Message:
    if row.channel == ChannelKind.SMS.value:
        callback = f"{public_url}{STATUS_CALLBACK_PATH}?n={row.id}"
        return OutboundSMS(to=row.address, body=rendered.body, status_callback_url=callback)
    if row.channel == ChannelKind.EMAIL.value:
        return OutboundEmail(
            to=row.address,
            subject=rendered.subject or "",
            text=rendered.body,
            html=rendered.html or "",
            custom_args={"notification_id": row.id},
        )
    data = {"notification_id": row.id, "event": row.event}
    if url:
        data["tracking_url"] = url
    return OutboundPush(
        token=row.address, title=rendered.subject or "", body=rendered.body, data=data
    )
