"""The ingest benchmark's requests: distinct, signed FedEx and UPS webhooks from the fixtures.

Each body is an `out_for_delivery` fixture with its own tracking number and event time, so every
request of a run is a new event (a repeat would only exercise the cheaper duplicate path).
FedEx requests carry `fdx-signature: base64(HMAC-SHA256(secret, body))` over the exact bytes
sent; UPS requests carry the static `credential` header. The request file has one request a
line, `path<TAB>header-name<TAB>header-value<TAB>body`, read by `ingest.lua` and `loadgen.py`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

from benchlib import REPO_ROOT, BenchError

from webhooks.registry import CARRIERS, auth_from_config
from webhooks.signing import sign

FIXTURES: Final = REPO_ROOT / "tests" / "fixtures" / "carriers"

# Secrets of this run's carrier connections (the same in every database, so the request file
# differs between targets only in its paths).
FEDEX_SECRET: Final = "bench-fedex-" + uuid.uuid4().hex
UPS_SECRET: Final = "bench-ups-" + uuid.uuid4().hex
AUTH_CONFIG: Final[dict[str, dict[str, str]]] = {
    "fedex": {"scheme": "hmac_sha256_base64", "header": "fdx-signature", "secret": FEDEX_SECRET},
    "ups": {"scheme": "static_header", "header": "credential", "secret": UPS_SECRET},
}


@dataclass(frozen=True, slots=True)
class Webhook:
    carrier: str
    body: bytes  # the exact bytes that were signed and are sent
    events: int


def _fixture_body(carrier: str, case: str) -> dict[str, Any]:
    fixture = json.loads((FIXTURES / carrier / f"{case}.json").read_text(encoding="utf-8"))
    body: dict[str, Any] = json.loads(fixture["request"]["body"])
    return body


def _compact(document: dict[str, Any]) -> bytes:
    # ensure_ascii: no raw tabs or newlines can reach the one-request-a-line file.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def generate_webhooks(per_carrier: int) -> list[Webhook]:
    """FedEx and UPS out-for-delivery pushes, alternating, each with its own tracking number."""
    fedex_base = _fixture_body("fedex", "out_for_delivery")
    ups_base = _fixture_body("ups", "out_for_delivery")
    central = timezone(timedelta(hours=-5))
    start = datetime(2026, 3, 14, 6, 0, 0, tzinfo=central)
    out: list[Webhook] = []
    for i in range(per_carrier):
        when = start + timedelta(seconds=i)

        fedex = json.loads(json.dumps(fedex_base))  # a deep copy
        tracking = f"{990_000_000_000 + i:012d}"
        package = fedex["output"]["completeTrackResults"][0]
        package["trackingNumber"] = tracking
        result = package["trackResults"][0]
        info = result["trackingNumberInfo"]
        info["trackingNumber"] = tracking
        info["trackingNumberUniqueId"] = f"2460~{tracking}~FDEG"
        result["scanEvents"][0]["date"] = when.isoformat()
        fedex["transactionId"] = str(uuid.UUID(int=i))
        out.append(Webhook("fedex", _compact(fedex), 1))

        ups = dict(ups_base)
        ups["trackingNumber"] = f"1Z8R2F61{i:010d}"
        local = when.astimezone(timezone(timedelta(hours=-4)))
        gmt = when.astimezone(UTC)
        ups["localActivityDate"] = local.strftime("%Y%m%d")
        ups["localActivityTime"] = local.strftime("%H%M%S")
        ups["gmtActivityDate"] = gmt.strftime("%Y%m%d")
        ups["gmtActivityTime"] = gmt.strftime("%H%M%S")
        out.append(Webhook("ups", _compact(ups), 1))
    return out


def auth_header(webhook: Webhook) -> tuple[str, str]:
    config = AUTH_CONFIG[webhook.carrier]
    if webhook.carrier == "fedex":
        return config["header"], sign(config["secret"].encode(), webhook.body)
    return config["header"], config["secret"]


def self_check(webhooks: Sequence[Webhook]) -> None:
    """Verify and parse a few requests with the gateway's own adapters before any load."""
    now = datetime.now(UTC)
    samples = [*webhooks[:2], *webhooks[-2:]]
    for webhook in samples:
        adapter = CARRIERS[webhook.carrier]
        auth = auth_from_config(webhook.carrier, AUTH_CONFIG[webhook.carrier])
        name, value = auth_header(webhook)
        headers = {"Content-Type": "application/json", name: value}
        adapter.verify(headers, webhook.body, auth, now=now)
        parsed = adapter.parse(webhook.body)
        if len(parsed) != webhook.events:
            raise BenchError(f"{webhook.carrier} sample parsed to {len(parsed)} events")
    if len({w.body for w in webhooks}) != len(webhooks):
        raise BenchError("generated bodies are not all distinct")


def write_request_file(path: Path, webhooks: Sequence[Webhook], paths: dict[str, str]) -> None:
    """One request a line: path, header name, header value, body, separated by tabs."""
    with path.open("w", encoding="ascii", newline="\n") as out:
        for webhook in webhooks:
            name, value = auth_header(webhook)
            body = webhook.body.decode("ascii")
            fields = (paths[webhook.carrier], name, value, body)
            if any(("\t" in f or "\n" in f) for f in fields):
                raise BenchError("a request field contains a tab or newline")
            out.write("\t".join(fields) + "\n")
