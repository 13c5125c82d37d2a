"""SMS segment counting: GSM-7 (with the 2-septet extension table) and UCS-2 (UTF-16 units)."""

from __future__ import annotations

import pytest

from channels.sms_length import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsEncoding,
    encoding_of,
    segment_count,
    sms_length,
)

GSM, UCS = SmsEncoding.GSM7, SmsEncoding.UCS2

# (text, encoding, units, segments)
CASES = [
    ("", GSM, 0, 1),
    ("Out for delivery", GSM, 16, 1),
    ("a" * 160, GSM, 160, 1),
    ("a" * 161, GSM, 161, 2),
    ("a" * 306, GSM, 306, 2),
    ("a" * 307, GSM, 307, 3),
    ("a\r\nb", GSM, 4, 1),
    ("[{}]", GSM, 8, 1),  # extension characters: ESC + char
    ("€" * 80, GSM, 160, 1),
    ("€" * 81, GSM, 162, 2),
    ("a" * 159 + "€", GSM, 161, 2),  # the euro sign tips it over
    ("a" * 152 + "€" + "a" * 152, GSM, 306, 3),  # ESC+€ is never split across segments
    ("Ñandú", UCS, 5, 1),  # ñ is GSM-7, ú is not: the whole text goes UCS-2
    ("¿Dónde está mi pedido?", UCS, 22, 1),
    ("Entrega às 14h, Çà ÉÖÜ ñ §", GSM, 26, 1),
    ("á" * 70, UCS, 70, 1),
    ("a" * 70 + "á", UCS, 71, 2),
    ("á" * 134, UCS, 134, 2),
    ("á" * 135, UCS, 135, 3),
    ("🚚", UCS, 2, 1),  # outside the BMP: a surrogate pair
    ("🚚" * 35, UCS, 70, 1),
    ("🚚" * 36, UCS, 72, 2),
    ("x" * 66 + "🚚" + "x" * 66, UCS, 134, 3),  # a surrogate pair is never split
    ("`backtick`", UCS, 10, 1),
]


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), CASES)
def test_length(text: str, encoding: SmsEncoding, units: int, segments: int) -> None:
    length = sms_length(text)

    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)
    assert segment_count(text) == segments


@pytest.mark.parametrize(
    ("text", "per_segment"),
    [("a", 160), ("a" * 161, 153), ("á", 70), ("á" * 71, 67)],
)
def test_per_segment_limit(text: str, per_segment: int) -> None:
    assert sms_length(text).per_segment == per_segment


def test_tables() -> None:
    assert len(GSM7_BASIC) == 127  # 128 code points minus the escape
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION
    assert encoding_of("".join(sorted(GSM7_BASIC | GSM7_EXTENSION))) is GSM
