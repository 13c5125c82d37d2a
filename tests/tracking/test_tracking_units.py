"""Pure parts of the tracking area: SMS reply parsing, preview detection, texts, link expiry,
and the page's view of every status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.domain.events import Status
from gateway.tracking import links
from gateway.tracking.page_text import TEXT, PageLocale, from_accept_language
from gateway.tracking.previews import is_preview_fetch
from gateway.tracking.rules import parse_sms_reply
from gateway.tracking.store import TrackedEvent, TrackedShipment
from gateway.tracking.view import PageInput, build_view

NOW = datetime(2026, 3, 16, 21, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("5", (5, None)),
        (" 4 great driver ", (4, "great driver")),
        ("3/5 a bit late", (3, "a bit late")),
        ("5 stars!", (5, None)),
        ("2 - box was wet", (2, "box was wet")),
        ("1\nnever again", (1, "never again")),
        ("10", None),
        ("4.5", None),
        ("3pm works", None),
        ("3:30", None),
        ("1Z8R2F610373102544", None),
        ("0", None),
        ("where is my parcel", None),
        ("", None),
    ],
)
def test_sms_reply_parsing(body: str, expected: tuple[int, str | None] | None) -> None:
    parsed = parse_sms_reply(body)
    assert (None if parsed is None else (parsed.score, parsed.comment)) == expected


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "WhatsApp/2.23.20.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "TelegramBot (like TwitterBot)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "",
    ],
)
def test_preview_fetchers_are_recognised(agent: str) -> None:
    assert is_preview_fetch({"User-Agent": agent})


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 Chrome/120 Mobile Safari",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/156.0 Safari/537.36",
    ],
)
def test_people_are_not_previews(agent: str) -> None:
    assert not is_preview_fetch({"User-Agent": agent})
    assert is_preview_fetch({"User-Agent": agent, "Sec-Purpose": "prefetch;prerender"})


def test_every_language_has_every_text() -> None:
    for lang, texts in TEXT.items():
        assert texts.keys() == TEXT["en"].keys(), lang


def test_locales_fall_back_to_english_and_keep_their_region() -> None:
    assert (PageLocale("es-MX").tag, PageLocale("es-MX").lang) == ("es-MX", "es")
    assert PageLocale("fr-FR").tag == "en-US"
    assert PageLocale("not a locale").tag == "en-US"
    assert from_accept_language("fr-CH, es;q=0.9, en;q=0.8") == "es"
    assert from_accept_language("*") is None


def test_links_end_at_90_days_or_30_after_delivery() -> None:
    assert links.expiry(NOW, None) == NOW + timedelta(days=90)
    delivered = NOW - timedelta(hours=2)
    assert links.expiry(NOW, delivered) == delivered + timedelta(days=30)
    assert not links.delivered_long_ago(delivered, delivered + timedelta(days=29))
    assert links.delivered_long_ago(delivered, delivered + timedelta(days=30))
    token = links.mint(b"k" * 32, "kid1", "shp_1", 0, NOW)
    assert links.key_id(token) == "kid1"
    assert links.key_id("%%%") is None


def _shipment(status: str, **changes: object) -> TrackedShipment:
    values: dict[str, object] = {
        "id": "shp_1",
        "tenant_id": "ten_1",
        "store_name": "Corner Books",
        "tracking_number": "1Z1",
        "carrier": "ups",
        "order_id": None,
        "status": status,
        "status_at": NOW - timedelta(hours=1),
        "estimated_delivery": None,
        "promised_by": None,
        "recipient": {"timezone": "Europe/Madrid", "email": "jane@example.com"},
        "link_generation": 0,
        "last_opened_at": None,
    }
    values.update(changes)
    return TrackedShipment(**values)  # type: ignore[arg-type]


def _view(status: str, **changes: object) -> dict[str, object]:
    event = TrackedEvent(status, NOW - timedelta(hours=1), None, "SCAN", None, None)
    given = PageInput(_shipment(status, **changes), [event], None, PageLocale("es-ES"), NOW, "/p")
    return build_view(given).to_json()


@pytest.mark.parametrize(
    ("status", "states"),
    [
        (Status.UNKNOWN, ["current", "todo", "todo", "todo"]),
        (Status.IN_TRANSIT, ["done", "current", "todo", "todo"]),
        (Status.EXCEPTION, ["done", "problem", "todo", "todo"]),
        (Status.FAILED_ATTEMPT, ["done", "done", "problem", "todo"]),
        (Status.DELIVERED, ["done", "done", "done", "done"]),
        (Status.RETURNED, ["done", "done", "done", "problem"]),
        ("no_such_status", ["current", "todo", "todo", "todo"]),
    ],
)
def test_progress_steps(status: str, states: list[str]) -> None:
    view = _view(status)
    assert [step["state"] for step in view["steps"]] == states  # type: ignore[attr-defined]
    assert view["contact"] == "j•••@example.com"


def test_eta_wording_in_the_recipients_zone() -> None:
    today = _view(Status.OUT_FOR_DELIVERY, estimated_delivery=date(2026, 3, 16))
    later = _view(Status.IN_TRANSIT, estimated_delivery=date(2026, 3, 18))
    promised = _view(Status.IN_TRANSIT, promised_by=NOW + timedelta(hours=3))
    delivered = _view(Status.DELIVERED)
    assert today["summary"] == "Llega hoy"
    assert later["summary"] == "Llegada prevista: miércoles, 18 de marzo"
    assert promised["summary"] == "Llegada prevista antes del martes, 17 de marzo, 1:30"
    assert delivered["summary"] == "lunes, 16 de marzo a las 21:30"
