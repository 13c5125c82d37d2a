"""The SMS budget: with a short link, every trigger's English SMS is one GSM-7 segment and every
Spanish one at most two, for the worst inputs a store and a carrier can give.

Worst case: a 20-character store name, a 25-character https host, the longest ETA and delivery
time any English (or Spanish) locale writes, the longest carrier name and the longest place an
SMS keeps. The messages go through the same context builder and renderer as a real send.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

import pytest
from babel.localedata import locale_identifiers

from channels.sms_length import SmsEncoding, sms_length
from gateway.domain.events import Location
from gateway.notifications.compose import OWN_FLEET, SMS_LOCATION_CHARS, message_context
from gateway.notifications.formatting import format_moment
from gateway.notifications.render import render_builtin
from gateway.notifications.rules import ChannelKind, NotificationStatus, Recipient, TriggerEvent
from gateway.notifications.settings import NotificationSettings
from gateway.notifications.store import Notification
from gateway.notifications.store_reads import Scan, SendView
from gateway.tracking.short_links import TOKEN_CHARS, new_token
from gateway.tracking.store_links import tracking_url
from webhooks.registry import CARRIERS

STORE_NAME: Final = "Northwind Books & Co"
PUBLIC_URL: Final = "https://track.northwind-books.com"
CARRIER_CODES: Final = (*CARRIERS, OWN_FLEET)  # the store's own drivers: the store carries it
NOW: Final = datetime(2026, 3, 16, 12, tzinfo=UTC)


@cache
def longest(lang: str) -> tuple[str, datetime, str]:
    """(locale, moment, text): the longest "day, time" any locale of `lang` writes in a year."""
    tags = [t.replace("_", "-") for t in locale_identifiers() if t.split("_")[0] == lang]
    days = [date(2026, month, 10) + timedelta(days=d) for month in range(1, 13) for d in range(7)]
    best = ("", datetime.min.replace(tzinfo=UTC), "")
    for tag in tags:
        for day in days:
            for hour, minute in ((12, 45), (23, 55)):
                moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                text = format_moment(moment, ZoneInfo("UTC"), tag)
                if len(text) > len(best[2]):
                    best = (tag, moment, text)
    return best


def send_view(
    event: TriggerEvent, locale: str, facts: dict[str, str], carrier: str = "fedex"
) -> SendView:
    row = Notification(
        id="ntf_1",
        tenant_id="ten_1",
        shipment_id="shp_1",
        cause_id="chg_1",
        event=event,
        channel=ChannelKind.SMS,
        address="+15555550123",
        fallback=(),
        facts=facts,
        template=None,
        subject=None,
        body=None,
        html=None,
        status=NotificationStatus.QUEUED,
        reason=None,
        provider_id=None,
        attempts=0,
        cause_at=NOW,
        send_after=None,
        created_at=NOW,
        updated_at=NOW,
        sent_at=None,
        delivered_at=None,
    )
    return SendView(
        row=row,
        store_name=STORE_NAME,
        tracking_number="1Z999AA10123456784",
        carrier=carrier,
        recipient=Recipient(name="Alex", locale=locale, timezone="UTC"),
        settings=NotificationSettings(),
        superseded=False,
        opted_out=False,
        has_overrides=False,
    )


def worst_sms(lang: str, event: TriggerEvent, carrier: str = "fedex") -> str:
    """The event's built-in SMS for the worst inputs, built as compose() builds it."""
    locale, moment, _ = longest(lang)
    facts = {"status": event.value, "eta": moment.date().isoformat(), "eta_at": moment.isoformat()}
    scan = Scan(
        occurred_at=moment,
        location=Location(city="X" * (SMS_LOCATION_CHARS - 4), region="CA"),  # exactly the cap
        signed_by="M FERNANDEZ-OYARZABAL DE LA CRUZ",
        photo_url="https://cdn.example.com/pod/1.jpg",
    )
    context = message_context(
        send_view(event, locale, facts, carrier), scan, tracking_url(PUBLIC_URL, new_token())
    )
    return render_builtin(ChannelKind.SMS, lang, event, context).body


def test_the_worst_inputs_are_as_long_as_promised() -> None:
    host = PUBLIC_URL.removeprefix("https://")
    assert (len(STORE_NAME), len(host)) == (20, 25)
    assert len(new_token()) == TOKEN_CHARS == 22
    assert len(longest("en")[2]) >= len("Sat, Jan 10, 12:45 PM")  # en-CA's "p.m." is longer


@pytest.mark.parametrize("carrier", CARRIER_CODES)
@pytest.mark.parametrize("event", list(TriggerEvent))
def test_every_english_sms_is_one_gsm7_segment(event: TriggerEvent, carrier: str) -> None:
    body = worst_sms("en", event, carrier)
    length = sms_length(body)
    assert length.encoding is SmsEncoding.GSM7, body
    assert length.segments == 1, (length.units, body)
    assert body.startswith(f"{STORE_NAME}: ") and f" {PUBLIC_URL}/t/" in body


@pytest.mark.parametrize("carrier", CARRIER_CODES)
@pytest.mark.parametrize("event", list(TriggerEvent))
def test_every_spanish_sms_is_at_most_two_segments(event: TriggerEvent, carrier: str) -> None:
    body = worst_sms("es", event, carrier)
    assert sms_length(body).segments <= 2, (sms_length(body), body)
    assert f" {PUBLIC_URL}/t/" in body


def test_the_carrier_is_named_unless_it_is_the_store_itself() -> None:
    assert "shipped with FedEx, expected" in worst_sms("en", TriggerEvent.IN_TRANSIT, "fedex")
    own_fleet = worst_sms("en", TriggerEvent.IN_TRANSIT, OWN_FLEET)
    assert f"{STORE_NAME}: your order shipped, expected" in own_fleet


@pytest.mark.parametrize(("lang", "invite"), [("en", "Reply 1-5 to rate."), ("es", "Responde 1-5")])
def test_the_delivered_sms_invites_a_rating_reply(lang: str, invite: str) -> None:
    body = worst_sms(lang, TriggerEvent.DELIVERED)
    assert invite in body
    assert "\u2013" not in body  # an en dash would make the whole text UCS-2


def test_a_place_longer_than_an_sms_keeps_is_left_out() -> None:
    event = TriggerEvent.AVAILABLE_FOR_PICKUP
    assert " in Xxxx" in worst_sms("en", event)  # a place of exactly the cap is kept
    place = Scan(location=Location(city="Llanfairpwllgwyngyllgogerychwyrndrobwll", region="WL"))
    context = message_context(send_view(event, "en-US", {}), place, PUBLIC_URL + "/t/x")

    assert context["location"] is None
    assert " in " not in render_builtin(ChannelKind.SMS, "en", event, context).body
