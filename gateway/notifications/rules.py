"""Notification rules without I/O: which events notify whom, on which channel, and when.

A rule names trigger events and an ordered list of channel kinds. In `fallback` mode the
customer hears on the first channel they can be reached on, and a permanent failure there moves
the message to the next; in `all` mode every reachable channel gets it. The recipient's own
`channels` list (on the shipment) narrows and reorders what the rule allows.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from gateway.domain.events import Status
from gateway.domain.zones import zone_or_utc


class ChannelKind(StrEnum):
    PUSH = "push"
    SMS = "sms"
    EMAIL = "email"


class TriggerEvent(StrEnum):
    """What a customer can hear about: every canonical status but `unknown`, with Status's own
    values, plus the dispatcher's events (produced by the dispatch and ETA areas).

    The members are spelled out so that mypy knows them; `STATUS_EVENTS` fails at import if a
    status is ever added to `Status` without its event here.
    """

    PRE_TRANSIT = Status.PRE_TRANSIT.value
    IN_TRANSIT = Status.IN_TRANSIT.value
    OUT_FOR_DELIVERY = Status.OUT_FOR_DELIVERY.value
    FAILED_ATTEMPT = Status.FAILED_ATTEMPT.value
    AVAILABLE_FOR_PICKUP = Status.AVAILABLE_FOR_PICKUP.value
    DELIVERED = Status.DELIVERED.value
    EXCEPTION = Status.EXCEPTION.value
    RETURNED = Status.RETURNED.value
    ARRIVING = "arriving"  # the driver is a few stops away
    LATE = "late"  # the promised time will be missed
    ETA_CHANGED = "eta_changed"


# The event a new status notifies as: built from Status, so a missing member is a KeyError here.
STATUS_EVENTS: Final[Mapping[Status, TriggerEvent]] = {
    status: TriggerEvent[status.name] for status in Status if status is not Status.UNKNOWN
}


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # internal: the provider call is under way (shown as queued)
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class Reason(StrEnum):
    """Why a notification was not (or not yet) sent; provider error codes are used as they are."""

    OPTED_OUT = "opted_out"
    SUPERSEDED = "superseded"
    NO_CONTACT = "no_contact"
    QUIET_HOURS = "quiet_hours"  # a deferral: the row stays queued
    COLLAPSE_WINDOW = "collapse_window"  # a deferral: waiting for newer news
    UNCHANGED = "unchanged"  # a burst's last word was what the customer had already heard
    OUTCOME_UNKNOWN = "outcome_unknown"  # the worker died during the provider call
    RETRIES_EXHAUSTED = "retries_exhausted"
    NO_CHANNEL = "channel_not_configured"


class DeliveryMode(StrEnum):
    FALLBACK = "fallback"
    ALL = "all"


LIVE_STATUSES: Final = frozenset(
    {
        NotificationStatus.QUEUED,
        NotificationStatus.SENDING,
        NotificationStatus.SENT,
        NotificationStatus.DELIVERED,
    }
)
DEFAULT_CHANNEL_ORDER: Final = (ChannelKind.PUSH, ChannelKind.SMS, ChannelKind.EMAIL)
LANGUAGES: Final = ("en", "es")
DEFAULT_LANGUAGE: Final = "en"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    events: frozenset[TriggerEvent]
    channels: tuple[ChannelKind, ...]
    mode: DeliveryMode = DeliveryMode.FALLBACK
    enabled: bool = True


# What a tenant gets until it writes its own rules.
DEFAULT_RULES: Final = (
    Rule(
        id="default",
        name="Default: the moments a customer cares about",
        events=frozenset(
            {
                TriggerEvent.OUT_FOR_DELIVERY,
                TriggerEvent.ARRIVING,
                TriggerEvent.DELIVERED,
                TriggerEvent.FAILED_ATTEMPT,
                TriggerEvent.EXCEPTION,
                TriggerEvent.LATE,
            }
        ),
        channels=DEFAULT_CHANNEL_ORDER,
    ),
)


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    push_tokens: tuple[str, ...] = ()
    locale: str = "en-US"
    timezone: str = "UTC"
    channels: tuple[ChannelKind, ...] | None = None  # the customer's choice, in order

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Recipient:
        if not data:
            return cls()
        chosen = data.get("channels")
        return cls(
            name=data.get("name"),
            phone=data.get("phone"),
            email=data.get("email"),
            push_tokens=tuple(data.get("push_tokens") or ()),
            locale=data.get("locale") or "en-US",
            timezone=data.get("timezone") or "UTC",
            channels=None if chosen is None else tuple(ChannelKind(c) for c in chosen),
        )

    def addresses(self, kind: ChannelKind) -> tuple[str, ...]:
        if kind is ChannelKind.SMS:
            return (self.phone,) if self.phone else ()
        if kind is ChannelKind.EMAIL:
            return (self.email,) if self.email else ()
        return self.push_tokens

    @property
    def zone(self) -> ZoneInfo:
        return zone_or_utc(self.timezone)


@dataclass(frozen=True, slots=True)
class Target:
    channel: ChannelKind
    address: str | None  # None: a `no_contact` record


@dataclass(frozen=True, slots=True)
class Plan:
    targets: tuple[Target, ...]
    fallback: tuple[ChannelKind, ...] = field(default=())  # tried in turn after a failure
    suppressed: Reason | None = None


def triggers_for_change(
    status_before: Status | None, status_after: Status, eta_changed: bool
) -> tuple[TriggerEvent, ...]:
    """A new status notifies as itself (its message carries the ETA); else an ETA move."""
    if status_before != status_after:
        event = STATUS_EVENTS.get(status_after)  # `unknown` notifies nobody
        return (event,) if event is not None else ()
    return (TriggerEvent.ETA_CHANGED,) if eta_changed else ()


def matching(rules: Sequence[Rule], event: TriggerEvent) -> list[Rule]:
    return [rule for rule in rules if rule.enabled and event in rule.events]


def channel_order(rule: Rule, recipient: Recipient) -> tuple[ChannelKind, ...]:
    """The rule's channels, narrowed and reordered by the recipient's own choice if any."""
    if recipient.channels is None:
        return rule.channels
    return tuple(kind for kind in recipient.channels if kind in rule.channels)


def plan(rule: Rule, recipient: Recipient, unreachable: Iterable[ChannelKind] = ()) -> Plan:
    """Targets for one rule. `unreachable`: channels the recipient opted out of (or unset)."""
    blocked = frozenset(unreachable)
    order = channel_order(rule, recipient)
    if not order:  # the customer chose none of the rule's channels
        return Plan((Target(rule.channels[0], None),), suppressed=Reason.OPTED_OUT)
    usable = [k for k in order if k not in blocked and recipient.addresses(k)]
    if not usable:
        opted_out = any(k in blocked and recipient.addresses(k) for k in order)
        reason = Reason.OPTED_OUT if opted_out else Reason.NO_CONTACT
        return Plan((Target(order[0], None),), suppressed=reason)
    if rule.mode is DeliveryMode.ALL:
        return Plan(tuple(Target(k, a) for k in usable for a in recipient.addresses(k)))
    first = usable[0]
    rest = tuple(order[order.index(first) + 1 :])
    return Plan(tuple(Target(first, a) for a in recipient.addresses(first)), fallback=rest)


def notification_id(cause_id: str, channel: ChannelKind, address: str | None) -> str:
    """Derived from (cause, channel, recipient address): a retried plan writes the same ids."""
    raw = f"{cause_id}\x00{channel.value}\x00{address or '-'}".encode()
    return "ntf_" + hashlib.sha256(raw).hexdigest()[:32]


def address_hash(address: str) -> str:
    """How phone numbers are kept where only a lookup is needed (opt-outs, inbound SMS)."""
    return hashlib.sha256(b"lastmile-address\x00" + address.encode()).hexdigest()


def language(locale: str | None) -> str:
    """`en-US` → `en`; an unsupported language falls back to English."""
    lang = (locale or DEFAULT_LANGUAGE).split("-")[0].split("_")[0].lower()
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # spans midnight


def quiet_until(now: datetime, zone: ZoneInfo, quiet: QuietHours | None) -> datetime | None:
    """The UTC moment quiet hours end if `now` falls in them (recipient's zone), else None."""
    if quiet is None or quiet.start == quiet.end:
        return None
    local = now.astimezone(zone)
    if not quiet.contains(local.time()):
        return None
    end_day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)
    end_local = datetime.combine(end_day, quiet.end, tzinfo=zone)
    return end_local.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class RecentSend:
    """A live notification on a shipment's channel, as the burst window sees it."""

    channel: ChannelKind
    status: NotificationStatus
    reason: str | None
    send_after: datetime | None
    sent_at: datetime | None  # for `sending`: when it was claimed


