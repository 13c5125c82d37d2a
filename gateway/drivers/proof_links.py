"""Signed, expiring links to proof-of-delivery images, served by the gateway at `/p/{token}`.

A driver's delivered event keeps a reference, `lastmile-proof:<proof id>`, in its `photo_url`;
each place that shows proof mints a fresh link from it: the tracking page (an hour, relative),
the delivered email (as long as the tracking page lives: 30 days after delivery), the merchant
API (a day). A token is `base64url(payload).base64url(tag)`, payload `kid|proof id|image|
generation|exp`, tag HMAC-SHA256 under a key derived from the newest `driver_keys` row (so it
rotates with them), cut to 128 bits. The generation is the shipment's tracking-link generation:
revoking the tracking links revokes the proof links too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.drivers import store_keys, store_proofs
from gateway.drivers.tokens import MAX_KID_CHARS, derive_key

PROOF_REF: Final = "lastmile-proof:"
TAG_BYTES: Final = 16
MAX_TOKEN_CHARS: Final = 300
PAGE_TTL: Final = timedelta(hours=1)
API_TTL: Final = timedelta(days=1)
EMAIL_AFTER_DELIVERY: Final = timedelta(days=30)  # as long as the tracking page answers


class Image(StrEnum):
    PHOTO = "photo"
    SIGNATURE = "signature"


@dataclass(frozen=True, slots=True)
class LinkClaims:
    kid: str
    proof_id: str
    image: Image
    generation: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ProofLinks:
    """What a page or an email shows of a driver's proof of delivery."""

    received_by: str
    photo_url: str | None
    signature_url: str | None
    delivered_at: datetime


def proof_ref(proof_id: str) -> str:
    return PROOF_REF + proof_id


def is_proof_ref(photo_url: str | None) -> bool:
    return bool(photo_url and photo_url.startswith(PROOF_REF))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(secret: bytes, payload: bytes) -> bytes:
    return hmac.digest(derive_key(secret, b"proof-link"), payload, "sha256")[:TAG_BYTES]


def mint(
    secret: bytes, kid: str, proof_id: str, image: Image, generation: int, expires_at: datetime
) -> str:
    payload = f"{kid}|{proof_id}|{image.value}|{generation}|{int(expires_at.timestamp())}"
    return f"{_b64(payload.encode())}.{_b64(_tag(secret, payload.encode()))}"


def claimed_kid(token: str) -> str | None:
    """The kid a token names, unverified (to look its key up), or None if unreadable."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        kid = _unb64(token.partition(".")[0]).decode().split("|", 1)[0]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return kid if 0 < len(kid) <= MAX_KID_CHARS else None


def verify(token: str, secrets: Mapping[str, bytes], now: datetime) -> LinkClaims | None:
    """The claims of a well-signed, unexpired link, else None (for every kind of bad token)."""
    try:
        payload_part, _, tag_part = token.partition(".")
        payload, tag = _unb64(payload_part), _unb64(tag_part)
        kid, proof_id, image, generation, exp = payload.decode().split("|")
        secret = secrets.get(kid)
        expected = _tag(secret or b"\0" * 32, payload)
        if secret is None or not hmac.compare_digest(expected, tag):
            return None
        claims = LinkClaims(
            kid, proof_id, Image(image), int(generation), datetime.fromtimestamp(int(exp), UTC)
        )
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError, OSError):
        return None
    return claims if now < claims.expires_at else None


async def links_for_shipment(
    conn: AsyncConnection, shipment_id: str, base: str, now: datetime, expires_at: datetime
) -> ProofLinks | None:
    """Fresh links to the shipment's proof images (`base` + `/p/...`), or None without proof."""
    if expires_at <= now:
        return None
    found = await store_proofs.with_link_generation(conn, shipment_id=shipment_id)
    key = await store_keys.newest_key(conn) if found is not None else None
    if found is None or key is None:
        return None
    proof, generation = found
    kid, secret = key

    def link(image: Image, stored: str | None) -> str | None:
        if stored is None:
            return None
        return f"{base}/p/{mint(secret, kid, proof.id, image, generation, expires_at)}"

    return ProofLinks(
        received_by=proof.recipient_name,
        photo_url=link(Image.PHOTO, proof.photo_key),
        signature_url=link(Image.SIGNATURE, proof.signature_key),
        delivered_at=proof.delivered_at,
    )


def email_expiry(delivered_at: datetime) -> datetime:
    return delivered_at + EMAIL_AFTER_DELIVERY


async def with_api_links(
    conn: AsyncConnection,
    shipment_id: str,
    events: list[dict[str, object]],
    public_url: str,
    now: datetime,
) -> list[dict[str, object]]:
    """Timeline events (canonical JSON) whose proof reference is replaced by a signed link
    valid for a day: the merchant API's view of a driver's proof."""
    if not any(
        isinstance(e.get("photo_url"), str) and is_proof_ref(str(e["photo_url"])) for e in events
    ):
        return events
    links = await links_for_shipment(conn, shipment_id, public_url, now, now + API_TTL)
    photo = links.photo_url if links else None
    return [
        {**e, "photo_url": photo} if is_proof_ref(str(e.get("photo_url") or "")) else e
        for e in events
    ]
