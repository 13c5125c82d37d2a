"""The pure notification rules: planning, preferences, quiet hours, backoff, ids."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from gateway.domain.events import Status
from gateway.notifications.rules import (
    DEFAULT_RULES,
    STATUS_EVENTS,
    ChannelKind,
    DeliveryMode,
    QuietHours,
    Reason,
    Recipient,
    Rule,
    Target,
    TriggerEvent,
    language,
    matching,
    notification_id,
    plan,
    quiet_until,
    retry_delay_s,
    triggers_for_change,
)

PUSH, SMS, EMAIL = ChannelKind.PUSH, ChannelKind.SMS, ChannelKind.EMAIL
EVERYONE = Recipient(name="Jo", phone="+15550100", email="jo@example.com", push_tokens=("t1", "t2"))
RULE = Rule("r", "r", frozenset({TriggerEvent.DELIVERED}), (PUSH, SMS, EMAIL))


def test_fallback_mode_uses_the_first_reachable_channel_and_keeps_the_rest() -> None:
    assert plan(RULE, EVERYONE) == plan(RULE, EVERYONE)
    planned = plan(RULE, EVERYONE)
    assert planned.targets == (Target(PUSH, "t1"), Target(PUSH, "t2"))  # every device
    assert planned.fallback == (SMS, EMAIL)
    no_app = plan(RULE, Recipient(phone="+15550100", email="jo@example.com"))
    assert no_app.targets == (Target(SMS, "+15550100"),) and no_app.fallback == (EMAIL,)


def test_all_mode_sends_on_every_reachable_channel() -> None:
    rule = Rule("r", "r", RULE.events, (SMS, EMAIL), DeliveryMode.ALL)
    assert plan(rule, EVERYONE).targets == (
        Target(SMS, "+15550100"),
        Target(EMAIL, "jo@example.com"),
    )


def test_the_recipients_choice_narrows_and_reorders() -> None:
    prefers_email = Recipient(phone="+15550100", email="jo@example.com", channels=(EMAIL, SMS))
    assert plan(RULE, prefers_email).targets == (Target(EMAIL, "jo@example.com"),)
    assert plan(RULE, prefers_email).fallback == (SMS,)
    none_at_all = Recipient(phone="+15550100", channels=())
    assert plan(RULE, none_at_all).suppressed is Reason.OPTED_OUT


def test_unreachable_recipients_are_recorded_not_dropped() -> None:
    assert plan(RULE, Recipient()).suppressed is Reason.NO_CONTACT
    assert plan(RULE, Recipient()).targets == (Target(PUSH, None),)
    sms_only = Recipient(phone="+15550100")
    assert plan(RULE, sms_only, unreachable={SMS}).suppressed is Reason.OPTED_OUT
    with_email = Recipient(phone="+15550100", email="jo@example.com")
    assert plan(RULE, with_email, unreachable={SMS}).targets == (Target(EMAIL, "jo@example.com"),)


def test_recipient_json_round_trip() -> None:
    recipient = Recipient.from_json(
        {
            "name": "Jo",
            "phone": "+1555",
            "push_tokens": None,
            "channels": ["sms"],
            "timezone": "Nope/Nope",
        }
    )
    assert recipient.channels == (SMS,) and recipient.push_tokens == ()
    assert recipient.zone == ZoneInfo("UTC")  # an unknown zone cannot stop a message
    assert Recipient.from_json(None) == Recipient()


@pytest.mark.parametrize(
    ("before", "after", "eta_moved", "expected"),
    [
        (Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, True, (TriggerEvent.OUT_FOR_DELIVERY,)),
        (Status.IN_TRANSIT, Status.IN_TRANSIT, True, (TriggerEvent.ETA_CHANGED,)),
        (Status.IN_TRANSIT, Status.IN_TRANSIT, False, ()),
        (Status.IN_TRANSIT, Status.UNKNOWN, False, ()),
        (None, Status.DELIVERED, False, (TriggerEvent.DELIVERED,)),
    ],
)
def test_which_news_a_change_is(
    before: Status | None, after: Status, eta_moved: bool, expected: tuple[TriggerEvent, ...]
) -> None:
    assert triggers_for_change(before, after, eta_moved) == expected


def test_default_rules_cover_the_moments_that_matter() -> None:
    for event in (
        "out_for_delivery",
        "arriving",
        "delivered",
        "failed_attempt",
        "exception",
        "late",
    ):
        assert matching(DEFAULT_RULES, TriggerEvent(event))
    assert not matching(DEFAULT_RULES, TriggerEvent.IN_TRANSIT)
    disabled = Rule("d", "d", frozenset({TriggerEvent.LATE}), (SMS,), enabled=False)
    assert matching([disabled], TriggerEvent.LATE) == []


def test_notification_ids_derive_from_cause_channel_and_address() -> None:
    one = notification_id("shp_1:abc", SMS, "+1555")
    assert one == notification_id("shp_1:abc", SMS, "+1555") and one.startswith("ntf_")
    assert (
        len({one, notification_id("shp_1:abc", EMAIL, "+1555"), notification_id("x", SMS, "+1555")})
        == 3
    )


NIGHT = QuietHours(time(21), time(8))
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("utc", "until"),
    [
        (
            datetime(2026, 3, 17, 2, 0, tzinfo=UTC),
            datetime(2026, 3, 17, 12, 0, tzinfo=UTC),
        ),  # 22:00
        (
            datetime(2026, 3, 17, 11, 0, tzinfo=UTC),
            datetime(2026, 3, 17, 12, 0, tzinfo=UTC),
        ),  # 07:00
        (datetime(2026, 3, 17, 12, 0, tzinfo=UTC), None),  # 08:00 sharp: awake
        (datetime(2026, 3, 17, 18, 0, tzinfo=UTC), None),  # 14:00
        # The night the clocks go forward (8 March 2026): 08:00 EDT is 12:00 UTC.
        (datetime(2026, 3, 8, 3, 0, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_in_the_recipients_zone(utc: datetime, until: datetime | None) -> None:
    assert quiet_until(utc, NY, NIGHT) == until


def test_daytime_quiet_hours_and_none() -> None:
    lunch = QuietHours(time(12), time(13))
    assert quiet_until(datetime(2026, 3, 17, 16, 30, tzinfo=UTC), NY, lunch) == datetime(
        2026, 3, 17, 17, 0, tzinfo=UTC
    )
    assert quiet_until(datetime(2026, 3, 17, 2, tzinfo=UTC), NY, None) is None


def test_backoff_has_jitter_a_floor_and_an_end() -> None:
    rng = random.Random(7)  # noqa: S311 - jitter, not crypto
    delays = [retry_delay_s(1, (10.0, 60.0), rng=rng) for _ in range(200)]
    assert all(d is not None and 8.0 <= d <= 12.0 for d in delays)
    assert len(set(delays)) > 100  # spread out, not a thundering herd
    assert retry_delay_s(1, (10.0,), retry_after_s=30.0) == 30.0
    assert retry_delay_s(3, (10.0, 60.0)) is None


def test_language_fallback() -> None:
    assert [language(x) for x in ("en-US", "es-MX", "es", "fr-FR", None, "")] == [
        "en",
        "es",
        "es",
        "en",
        "en",
        "en",
    ]


def test_every_status_but_unknown_notifies_as_its_own_event() -> None:
    assert {event.value for event in STATUS_EVENTS.values()} == {
        status.value for status in Status if status is not Status.UNKNOWN
    }
    assert all(STATUS_EVENTS[status] == status.value for status in STATUS_EVENTS)
