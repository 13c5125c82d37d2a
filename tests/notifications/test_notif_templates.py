"""Built-in templates: every channel, language and event renders, SMS stays within two segments,
HTML is escaped, the wheel ships the templates; store overrides run sandboxed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channels.sms_length import segment_count, sms_length
from gateway.notifications.formatting import format_day, format_eta, format_moment
from gateway.notifications.render import (
    MAX_SMS_SEGMENTS,
    SAMPLE_CONTEXT,
    TemplateProblem,
    render_builtin,
    render_override,
    to_gsm7,
)
from gateway.notifications.rules import LANGUAGES, ChannelKind, TriggerEvent
from gateway.platform.templates import template_dir
from gateway.tracking.short_links import new_token

ROOT = Path(__file__).resolve().parents[2]
SLOTS = [(c, lang, e) for c in ChannelKind for lang in LANGUAGES for e in TriggerEvent]


# As long as a real one: a short link's random token.
TRACKING_URL = f"https://track.example-store-domain.com/t/{new_token()}"


def _long_context(lang: str, **changes: Any) -> dict[str, Any]:
    """Long-ish realistic values in the recipient's language."""
    zone, locale = ZoneInfo("America/Los_Angeles"), "en-US" if lang == "en" else "es-MX"
    moment = datetime(2026, 9, 30, 23, 55, tzinfo=UTC)
    return {
        **SAMPLE_CONTEXT,
        "store_name": "The Very Long Name Bookshop & Co",  # 32 of the 40 an SMS keeps
        "recipient_name": "Maximiliana Fernández-Oyarzábal",
        "carrier": "FedEx",
        "eta": format_eta(date(2026, 9, 30), moment, zone, locale),
        "when": format_moment(moment, zone, locale),
        "location": "South San Francisco, CA",
        "tracking_url": TRACKING_URL,
        "signed_by": "M FERNANDEZ-OYARZABAL",
        **changes,
    }


@pytest.mark.parametrize(("channel", "lang", "event"), SLOTS)
def test_every_template_renders_with_and_without_optional_values(
    channel: ChannelKind, lang: str, event: TriggerEvent
) -> None:
    empty = dict.fromkeys(("eta", "when", "location", "signed_by", "photo_url", "tracking_url"))
    for context in (_long_context(lang), _long_context(lang, recipient_name=None, **empty)):
        rendered = render_builtin(channel, lang, event, context)
        assert rendered.template == f"{channel.value}/{lang}/{event.value}"
        assert rendered.body.strip() and "None" not in rendered.body
        if channel is not ChannelKind.SMS:
            assert rendered.subject and "None" not in rendered.subject
        if channel is ChannelKind.EMAIL:
            assert rendered.html and "None" not in rendered.html
            if context["tracking_url"]:  # None once links have ended: no dead link is shown
                assert context["tracking_url"] in rendered.html
            assert context["tracking_number"] in rendered.body


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("event", list(TriggerEvent))
def test_every_sms_stays_within_two_segments(lang: str, event: TriggerEvent) -> None:
    body = render_builtin(ChannelKind.SMS, lang, event, _long_context(lang)).body
    length = sms_length(body)
    assert length.segments <= MAX_SMS_SEGMENTS, (length, body)
    assert body.endswith(TRACKING_URL)


def test_an_sms_that_only_fits_as_gsm7_is_sent_with_look_alikes() -> None:
    context = _long_context("es", store_name="Librería Ñandú “La Esquina”")
    body = render_builtin(ChannelKind.SMS, "es", TriggerEvent.FAILED_ATTEMPT, context).body
    assert body.startswith('Libreria Ñandu "La Esquina": intentamos entregar')  # Ñ is GSM-7
    assert sms_length(body).encoding == "gsm7" and segment_count(body) <= 2
    assert to_gsm7("ok") == "ok" and to_gsm7("漢") == "漢"


def test_html_is_escaped_and_text_is_not() -> None:
    context = _long_context("en", store_name="<script>alert(1)</script> & Sons")
    rendered = render_builtin(ChannelKind.EMAIL, "en", TriggerEvent.DELIVERED, context)
    assert rendered.html is not None
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "& Sons" in rendered.body and "<script>" in rendered.body  # plain text stays plain


def test_delivered_email_has_proof_of_delivery() -> None:
    context = _long_context("en", photo_url="https://cdn.example.com/pod/9.jpg")
    rendered = render_builtin(ChannelKind.EMAIL, "en", TriggerEvent.DELIVERED, context)
    assert rendered.html is not None
    assert "Proof of delivery" in rendered.body
    assert "Signed by: M FERNANDEZ-OYARZABAL" in rendered.body
    assert "Recipient: Maximiliana" in rendered.body
    assert "Photo: https://cdn.example.com/pod/9.jpg" in rendered.body
    assert '<img src="https://cdn.example.com/pod/9.jpg"' in rendered.html


def test_dates_follow_the_recipient_zone_and_locale() -> None:
    moment = datetime(2026, 3, 17, 3, 30, tzinfo=UTC)  # still the 16th in New York
    assert format_moment(moment, ZoneInfo("America/New_York"), "en-US") == "Mon, Mar 16, 11:30 PM"
    assert format_moment(moment, ZoneInfo("Europe/Madrid"), "es") == "mar, 17 mar, 4:30"
    assert format_day(date(2026, 3, 17), "fr-FR") == "mar. 17 mars"  # Babel knows French
    assert format_day(date(2026, 3, 17), "xx-YY") == "Tue, Mar 17"  # unknown: English


def test_overrides_render_in_the_sandbox() -> None:
    parts = {"subject": "{{ store_name }}", "text": "{{ eta }}", "html": "<p>{{ store_name }}</p>"}
    context = {**SAMPLE_CONTEXT, "store_name": "A & <B>"}
    rendered = render_override(ChannelKind.EMAIL, "email/en/late", parts, context)
    assert rendered.template == "override:email/en/late"
    assert rendered.html == "<p>A &amp; &lt;B&gt;</p>" and rendered.subject == "A & <B>"
    with pytest.raises(TemplateProblem, match="may not touch"):
        render_override(ChannelKind.SMS, "x", {"body": "{{ eta.__class__ }}"}, context)
    with pytest.raises(TemplateProblem, match="renders longer"):
        render_override(ChannelKind.SMS, "x", {"body": "{{ 'x' * 5000 }}"}, context)


def test_a_checkout_renders_from_its_own_templates_folder() -> None:
    # Installed from the wheel they are package data (tests/test_wheel.py installs one).
    assert template_dir() == ROOT / "templates"
    assert (template_dir() / "sms" / "en" / "delivered.txt.j2").is_file()
