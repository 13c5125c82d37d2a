"""Proof-of-delivery images drawn with Pillow: a doorstep photo (JPEG, with the EXIF a phone
would add, GPS included, which the gateway must strip) and a signature (PNG, ink on white)."""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw, ImageFilter
from PIL.ExifTags import GPS, IFD, Base

PHOTO_SIZE = (960, 720)
SIGNATURE_SIZE = (600, 220)


def doorstep_photo(rng: random.Random, lat: float, lon: float) -> bytes:
    """A parcel on a doorstep, with the phone's make, time and GPS position in its EXIF."""
    width, height = PHOTO_SIZE
    image = Image.new("RGB", PHOTO_SIZE, (196, 184, 166))
    draw = ImageDraw.Draw(image)
    wall = tuple(int(c) for c in (150 + rng.uniform(-20, 20), 95, 80))
    draw.rectangle((0, 0, width, int(height * 0.62)), fill=wall)  # brick wall
    for row in range(0, int(height * 0.62), 28):
        for col in range(-60 if row % 56 else 0, width, 120):
            draw.rectangle((col, row, col + 112, row + 22), outline=(120, 70, 58), width=2)
    draw.rectangle((330, 40, 630, int(height * 0.62)), fill=(52, 78, 65))  # the door
    draw.ellipse((590, 250, 606, 266), fill=(212, 175, 55))  # its handle
    draw.polygon([(0, 446), (width, 446), (width, height), (0, height)], fill=(170, 160, 150))
    box_w, box_h = int(rng.uniform(200, 260)), int(rng.uniform(140, 180))
    left, bottom = int(rng.uniform(360, 420)), 600
    draw.rectangle((left, bottom - box_h, left + box_w, bottom), fill=(196, 150, 96))
    draw.rectangle((left + box_w // 2 - 14, bottom - box_h, left + box_w // 2 + 14, bottom),
                   fill=(222, 196, 150))  # fmt: skip
    draw.rectangle((left + 20, bottom - box_h + 20, left + 100, bottom - box_h + 60),
                   fill=(245, 245, 240))  # fmt: skip
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=82, exif=_phone_exif(lat, lon))
    return buffer.getvalue()


def _phone_exif(lat: float, lon: float) -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Make] = "Lastmile"
    exif[Base.Model] = "Simulated Driver Phone"
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
    gps[GPS.GPSLatitude] = _dms(abs(lat))
    gps[GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
    gps[GPS.GPSLongitude] = _dms(abs(lon))
    return exif


def _dms(value: float) -> tuple[float, float, float]:
    degrees = math.floor(value)
    minutes = math.floor((value - degrees) * 60)
    return float(degrees), float(minutes), round(((value - degrees) * 60 - minutes) * 60, 2)


def signature(rng: random.Random) -> bytes:
    """A handwritten-looking signature: two looping strokes (prolate cycloids, the shape of
    cursive) with a rising slant, and a flourish underneath; dark ink on white."""
    height = SIGNATURE_SIZE[1]
    image = Image.new("RGB", SIGNATURE_SIZE, "white")
    draw = ImageDraw.Draw(image)
    ink = (20, 32, 84)
    x0 = 36.0
    for word in range(2):
        loops = rng.randint(4, 6) if word else rng.randint(2, 3)
        size = rng.uniform(22, 30)
        stroke = []
        for step in range(loops * 24 + 1):
            t = step / 24 * 2 * math.pi
            tall = 1.6 if step < 24 else 1.0  # a capital first
            x = x0 + size * (0.42 * t - 0.8 * math.sin(t))
            y = height * 0.66 - tall * size * 0.9 * (1 - math.cos(t)) - t * 1.6
            stroke.append((x, y))
        draw.line(stroke, fill=ink, width=4, joint="curve")
        x0 = stroke[-1][0] + rng.uniform(22, 34)
    flourish = [
        (40 + i * 10, height - 46 - 10 * math.sin(i / 5) - i * 0.4) for i in range(int(x0 / 10))
    ]
    draw.line(flourish, fill=ink, width=3, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