def burst_send_after(
    now: datetime, window: timedelta, channel: ChannelKind, recent: Iterable[RecentSend]
) -> datetime | None:
    """When news for a shipment on `channel` may go out: None means at once.

    Leading edge: the first news goes out at once. News within `window` of the last message
    sent (or being sent) joins a burst that closes `window` after it; news while a burst is
    already waiting joins that burst. The burst's newest news is sent at its close.
    """
    if not window:
        return None
    same = [r for r in recent if r.channel is channel]
    waiting = [
        r.send_after
        for r in same
        if r.status is NotificationStatus.QUEUED
        and r.reason == Reason.COLLAPSE_WINDOW.value
        and r.send_after is not None
        and r.send_after > now
    ]
    if waiting:
        return min(waiting)
    out = [r.sent_at for r in same if r.status is not NotificationStatus.QUEUED and r.sent_at]
    last = max(out, default=None)
    if last is not None and last + window > now:
        return last + window
    return None


def retry_delay_s(
    attempt: int,
    backoff_s: Sequence[float],
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds before provider attempt `attempt + 1`, or None once the schedule is spent.

    `attempt` counts failed attempts so far (1 after the first). Jitter spreads retries
    ±20 % so a provider outage does not end in a thundering herd; a provider's Retry-After
    is a floor.
    """
    if attempt > len(backoff_s):
        return None
    base = backoff_s[attempt - 1] * (rng or random).uniform(0.8, 1.2)  # jitter, not crypto
    return max(base, retry_after_s or 0.0)
