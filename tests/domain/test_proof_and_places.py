"""The one place formatter and the one photo rule that the page and the messages share."""

from __future__ import annotations

import pytest

from gateway.domain.events import Location
from gateway.domain.proof import inline_photo, photo_src

JPEG = "data:image/jpeg;base64,/9j/4AAQSkZJRg=="


@pytest.mark.parametrize(
    ("location", "label"),
    [
        (Location("CHARLOTTE", "NC", "28209", "US"), "Charlotte, NC"),
        (Location("São Paulo", None, None, "BR"), "São Paulo, BR"),  # mixed case stays
        (Location("McAllen", "TX"), "McAllen, TX"),
        (Location(None, None, "28209", "US"), "US"),
        (Location(), None),
    ],
)
def test_a_place_reads_the_same_everywhere(location: Location, label: str | None) -> None:
    assert location.label() == label


def test_stored_locations_come_back_as_locations() -> None:
    stored = Location("CHARLOTTE", "NC", None, "US").to_json()
    assert Location.from_json(stored) == Location("CHARLOTTE", "NC", None, "US")
    assert Location.from_json({"city": "", "region": None}) is None
    assert Location.from_json(None) is None


@pytest.mark.parametrize(
    ("photo_url", "src"),
    [
        ("https://cdn.example.com/pod/1.jpg", "https://cdn.example.com/pod/1.jpg"),
        (JPEG, "https://gw.example/t/tok/photo"),  # inline: the link serves it
        ("data:image/png;base64,iVBORw0KGgo=", "https://gw.example/t/tok/photo"),
        ("http://cdn.example.com/pod/1.jpg", None),  # never plain http
        ("data:image/svg+xml;base64,PHN2Zz4=", None),  # SVG can carry script
        ("data:image/jpeg;base64,not base64!", None),
        ("javascript:alert(1)", None),
        (None, None),
    ],
)
def test_one_rule_decides_which_photo_is_shown(photo_url: str | None, src: str | None) -> None:
    assert photo_src(photo_url, "https://gw.example/t/tok") == src


def test_the_inline_photo_is_served_as_its_own_type() -> None:
    photo = inline_photo(JPEG)
    assert photo is not None and (photo.subtype, photo.data) == ("jpeg", "/9j/4AAQSkZJRg==")


def test_emails_embed_small_inline_photos_and_link_big_ones() -> None:
    link = "https://gw.example/t/tok"
    big = "data:image/jpeg;base64," + "A" * 400_000
    assert photo_src(JPEG, link, embed_up_to=300_000) == JPEG
    assert photo_src(big, link, embed_up_to=300_000) == link + "/photo"
