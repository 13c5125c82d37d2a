"""One notification row → the message a channel sends: context, template, rendered text."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncConnection

from channels.base import Message, OutboundEmail, OutboundPush, OutboundSMS
from gateway.domain.proof import inline_photo, photo_src
from gateway.drivers import proof_links
from gateway.notifications import store_config as config
from gateway.notifications import store_reads as reads
from gateway.notifications.formatting import format_eta, format_moment
from gateway.notifications.render import Rendered, TemplateProblem, render_builtin, render_override
from gateway.notifications.rules import ChannelKind, TriggerEvent, language
from gateway.notifications.sandbox import off_loop
from gateway.notifications.store import Notification
from gateway.notifications.store_reads import Scan, SendView
from gateway.tracking.store_short_links import current_tracking_url

log = logging.getLogger(__name__)

CARRIER_NAMES: Final = {"ups": "UPS", "fedex": "FedEx", "usps": "USPS", "dhl": "DHL"}
OWN_FLEET: Final = "driver"  # the store's own drivers: the store is the carrier
SMS_STORE_NAME_CHARS: Final = 40  # keeps every SMS within two segments
# A longer place is left out of an SMS (the page shows it): an English SMS stays one segment.
SMS_LOCATION_CHARS: Final = 32
MAX_EMBEDDED_PHOTO_CHARS: Final = 300_000  # a bigger inline photo is linked, not mailed
STATUS_CALLBACK_PATH: Final = "/callbacks/twilio/status"
# The built-in templates say when, where, who signed and show the photo only for these events;
# a store's override may use them anywhere, so then the scan is always read.
SCAN_EVENTS: Final = frozenset({TriggerEvent.DELIVERED, TriggerEvent.AVAILABLE_FOR_PICKUP})


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
    if row.event in SCAN_EVENTS or proof_links.is_proof_ref(scan.photo_url):
        scan = await _with_driver_proof(conn, row.shipment_id, scan, public_url)
    context = message_context(view, scan, url)
    rendered = await _render(conn, view, context)
    return Composed(rendered, _message(row, rendered, public_url, context["tracking_url"]))


async def _with_driver_proof(
    conn: AsyncConnection, shipment_id: str, scan: Scan, public_url: str
) -> Scan:
    """A driver's proof: who signed, and signed links to the photo and the signature that work
    as long as the tracking page does (30 days after delivery)."""
    now = datetime.now(UTC)
    delivered_at = scan.occurred_at or now
    links = await proof_links.links_for_shipment(
        conn, shipment_id, public_url, now, proof_links.email_expiry(delivered_at)
    )
    if links is None:
        return scan
    return replace(
        scan,
        signed_by=links.received_by,
        photo_url=links.photo_url,
        signature_url=links.signature_url,
        own_proof=True,
    )


def message_context(view: SendView, scan: Scan, url: str | None) -> dict[str, Any]:
    """Every variable a template can use (render.SAMPLE_CONTEXT lists the same names)."""
    row, recipient = view.row, view.recipient
    zone, locale = recipient.zone, recipient.locale
    eta_day = row.facts.get("eta")
    eta_at = row.facts.get("eta_at")
    store_name = view.store_name
    location = scan.location.label() if scan.location else None
    if row.channel is ChannelKind.SMS:
        store_name = store_name[:SMS_STORE_NAME_CHARS].rstrip()
        location = location if location and len(location) <= SMS_LOCATION_CHARS else None
    return {
        "store_name": store_name,
        "recipient_name": recipient.name,
        "tracking_number": view.tracking_number,
        "carrier": store_name  # an SMS says "shipped with X" only when X is not the store
        if view.carrier == OWN_FLEET
        else CARRIER_NAMES.get(view.carrier, view.carrier.title()),
        "event": row.event.value,
        "status": row.facts.get("status") or row.event.value,
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
        "photo_url": scan.photo_url if scan.own_proof else _photo(scan.photo_url, url),
        "signature_url": scan.signature_url,
    }


async def _render(conn: AsyncConnection, view: SendView, context: dict[str, Any]) -> Rendered:
    row, recipient = view.row, view.recipient
    channel, event = row.channel, row.event
    lang = language(recipient.locale)
    if view.has_overrides:
        locales = list(dict.fromkeys([recipient.locale, lang]))
        found = await config.find_template(conn, row.tenant_id, channel.value, locales, event.value)
        if found is not None:
            name = f"{channel.value}/{found.locale}/{event.value}"
            try:
                return await off_loop(render_override, channel, name, found.parts, context)
            except TemplateProblem as exc:
                # Checked when stored; a failure now (e.g. a variable that is None) must not
                # cost the customer their message: the built-in template still goes out.
                log.warning("override %s failed for %s, using built-in: %s", name, row.id, exc)
    return render_builtin(channel, lang, event, context)


def _photo(photo_url: str | None, url: str | None) -> str | None:
    """The photo as emails show it; once links have ended, only one that needs no link."""
    if url is None and inline_photo(photo_url) is not None:
        return photo_url if len(photo_url or "") <= MAX_EMBEDDED_PHOTO_CHARS else None
    return photo_src(photo_url, url or "", embed_up_to=MAX_EMBEDDED_PHOTO_CHARS)


def _message(row: Notification, rendered: Rendered, public_url: str, url: str | None) -> Message:
    if row.address is None:  # planned with no address: such rows are suppressed, never sent
        raise ValueError(f"notification {row.id} has no address")
    if row.channel is ChannelKind.SMS:
        callback = f"{public_url}{STATUS_CALLBACK_PATH}?n={row.id}"
        return OutboundSMS(to=row.address, body=rendered.body, status_callback_url=callback)
    if row.channel is ChannelKind.EMAIL:
        return OutboundEmail(
            to=row.address,
            subject=rendered.subject or "",
            text=rendered.body,
            html=rendered.html or "",
            custom_args={"notification_id": row.id},
        )
    data = {"notification_id": row.id, "event": row.event.value}
    if url:
        data["tracking_url"] = url
    return OutboundPush(
        token=row.address, title=rendered.subject or "", body=rendered.body, data=data
    )
