"""Proof of delivery as customers see it: the one rule for which photo is shown, and from where.

Carriers send a delivery photo either as a web address or inline, as a `data:` URL of a JPEG,
PNG or WebP. The tracking page and the emails show the same photos: an `https://` one as it is;
an inline one embedded where the medium allows its size (emails, up to a limit), otherwise from
the tracking link's own `/photo` address, where the gateway serves it. Anything else (plain
http, SVG, broken base64, other schemes) is never shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

INLINE_PHOTO: Final = re.compile(r"^data:image/(jpeg|png|webp);base64,[A-Za-z0-9+/=]+$")
PHOTO_PATH: Final = "/photo"  # below a tracking link: `/t/{token}/photo`


@dataclass(frozen=True, slots=True)
class InlinePhoto:
    subtype: str  # jpeg | png | webp
    data: str  # base64


def inline_photo(photo_url: str | None) -> InlinePhoto | None:
    """The image inside an inline (`data:`) photo URL, if it is one we show."""
    match = INLINE_PHOTO.match(photo_url or "")
    if match is None:
        return None
    return InlinePhoto(match[1], (photo_url or "").partition(",")[2])


def photo_src(photo_url: str | None, tracking_link: str, *, embed_up_to: int = 0) -> str | None:
    """Where a page or an email loads the photo from; None: not shown.

    `tracking_link` is the link's path (`/t/{token}`, for the page) or its full URL (emails);
    an inline photo of at most `embed_up_to` characters is embedded as it came.
    """
    if not photo_url:
        return None
    if inline_photo(photo_url) is not None:
        return photo_url if len(photo_url) <= embed_up_to else tracking_link + PHOTO_PATH
    return photo_url if photo_url.startswith("https://") else None
