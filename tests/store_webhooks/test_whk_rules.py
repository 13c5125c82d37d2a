"""The pure rules: retry schedule, Retry-After, forbidden addresses, URL checks, payload scrub."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gateway.store_webhooks.events import encode_body, message_id_for, scrub
from gateway.store_webhooks.schedule import BACKOFF_S, next_delay_s, parse_retry_after
from gateway.store_webhooks.ssrf import UnsafeURL, check_url, is_forbidden

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)


def test_schedule_is_immediately_5s_5min_30min_2h_5h_10h_10h() -> None:
    assert BACKOFF_S == (5, 300, 1800, 7200, 18000, 36000, 36000)
    rng = random.Random(1)  # noqa: S311 - reproducible jitter
    for failures, base in enumerate(BACKOFF_S, start=1):
        delay = next_delay_s(failures, rng=rng)
        assert delay is not None and base * 0.9 <= delay <= base * 1.1
    assert next_delay_s(len(BACKOFF_S) + 1) is None  # 8 attempts, then give up


def test_jitter_spreads_retries() -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible jitter
    assert len({next_delay_s(3, rng=rng) for _ in range(20)}) == 20


def test_retry_after_longer_than_schedule_wins_shorter_does_not() -> None:
    assert next_delay_s(1, retry_after_s=120) == 120
    delay = next_delay_s(3, retry_after_s=10)
    assert delay is not None and delay >= 1800 * 0.9
    assert next_delay_s(1, retry_after_s=10**9) == 24 * 3600  # capped


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        (format_datetime(NOW + timedelta(minutes=10), usegmt=True), 600.0),
        (format_datetime(NOW - timedelta(minutes=10), usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("-5", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.0.1", True),
        ("100.64.0.1", True),  # CGNAT
        ("169.254.169.254", True),  # cloud metadata
        ("169.254.1.1", True),
        ("0.0.0.0", True),  # noqa: S104 - an address under test
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("255.255.255.255", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00:ec2::254", True),  # AWS metadata over IPv6
        ("fc00::1", True),
        ("ff02::1", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("::ffff:10.0.0.1", True),
        ("64:ff9b::a00:1", True),  # NAT64 of 10.0.0.1
        ("8.8.8.8", False),
        ("93.184.216.34", False),
        ("2606:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    assert is_forbidden(ipaddress.ip_address(address)) is forbidden


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",
        "https://localhost/",
        "https://api.localhost/",
        "https://10.0.0.1/",
        "https://[::1]:8443/",
        "https://u:p@hooks.example.com/",
        "https://hooks.example.com/#frag",
        "https:///nohost",
        "gopher://hooks.example.com/",
        "https://hooks.example.com/" + "a" * 3000,
    ],
)
def test_production_url_check_refuses(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, dev=False)


def test_url_check_accepts_public_https_and_dev_loopback() -> None:
    assert check_url("https://hooks.example.com:8443/x?y=1", dev=False).host == "hooks.example.com"
    assert check_url("http://127.0.0.1:8080/x", dev=True).port == 8080
    with pytest.raises(UnsafeURL):
        check_url("ftp://127.0.0.1/x", dev=True)


def test_scrub_drops_contacts_unless_asked_and_tokens_always() -> None:
    data = {
        "shipment_id": "shp_1",
        "recipient": {"phone": "+15551230123", "email": "a@b.co", "push_tokens": ["t"]},
        "notes": [{"phone": "+15551230123", "text": "hi"}],
        "meta": {},
    }
    assert scrub(data, include_pii=False) == {
        "shipment_id": "shp_1",
        "notes": [{"text": "hi"}],
        "meta": {},
    }
    assert scrub(data, include_pii=True)["recipient"] == {
        "phone": "+15551230123",
        "email": "a@b.co",
    }


def test_message_ids_are_stable_per_key_and_endpoint() -> None:
    first = message_id_for("chg_1:status", "whep_a")
    assert first == message_id_for("chg_1:status", "whep_a")
    assert first.startswith("msg_")
    assert first != message_id_for("chg_1:status", "whep_b")
    assert first != message_id_for("chg_1:eta", "whep_a")


def test_body_shape() -> None:
    body = encode_body("rating.created", NOW, {"score": 5})
    assert body == '{"type":"rating.created","timestamp":"2026-03-16T12:00:00Z","data":{"score":5}}'
