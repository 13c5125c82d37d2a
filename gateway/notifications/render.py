"""Message text from Jinja2 templates: the built-in ones in `templates/`, or a store's override.

Built-ins come from the notifications environment (StrictUndefined, `.html.j2` autoescaped) over
`template_dir()` (gateway/platform/templates.py). A store's overrides are untrusted code: they are
rendered in a bounded sandbox (gateway/notifications/sandbox.py), and callers run them off the
event loop (`sandbox.off_loop`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import jinja2

from channels.sms_length import is_gsm7, segment_count
from gateway.notifications.rules import ChannelKind, TriggerEvent
from gateway.notifications.sandbox import TemplateLimitExceeded, render_bounded
from gateway.platform.templates import file_environment

MAX_SMS_SEGMENTS: Final = 2
MAX_OVERRIDE_CHARS: Final = 20_000
MAX_OUTPUT_CHARS: Final = {
    ChannelKind.SMS: 1600,
    ChannelKind.PUSH: 1000,
    ChannelKind.EMAIL: 200_000,
}
# What a store may override, per channel.
PARTS: Final[Mapping[ChannelKind, tuple[str, ...]]] = {
    ChannelKind.SMS: ("body",),
    ChannelKind.PUSH: ("title", "body"),
    ChannelKind.EMAIL: ("subject", "text", "html"),
}
# Twilio's "smart encoding" idea: look-alikes that keep a text in GSM-7 (half the cost).
_LOOKALIKES: Final = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u00ab": '"',
        "\u00bb": '"',
    }
)


class TemplateProblem(Exception):
    """A template does not compile or render; the message is safe to show to the store."""


class TemplateLimit(TemplateProblem):
    """The template went past one of the sandbox's limits (`limit` names it)."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Rendered:
    template: str  # e.g. "sms/en/delivered" or "override:sms/es/delivered"
    body: str
    subject: str | None = None  # email subject or push title
    html: str | None = None


_ENV: Final = file_environment()  # the notifications' own (pages have theirs)


def builtin_name(channel: ChannelKind, lang: str, event: TriggerEvent, ext: str = "txt") -> str:
    return f"{channel.value}/{lang}/{event.value}.{ext}.j2"


def render_builtin(
    channel: ChannelKind, lang: str, event: TriggerEvent, context: Mapping[str, Any]
) -> Rendered:
    """Raises jinja2.TemplateError only for a broken built-in (a test renders them all)."""
    name = f"{channel.value}/{lang}/{event.value}"
    text = _ENV.get_template(builtin_name(channel, lang, event))
    if channel is ChannelKind.SMS:
        return Rendered(name, fit_sms(text.render(context)))
    if channel is ChannelKind.PUSH:
        title = _block(text, "title", context)
        return Rendered(name, _block(text, "body", context), subject=title)
    html = _ENV.get_template(builtin_name(channel, lang, event, "html")).render(context)
    body = _tidy(text.render(context))
    return Rendered(name, body, subject=_block(text, "subject", context), html=html)


def _block(template: jinja2.Template, block: str, context: Mapping[str, Any]) -> str:
    rendered = "".join(template.blocks[block](template.new_context(dict(context))))
    return " ".join(rendered.split())


def _tidy(text: str) -> str:
    """Plain-text email: no runs of blank lines left by optional parts."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy) + "\n"


def fit_sms(text: str) -> str:
    """One line; if it would cost more than MAX_SMS_SEGMENTS, swap characters for GSM-7 ones."""
    text = " ".join(text.split())
    if segment_count(text) > MAX_SMS_SEGMENTS:
        text = to_gsm7(text)
    return text


def to_gsm7(text: str) -> str:
    """`á` → `a`, curly quotes → straight ones; characters with no GSM-7 look-alike stay."""
    out = []
    for char in text.translate(_LOOKALIKES):
        if is_gsm7(char):
            out.append(char)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and is_gsm7(base) else char)
    return "".join(out)


def compile_override(channel: ChannelKind, parts: Mapping[str, str]) -> Rendered:
    """The template rendered with SAMPLE_CONTEXT (a preview for the store).

    Raises TemplateProblem for a missing part, a syntax error, a forbidden construct, or an SMS
    that would cost more than MAX_SMS_SEGMENTS with realistic values.
    """
    preview = render_override(channel, "check", parts, SAMPLE_CONTEXT)
    segments = segment_count(preview.body)
    if channel is ChannelKind.SMS and segments > MAX_SMS_SEGMENTS:
        raise TemplateProblem(
            f"body: {segments} SMS segments with sample values; keep it within {MAX_SMS_SEGMENTS}"
        )
    return preview


def render_override(
    channel: ChannelKind, name: str, parts: Mapping[str, str], context: Mapping[str, Any]
) -> Rendered:
    """Render a store's template in the sandbox. Raises TemplateProblem."""
    missing = [p for p in PARTS[channel] if not parts.get(p)]
    if missing:
        raise TemplateProblem(f"{channel.value} templates need: {', '.join(missing)}")
    out = {p: _sandboxed(p, parts[p], context, channel) for p in PARTS[channel]}
    label = f"override:{name}"
    if channel is ChannelKind.SMS:
        return Rendered(label, fit_sms(out["body"]))
    if channel is ChannelKind.PUSH:
        return Rendered(
            label, " ".join(out["body"].split()), subject=" ".join(out["title"].split())
        )
    subject = " ".join(out["subject"].split())
    return Rendered(label, _tidy(out["text"]), subject=subject, html=out["html"])


def _sandboxed(part: str, source: str, context: Mapping[str, Any], channel: ChannelKind) -> str:
    if len(source) > MAX_OVERRIDE_CHARS:
        raise TemplateProblem(f"{part}: longer than {MAX_OVERRIDE_CHARS} characters")
    try:
        output = render_bounded(source, dict(context), autoescape=part == "html")
    except TemplateLimitExceeded as exc:
        raise TemplateLimit(f"{part}: {exc}", exc.limit) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(f"{part}: syntax error on line {exc.lineno}: {exc.message}") from None
    except jinja2.exceptions.SecurityError:
        raise TemplateProblem(f"{part}: uses something templates may not touch") from None
    except jinja2.UndefinedError as exc:
        raise TemplateProblem(f"{part}: {exc.message}") from None
    except Exception as exc:  # any other runtime error inside the store's template
        raise TemplateProblem(f"{part}: cannot be rendered ({type(exc).__name__})") from None
    if len(output) > MAX_OUTPUT_CHARS[channel]:
        raise TemplateProblem(f"{part}: renders longer than {MAX_OUTPUT_CHARS[channel]} characters")
    return output


# Every variable a template may use, with realistic values (the API documents these names).
SAMPLE_CONTEXT: Final[Mapping[str, Any]] = {
    "store_name": "Corner Books",
    "recipient_name": "Alex Rivera",
    "tracking_number": "1Z999AA10123456784",
    "carrier": "UPS",
    "event": "out_for_delivery",
    "status": "out_for_delivery",
    "eta": "Tue, Mar 17",
    "when": "Tue, Mar 17, 2:14 PM",
    "location": "Charlotte, NC",
    "tracking_url": "https://track.example.com/t/4kTq9ZbW2xLmN7pR3sVd8e",  # a short link
    "signed_by": "A RIVERA",
    "photo_url": "https://cdn.example.com/pod/1.jpg",
    "signature_url": "https://track.example.com/p/" + "s" * 90,
}
