"""Proof-of-delivery images: judged by content, upright, stripped of metadata, bombs refused."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image, PngImagePlugin

from gateway.drivers.proof import (
    MAX_PIXELS,
    MAX_SIGNATURE_BYTES,
    PHOTO_MAX_SIDE_PX,
    ProofField,
    ProofImageError,
    ProofProblem,
    process_photo,
    process_signature,
)


def _photo_with_gps(orientation: int = 6, size: tuple[int, int] = (400, 300)) -> bytes:
    """A camera-like JPEG: red left half, EXIF orientation and a GPS position, an ICC profile."""
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[:, : size[0] // 2] = (255, 0, 0)
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (41.0, 52.0, 41.16),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (87.0, 37.0, 47.28),
        }
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, icc_profile=b"fake-icc" * 8, comment=b"home")
    return out.getvalue()


def _png(mode: str = "RGBA", size: tuple[int, int] = (300, 100)) -> bytes:
    image = Image.new(mode, size)
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "the customer's name")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_a_photo_loses_all_metadata_and_its_gps_but_keeps_its_orientation() -> None:
    original = _photo_with_gps(orientation=6)  # "rotate 90 CW to display"
    with Image.open(io.BytesIO(original)) as check:
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture really has GPS
    clean = process_photo(original)
    assert clean.content_type == "image/jpeg"
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)
        assert image.size == (300, 400) == (clean.width, clean.height)  # turned upright
        top, bottom = image.getpixel((150, 10)), image.getpixel((150, 390))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[1] < 60  # the red half is now on top
    assert bottom[0] < 60
    assert b"Exif" not in clean.data and b"PhoneMaker" not in clean.data


def test_a_big_photo_is_downscaled() -> None:
    clean = process_photo(_photo_with_gps(orientation=1, size=(4032, 3024)))
    assert max(clean.width, clean.height) == PHOTO_MAX_SIDE_PX
    assert clean.width / clean.height == pytest.approx(4032 / 3024, rel=0.01)


def test_a_png_named_jpg_is_judged_by_content_and_a_transparent_photo_turns_white() -> None:
    clean = process_photo(_png("RGBA"))  # the bytes a client might call "photo.jpg"
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.format == "JPEG"
        assert image.getpixel((5, 5)) == (255, 255, 255)


def test_a_text_file_or_a_gif_is_not_a_photo() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    for data in (b"Hello, this is not an image\n", gif.getvalue(), b""):
        with pytest.raises(ProofImageError) as caught:
            process_photo(data)
        assert caught.value.field is ProofField.PHOTO
        assert caught.value.problem is ProofProblem.UNSUPPORTED_TYPE
        assert str(caught.value) == "photo: must be a JPEG or PNG image"


def test_a_signature_must_be_a_png() -> None:
    with pytest.raises(ProofImageError) as caught:
        process_signature(_photo_with_gps())
    assert caught.value.field is ProofField.SIGNATURE
    assert caught.value.problem is ProofProblem.UNSUPPORTED_TYPE
    clean = process_signature(_png("LA"))
    with Image.open(io.BytesIO(clean.data)) as image:
        assert image.format == "PNG" and image.mode == "LA"
        assert "Author" not in image.info
    assert b"customer" not in clean.data


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height: all a decompression bomb needs to be opened."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [int((MAX_PIXELS + 1) ** 0.5) + 1, 60_000])
def test_a_decompression_bomb_is_refused_before_decoding(side: int) -> None:
    bomb = _png_header_only(side, side)
    assert len(bomb) < 2000
    for process, field in ((process_photo, "photo"), (process_signature, "signature")):
        with pytest.raises(ProofImageError) as caught:
            process(bomb)
        assert caught.value.problem is ProofProblem.TOO_MANY_PIXELS
        assert str(caught.value).startswith(f"{field}: ")


def test_truncated_data_and_oversized_uploads() -> None:
    with pytest.raises(ProofImageError) as caught:
        process_photo(_photo_with_gps()[:-2000])
    assert caught.value.problem is ProofProblem.CORRUPT
    with pytest.raises(ProofImageError) as caught:
        process_signature(_png() + b"\0" * MAX_SIGNATURE_BYTES)
    assert caught.value.problem is ProofProblem.TOO_LARGE
