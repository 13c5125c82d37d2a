"""Proof of delivery: the driver app's upload and the signed image links customers open.

`POST /v1/driver/stops/{shipment_id}/proof` (multipart: `photo` JPEG/PNG, `signature` PNG,
`recipient_name`, optional `occurred_at`): the size is capped twice (Content-Length, then the
bytes actually streamed: 413), each image is checked by its content and re-encoded without
metadata in a worker thread (`proof.py`), stored (`proof_storage.py`), and recorded as the
stop's delivered event with `signed_by` and a proof reference (`stop_events.py`).

`GET /p/{token}`: one image behind a signed, expiring link (`proof_links.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from aiohttp import BodyPartReader, web
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from gateway.drivers import proof_links, store_proofs
from gateway.drivers.auth import DRIVER_KEYS, driver_claims, require_driver
from gateway.drivers.model import Driver
from gateway.drivers.proof import (
    CleanImage,
    ProofImageError,
    ProofProblem,
    process_photo,
    process_signature,
)
from gateway.drivers.proof_storage import ProofNotFound, ProofStorage, StorageUnavailable
from gateway.drivers.routes_app import hand_over_jobs
from gateway.drivers.schemas_app import ProofOut
from gateway.drivers.stop_events import (
    DriverEvent,
    EventOutcome,
    NotYourStop,
    find_stop,
    record_event,
)
from gateway.drivers.store_proofs import Proof
from gateway.drivers.tokens import DriverClaims
from gateway.drivers.writes import WRITES
from gateway.platform.appkeys import CLOCK, DB, RELAY, SETTINGS
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation
from gateway.platform.ids import new_id
from gateway.platform.outbox import collect_added_jobs

log = logging.getLogger(__name__)

PROOF_STORAGE: Final = web.AppKey("proof_storage", ProofStorage)
FIELDS: Final = frozenset({"photo", "signature", "recipient_name", "occurred_at"})
MAX_NAME_CHARS: Final = 200
_WHEN = TypeAdapter(AwareDatetime)
IMAGE_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'",
    "Referrer-Policy": "no-referrer",
    "Content-Disposition": "inline",
}


@dataclass(frozen=True, slots=True)
class ProofForm:
    recipient_name: str
    occurred_at: datetime | None
    photo: bytes | None
    signature: bytes | None


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"proof uploads are limited to {limit} bytes")


async def _read_form(request: web.Request, limit: int) -> ProofForm:
    """The multipart fields, never more than `limit` bytes read. Raises ApiError."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    if not request.content_type.startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data")
    fields: dict[str, bytes] = {}
    total = 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name not in FIELDS:
            raise ApiError(422, "validation_error", f"{getattr(part, 'name', None)}: unknown field")
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            data.extend(chunk)
        fields[part.name] = bytes(data)
    return _form(fields)


def _form(fields: dict[str, bytes]) -> ProofForm:
    try:
        name = fields.get("recipient_name", b"").decode().strip()
    except UnicodeDecodeError:
        name = ""
    if not name or len(name) > MAX_NAME_CHARS:
        raise ApiError(
            422, "validation_error", f"recipient_name: 1 to {MAX_NAME_CHARS} characters required"
        )
    occurred_at = None
    if fields.get("occurred_at"):
        try:
            occurred_at = _WHEN.validate_python(fields["occurred_at"].decode().strip())
        except (ValidationError, UnicodeDecodeError):
            raise ApiError(
                422, "validation_error", "occurred_at: an ISO-8601 time with a zone"
            ) from None
    photo, signature = fields.get("photo") or None, fields.get("signature") or None
    if photo is None and signature is None:
        raise ApiError(422, "validation_error", "photo: a photo or a signature is required")
    return ProofForm(name, occurred_at, photo, signature)


async def _clean(form: ProofForm) -> tuple[CleanImage | None, CleanImage | None]:
    """Both images checked and re-encoded in a worker thread. Raises ApiError naming the field."""
    try:
        photo = await asyncio.to_thread(process_photo, form.photo) if form.photo else None
        signature = (
            await asyncio.to_thread(process_signature, form.signature) if form.signature else None
        )
    except ProofImageError as exc:
        status = 413 if exc.problem is ProofProblem.TOO_LARGE else 422
        code = "payload_too_large" if status == 413 else "invalid_image"
        raise ApiError(status, code, str(exc)) from None
    return photo, signature


async def post_proof(request: web.Request) -> web.Response:
    claims = await driver_claims(request)
    form = await _read_form(request, request.app[SETTINGS].proof_max_bytes)
    shipment_id = request.match_info["shipment_id"]
    async with request.app[WRITES].begin() as conn:  # before any image work: is it theirs?
        driver = await require_driver(conn, claims)
        try:
            await find_stop(conn, driver, shipment_id)
        except NotYourStop:
            raise not_found("stop") from None
    photo, signature = await _clean(form)
    proof_id = new_id("prf")
    storage = request.app[PROOF_STORAGE]
    stored = await _store(storage, f"{driver.tenant_id}/{shipment_id}/{proof_id}", photo, signature)
    try:
        proof = await _record(request, claims, shipment_id, proof_id, form, stored)
    except BaseException:
        await _forget(storage, stored)
        raise
    out = ProofOut(
        id=proof.id,
        shipment_id=proof.shipment_id,
        recipient_name=proof.recipient_name,
        photo=proof.photo_key is not None,
        signature=proof.signature_key is not None,
        delivered_at=proof.delivered_at,
    )
    return web.json_response(out.model_dump(mode="json"), status=201)


