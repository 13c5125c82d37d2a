"""Proof-of-delivery images: checked by content, re-encoded clean.

A photo must be a JPEG or PNG and a signature a PNG, whatever the upload's file name or declared
type says: Pillow opens the bytes with only those decoders enabled. Photos are turned upright
from their EXIF orientation, then re-encoded as JPEG from the bare pixels, so no metadata
survives (EXIF with its GPS position, XMP, ICC, comments), and downscaled to PHOTO_MAX_SIDE_PX.
Signatures are re-encoded as PNG the same way. Dimensions are checked from the header before any
pixel is decoded, so a decompression bomb costs nothing.

CPU-bound (tens of milliseconds for a phone photo): call it in a worker thread, e.g.
`await asyncio.to_thread(process_photo, data)`, never on the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTO_BYTES: Final = 15 * 1024 * 1024  # a 48 MP phone JPEG is ~12 MB
MAX_SIGNATURE_BYTES: Final = 1024 * 1024
MAX_PIXELS: Final = 50_000_000  # below Pillow's own bomb threshold (~89 MP), above any phone
PHOTO_MAX_SIDE_PX: Final = 2048
SIGNATURE_MAX_SIDE_PX: Final = 1200
JPEG_QUALITY: Final = 85


class ProofField(StrEnum):
    PHOTO = "photo"
    SIGNATURE = "signature"


class ProofProblem(StrEnum):
    TOO_LARGE = "too_large"  # more bytes than the field allows (the HTTP layer's 413)
    UNSUPPORTED_TYPE = "unsupported_type"  # not an image of an accepted type, by content
    TOO_MANY_PIXELS = "too_many_pixels"  # a decompression bomb, or an absurd image
    CORRUPT = "corrupt"  # the header says image, the data cannot be decoded


class ProofImageError(ValueError):
    """One error type for every refused image; `field` and `problem` make the 4xx body."""

    def __init__(self, field: ProofField, problem: ProofProblem, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    content_type: str  # image/jpeg or image/png
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class _Rules:
    field: ProofField
    formats: tuple[str, ...]
    max_bytes: int
    max_side_px: int
    accepted: str  # for the error message


_PHOTO = _Rules(
    ProofField.PHOTO, ("JPEG", "PNG"), MAX_PHOTO_BYTES, PHOTO_MAX_SIDE_PX, "JPEG or PNG"
)
_SIGNATURE = _Rules(
    ProofField.SIGNATURE, ("PNG",), MAX_SIGNATURE_BYTES, SIGNATURE_MAX_SIDE_PX, "PNG"
)


def process_photo(data: bytes) -> CleanImage:
    """An upright JPEG without metadata, at most PHOTO_MAX_SIDE_PX on its longer side.

    Raises ProofImageError (field `photo`).
    """
    with _open(data, _PHOTO) as image:
        upright = _decoded(image, _PHOTO, draft_mode="RGB")
        rgb = _flatten(upright)
    rgb.thumbnail((PHOTO_MAX_SIDE_PX, PHOTO_MAX_SIDE_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    _bare(rgb).save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return CleanImage(out.getvalue(), "image/jpeg", rgb.width, rgb.height)


def process_signature(data: bytes) -> CleanImage:
    """A PNG without metadata (transparency kept), at most SIGNATURE_MAX_SIDE_PX wide or high.

    Raises ProofImageError (field `signature`).
    """
    with _open(data, _SIGNATURE) as image:
        decoded = _decoded(image, _SIGNATURE, draft_mode=None)
    if decoded.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        decoded = decoded.convert("RGBA")
    decoded.thumbnail((SIGNATURE_MAX_SIDE_PX, SIGNATURE_MAX_SIDE_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    _bare(decoded).save(out, format="PNG")
    return CleanImage(out.getvalue(), "image/png", decoded.width, decoded.height)


def _open(data: bytes, rules: _Rules) -> Image.Image:
    if len(data) > rules.max_bytes:
        raise ProofImageError(
            rules.field, ProofProblem.TOO_LARGE, f"larger than {rules.max_bytes} bytes"
        )
    try:
        image = Image.open(io.BytesIO(data), formats=rules.formats)  # header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(rules) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ProofImageError(
            rules.field, ProofProblem.UNSUPPORTED_TYPE, f"must be a {rules.accepted} image"
        ) from exc
    if image.width * image.height > MAX_PIXELS or min(image.size) < 1:
        image.close()
        raise _too_many_pixels(rules)
    return image


def _decoded(image: Image.Image, rules: _Rules, draft_mode: str | None) -> Image.Image:
    """The pixels, upright. A JPEG is decoded straight at a reduced scale when it is large."""
    try:
        if draft_mode is not None and image.format in ("JPEG", "MPO"):
            image.draft(draft_mode, (rules.max_side_px, rules.max_side_px))
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ProofImageError(
            rules.field, ProofProblem.CORRUPT, "the image data cannot be decoded"
        ) from exc
    return upright


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent areas become white, as a viewer would show them."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


def _bare(image: Image.Image) -> Image.Image:
    """The same pixels in a new image, with no `info` (EXIF, ICC, XMP, text) to carry over."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _too_many_pixels(rules: _Rules) -> ProofImageError:
    return ProofImageError(
        rules.field, ProofProblem.TOO_MANY_PIXELS, f"more than {MAX_PIXELS} pixels"
    )
