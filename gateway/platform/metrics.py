"""Prometheus metrics, one registry per process (scrape every process).

A label whose values come from input (a carrier's status code) is passed through a
`BoundedLabel`: the first `cap` values are kept, later ones count as `other`, so no request can
grow the scrape without bound.
"""

from __future__ import annotations

import threading
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

WEBHOOK_REQUESTS: Final = Counter(
    "lastmile_webhook_requests_total", "Carrier webhook requests by outcome", ["carrier", "outcome"]
)
EVENTS_ACCEPTED: Final = Counter(
    "lastmile_events_accepted_total", "Canonical events accepted (before dedup)", ["carrier"]
)
EVENTS_DUPLICATE: Final = Counter(
    "lastmile_events_duplicate_total",
    "Accepted events that were already on the timeline",
    ["carrier"],
)
UNKNOWN_STATUS_CODES: Final = Counter(
    "lastmile_unknown_status_codes_total",
    "Carrier status codes with no canonical mapping",
    ["carrier", "code"],
)
OTHER: Final = "other"


class BoundedLabel:
    """Label values from input, at most `cap` distinct ones per process; the rest are `other`."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()  # prometheus_client is thread-safe; so is this

    def __call__(self, *value: str) -> str:
        """The label for `value` (the key may have several parts, e.g. carrier and code)."""
        with self._lock:
            if value in self._seen:
                return value[-1]
            if len(self._seen) < self._cap:
                self._seen.add(value)
                return value[-1]
        return OTHER


MAX_UNKNOWN_CODES: Final = 100  # distinct (carrier, code) label sets: unknown codes are rare
UNKNOWN_CODE_LABEL: Final = BoundedLabel(MAX_UNKNOWN_CODES)
OUTBOX_RELAYED: Final = Counter("lastmile_outbox_relayed_total", "Outbox jobs handed to arq")
OUTBOX_RELAY_ERRORS: Final = Counter(
    "lastmile_outbox_relay_errors_total", "Relay rounds that failed"
)
JOBS_RESTORED: Final = Counter(
    "lastmile_jobs_restored_total",
    "Jobs the reconciler queued again because Redis no longer held them",
    ["function"],
)
INGEST_BATCH_SIZE: Final = Histogram(
    "lastmile_ingest_batch_size",
    "Requests committed per ingest transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
JOBS_RUN: Final = Counter("lastmile_jobs_total", "Worker jobs finished", ["function", "outcome"])
NOTIFICATIONS_OUTCOME_UNKNOWN: Final = Gauge(
    "lastmile_notifications_outcome_unknown",
    "Notifications that may or may not have been sent (worker died or provider did not answer)",
    ["channel"],
)
LIVE_STREAMS: Final = Gauge("lastmile_live_streams", "Open live streams (SSE) in this process")
LIVE_STREAMS_DROPPED: Final = Counter(
    "lastmile_live_streams_dropped_total", "Live streams ended because the viewer fell behind"
)
