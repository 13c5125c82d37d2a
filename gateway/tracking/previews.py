"""Who is fetching a tracking link: the customer, or a machine making a preview of it.

Messengers fetch a link as soon as it is pasted or received (iMessage fetches as
`facebookexternalhit ... Facebot Twitterbot`, WhatsApp as `WhatsApp/2...`), and browsers may
prefetch. Such fetches must change nothing: no "opened" record, no side effect of any kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# Lower-case substrings of the user agents of preview fetchers and crawlers.
PREVIEW_AGENTS: Final = (
    "slackbot",  # Slackbot-LinkExpanding, Slack-ImgProxy
    "slack-imgproxy",
    "facebookexternalhit",  # Facebook, Messenger, Instagram, iMessage
    "facebot",
    "whatsapp",
    "twitterbot",
    "discordbot",
    "telegrambot",
    "linkedinbot",
    "skypeuripreview",
    "microsoft teams",  # Teams' link unfurling
    "googlebot",
    "google-pagerenderer",
    "bingbot",
    "bingpreview",
    "applebot",
    "yandexbot",
    "duckduckbot",
    "baiduspider",
    "pinterest",
    "redditbot",
    "embedly",
    "iframely",
    "mastodon",
    "viber",
    "snapchat",
    "line/",  # LINE messenger previews
    "zoominfobot",
)
# Generic crawler markers; "bot/" and not "bot" so a phone model like "CUBOT X19" stays human.
_GENERIC: Final = ("bot/", "bot;", "crawler", "spider", "preview")


def is_preview_fetch(headers: Mapping[str, str]) -> bool:
    """True for link-preview bots, crawlers, prefetches and requests with no user agent."""
    purpose = (headers.get("Sec-Purpose") or headers.get("Purpose") or "").lower()
    if "prefetch" in purpose or "prerender" in purpose:
        return True
    agent = headers.get("User-Agent", "").lower()
    if not agent.strip():
        return True
    return any(marker in agent for marker in PREVIEW_AGENTS) or any(
        marker in agent for marker in _GENERIC
    )
