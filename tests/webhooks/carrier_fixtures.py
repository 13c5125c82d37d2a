"""The carrier webhook fixtures in tests/fixtures/carriers, for every test that replays them.

    from tests.webhooks.carrier_fixtures import CASES

    @pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
    def test_something(case: CarrierCase) -> None:
        carrier, name, fixture = case  # or case.body, case.headers, case.now(), ...

(tests/webhooks has no __init__.py on purpose: it would make pytest import it as a package
named `webhooks`, shadowing the real one. `tests.webhooks` resolves as a namespace package.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

FIXTURES_DIR: Final = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
CARRIER_NAMES: Final = ("ups", "fedex", "usps", "dhl")

# The clock for schemes that sign no timestamp (their verify ignores it): inside the
# fixtures' week, so it also works for any freshness check a future scheme adds.
FIXED_NOW: Final = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


class CarrierCase(NamedTuple):
    carrier: str
    case: str
    fixture: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.carrier}/{self.case}"

    @property
    def body(self) -> bytes:
        """The exact request bytes: the UTF-8 encoding of `request.body`."""
        return str(self.fixture["request"]["body"]).encode()

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.fixture["request"]["headers"])

    @property
    def auth(self) -> dict[str, Any]:
        """The connection's `auth` object, as `POST /v1/carrier-connections` takes it."""
        return dict(self.fixture["auth"])

    @property
    def expect_http(self) -> str:
        """`accepted`, `rejected_auth` or `rejected_bad_request`."""
        return str(self.fixture["expect"]["http"])

    @property
    def expect_events(self) -> list[dict[str, Any]]:
        return list(self.fixture["expect"]["events"])

    def now(self) -> datetime:
        """The clock to verify with: the USPS envelope `timestamp`, else FIXED_NOW."""
        if self.carrier == "usps":
            try:
                stamp = json.loads(self.body)["timestamp"]
                return datetime.fromisoformat(stamp)
            except (ValueError, KeyError, TypeError):
                pass  # an envelope broken on purpose: verify must reject it anyway
        return FIXED_NOW


def load_cases() -> list[CarrierCase]:
    """Every fixture, ordered by carrier (as in CARRIER_NAMES) and then by case name."""
    cases = []
    for carrier in CARRIER_NAMES:
        for path in sorted((FIXTURES_DIR / carrier).glob("*.json")):
            fixture = json.loads(path.read_text(encoding="utf-8"))
            assert (fixture["carrier"], fixture["case"]) == (carrier, path.stem), path
            cases.append(CarrierCase(carrier, path.stem, fixture))
    return cases


CASES: Final = load_cases()
