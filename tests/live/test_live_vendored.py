"""The vendored Leaflet is exactly what VENDORED.md records, and our scripts stay CSP-clean."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Final

STATIC: Final = Path(__file__).resolve().parents[2] / "gateway" / "live" / "static"
VENDOR: Final = STATIC / "vendor" / "leaflet"
OURS: Final = ("live.js", "track.js", "widget.js")


def recorded() -> dict[str, str]:
    """file -> sha256 from the ```sha256 block of VENDORED.md (sha256sum's format)."""
    text = (VENDOR / "VENDORED.md").read_text(encoding="utf-8")
    block = re.search(r"^```sha256\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    assert block is not None, "VENDORED.md has no ```sha256 block"
    lines = [line.split("  ", 1) for line in block[1].splitlines() if line.strip()]
    return {name: digest for digest, name in lines}


def test_vendored_files_match_the_recorded_sha256s() -> None:
    hashes = recorded()
    assert {"leaflet.js", "leaflet.css", "LICENSE"} <= hashes.keys()
    for name, digest in hashes.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_nothing_unrecorded_sits_in_the_vendor_directory() -> None:
    present = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()} - {
        "VENDORED.md"
    }
    assert present == recorded().keys()


def test_the_record_names_a_leaflet_1_9_release_and_its_npm_integrity() -> None:
    text = (VENDOR / "VENDORED.md").read_text(encoding="utf-8")
    version = re.search(r"^- Version: `(1\.9\.\d+)`$", text, re.MULTILINE)
    assert version is not None
    assert f"Leaflet {version[1]}," in (VENDOR / "leaflet.js").read_text()[:200]
    assert re.search(r"^- Integrity: `sha512-[A-Za-z0-9+/]{86}==`$", text, re.MULTILINE)


def test_our_scripts_use_nothing_a_strict_csp_refuses() -> None:
    refused = re.compile(
        r"\beval\s*\(|new\s+Function\b|setTimeout\(\s*['\"]|innerHTML|outerHTML|"
        r"insertAdjacentHTML|document\.write|cssText|setAttribute\(\s*['\"]style|style=|https?://[^'\"]*/static/"
    )
    for name in OURS:
        source = (STATIC / name).read_text(encoding="utf-8")
        assert refused.findall(source) == [], name