@dataclass(frozen=True, slots=True)
class _Stored:
    photo: tuple[str, str] | None  # key, content type
    signature: tuple[str, str] | None

    def proof(
        self, proof_id: str, driver: Driver, outcome: EventOutcome, name: str, now: datetime
    ) -> Proof:
        return Proof(
            id=proof_id,
            tenant_id=driver.tenant_id,
            shipment_id=outcome.stop.shipment_id,
            route_id=outcome.route.id,
            driver_id=driver.id,
            recipient_name=name,
            photo_key=self.photo[0] if self.photo else None,
            photo_type=self.photo[1] if self.photo else None,
            signature_key=self.signature[0] if self.signature else None,
            signature_type=self.signature[1] if self.signature else None,
            delivered_at=outcome.occurred_at,
            created_at=now,
        )


async def _store(
    storage: ProofStorage, prefix: str, photo: CleanImage | None, signature: CleanImage | None
) -> _Stored:
    """Both images into the storage under `prefix`. Raises a 503 ApiError (keeping nothing)."""
    kept: dict[str, tuple[str, str]] = {}
    try:
        for name, image in (("photo.jpg", photo), ("signature.png", signature)):
            if image is not None:
                await storage.put(f"{prefix}-{name}", image.data, image.content_type)
                kept[name] = (f"{prefix}-{name}", image.content_type)
    except StorageUnavailable:
        await _forget(storage, _Stored(kept.get("photo.jpg"), kept.get("signature.png")))
        raise ApiError(503, "storage_unavailable", "proof storage unavailable; retry") from None
    return _Stored(kept.get("photo.jpg"), kept.get("signature.png"))


async def _forget(storage: ProofStorage, stored: _Stored) -> None:
    for item in (stored.photo, stored.signature):
        if item is not None:
            with contextlib.suppress(StorageUnavailable):
                await storage.delete(item[0])


async def _record(
    request: web.Request,
    claims: DriverClaims,
    shipment_id: str,
    proof_id: str,
    form: ProofForm,
    stored: _Stored,
) -> Proof:
    """The proof row and the delivered event, in one transaction. Raises ApiError."""
    now = request.app[CLOCK].now()
    event = DriverEvent(
        "delivered",
        form.occurred_at or now,
        signed_by=form.recipient_name,
        photo_url=proof_links.proof_ref(proof_id) if stored.photo else None,
    )
    with collect_added_jobs() as jobs:
        async with request.app[WRITES].begin() as conn:
            driver = await require_driver(conn, claims)
            try:
                outcome = await record_event(conn, driver, shipment_id, event, b"", now)
            except NotYourStop:
                raise not_found("stop") from None
            proof = stored.proof(proof_id, driver, outcome, form.recipient_name, now)
            if not await store_proofs.insert(conn, proof):
                raise ApiError(409, "proof_exists", "this delivery already has its proof")
    if outcome.changed_shipment:
        request.app[RELAY].wake()
    await hand_over_jobs(request, list(jobs))
    return proof


async def proof_image(request: web.Request) -> web.Response:
    """One proof image behind a signed link; every bad, expired or revoked link is the same 404."""
    token = request.match_info["token"]
    kid = proof_links.claimed_kid(token)
    secrets = await request.app[DRIVER_KEYS].secrets_for(request.app[DB], kid)
    claims = proof_links.verify(token, secrets, request.app[CLOCK].now())
    if claims is None:
        raise web.HTTPNotFound()
    async with request.app[DB].connect() as conn:
        found = await store_proofs.with_link_generation(conn, proof_id=claims.proof_id)
    if found is None or found[1] != claims.generation:
        raise web.HTTPNotFound()
    proof = found[0]
    image = claims.image is proof_links.Image.PHOTO
    key = proof.photo_key if image else proof.signature_key
    content_type = proof.photo_type if image else proof.signature_type
    if key is None or content_type is None:
        raise web.HTTPNotFound()
    try:
        stored = await request.app[PROOF_STORAGE].get(key)
    except ProofNotFound:
        raise web.HTTPNotFound() from None
    except StorageUnavailable:
        raise ApiError(503, "storage_unavailable", "try again shortly") from None
    max_age = int(min(3600, (claims.expires_at - request.app[CLOCK].now()).total_seconds()))
    headers = {**IMAGE_HEADERS, "Cache-Control": f"private, max-age={max(max_age, 0)}"}
    return web.Response(body=stored.data, content_type=content_type, headers=headers)


API: Final = (
    Operation(
        "POST",
        "/v1/driver/stops/{shipment_id}/proof",
        post_proof,
        summary="Proof of delivery (multipart: photo, signature, recipient_name); records the "
        "delivery",
        tag="driver app",
        response=ProofOut,
        status=201,
        errors=(408, 409, 422),  # a slow upload, a proof already given, a bad image or field
    ),
)
# Customers' browsers and mail clients: the signed token is the capability.
IMAGE_ROUTES: Final = (web.get("/p/{token}", proof_image),)
