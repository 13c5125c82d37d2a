"""SMS length as carriers bill it: GSM-7 septets or UCS-2 code units, split into segments.

A text that fits the GSM 03.38 alphabet (basic table plus the extension table, whose characters
take an escape septet and so count 2) is sent as GSM-7: 160 septets in one segment, 153 per
segment once it is split (the user-data header takes the rest). Any other character switches the
whole message to UCS-2: 70 UTF-16 code units in one segment, 67 per segment once split; a
character outside the BMP (most emoji) is a surrogate pair and counts 2. A character's units are
never split across two segments (an escape sequence or a surrogate pair moves whole to the next
segment), which is how handsets and Twilio pack them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class SmsEncoding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


# GSM 03.38 basic character set (the escape 0x1B itself is not a character).
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each is sent as ESC + char, so it takes 2 septets.
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

# (single-segment limit, per-segment limit once split), in septets or UTF-16 code units.
LIMITS: Final[dict[SmsEncoding, tuple[int, int]]] = {
    SmsEncoding.GSM7: (160, 153),
    SmsEncoding.UCS2: (70, 67),
}


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: SmsEncoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int  # an empty text still costs one segment

    @property
    def per_segment(self) -> int:
        single, multi = LIMITS[self.encoding]
        return single if self.segments <= 1 else multi


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def encoding_of(text: str) -> SmsEncoding:
    return SmsEncoding.GSM7 if is_gsm7(text) else SmsEncoding.UCS2


def char_units(char: str, encoding: SmsEncoding) -> int:
    """Units one character takes in `encoding` (2 for GSM-7 extension chars and astral chars)."""
    if encoding is SmsEncoding.GSM7:
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _pack(unit_sizes: list[int], per_segment: int) -> int:
    """Greedy packing into segments of `per_segment` units, never splitting one character."""
    segments, used = 1, 0
    for size in unit_sizes:
        if used + size > per_segment:
            segments, used = segments + 1, 0
        used += size
    return segments


def sms_length(text: str) -> SmsLength:
    """Encoding, units and billed segments of `text`."""
    encoding = encoding_of(text)
    sizes = [char_units(char, encoding) for char in text]
    units = sum(sizes)
    single, multi = LIMITS[encoding]
    segments = 1 if units <= single else _pack(sizes, multi)
    return SmsLength(encoding=encoding, units=units, segments=segments)


def segment_count(text: str) -> int:
    return sms_length(text).segments
