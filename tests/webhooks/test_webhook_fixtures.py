"""Every carrier fixture through its adapter: verify, then parse, exactly as the fixture expects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from tests.webhooks.carrier_fixtures import CARRIER_NAMES, CASES, FIXTURES_DIR, CarrierCase
from webhooks.base import BadPayload, BadSignature
from webhooks.registry import CARRIERS, auth_from_config

ACCEPTED = [case for case in CASES if case.expect_http == "accepted"]


def _ids(cases: list[CarrierCase]) -> list[str]:
    return [case.id for case in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_fixture(case: CarrierCase) -> None:
    adapter = CARRIERS[case.carrier]
    auth = auth_from_config(case.carrier, case.auth)
    if case.expect_http == "rejected_auth":
        with pytest.raises(BadSignature):
            adapter.verify(case.headers, case.body, auth, now=case.now())
        assert case.expect_events == []
        return
    adapter.verify(case.headers, case.body, auth, now=case.now())
    if case.expect_http == "rejected_bad_request":
        with pytest.raises(BadPayload):
            adapter.parse(case.body)
        assert case.expect_events == []
        return
    assert case.expect_http == "accepted"
    assert [event.to_json() for event in adapter.parse(case.body)] == case.expect_events


def test_every_carrier_has_fixtures_of_every_outcome() -> None:
    assert (
        set(CARRIERS)
        == set(CARRIER_NAMES)
        == {p.name for p in FIXTURES_DIR.iterdir() if p.is_dir()}
    )
    for carrier in CARRIER_NAMES:
        assert any(case.carrier == carrier for case in ACCEPTED)
    outcomes = {case.expect_http for case in CASES}
    assert outcomes == {"accepted", "rejected_auth", "rejected_bad_request"}


@pytest.mark.parametrize("case", ACCEPTED, ids=_ids(ACCEPTED))
def test_header_names_are_case_insensitive(case: CarrierCase) -> None:
    adapter = CARRIERS[case.carrier]
    auth = auth_from_config(case.carrier, case.auth)
    for name_case in (str.lower, str.upper, str.title):
        headers = {name_case(name): value for name, value in case.headers.items()}
        adapter.verify(headers, case.body, auth, now=case.now())
    aiohttp_headers = CIMultiDictProxy(CIMultiDict(case.headers))
    adapter.verify(aiohttp_headers, case.body, auth, now=case.now())


@pytest.mark.parametrize("case", ACCEPTED, ids=_ids(ACCEPTED))
def test_a_repeated_auth_header_is_rejected(case: CarrierCase) -> None:
    adapter = CARRIERS[case.carrier]
    auth = auth_from_config(case.carrier, case.auth)
    headers = CIMultiDict(case.headers)
    headers.add(auth.header.upper(), headers[auth.header])  # same value twice: still ambiguous
    with pytest.raises(BadSignature):
        adapter.verify(CIMultiDictProxy(headers), case.body, auth, now=case.now())


@pytest.mark.parametrize("case", ACCEPTED, ids=_ids(ACCEPTED))
def test_a_rotated_secret_verifies_alongside_the_new_one(case: CarrierCase) -> None:
    adapter = CARRIERS[case.carrier]
    config = case.auth
    secret = config.pop("secret")
    for secrets in ([secret, "next-secret-0123456789"], ["old-secret-0123456789", secret]):
        auth = auth_from_config(case.carrier, config | {"secrets": secrets})
        adapter.verify(case.headers, case.body, auth, now=case.now())
    auth = auth_from_config(case.carrier, config | {"secrets": ["another-secret-0123456789"]})
    with pytest.raises(BadSignature):
        adapter.verify(case.headers, case.body, auth, now=case.now())


@pytest.mark.parametrize("case", ACCEPTED, ids=_ids(ACCEPTED))
def test_verify_rejects_a_connection_of_another_scheme(case: CarrierCase) -> None:
    adapter = CARRIERS[case.carrier]
    for other in CARRIER_NAMES:
        other_adapter = CARRIERS[other]
        if other_adapter.AUTH_SCHEME is adapter.AUTH_SCHEME:
            continue
        config = {"scheme": other_adapter.AUTH_SCHEME.value, "header": case.auth["header"]}
        auth = auth_from_config(other, config | {"secret": case.auth["secret"]})
        with pytest.raises(BadSignature):
            adapter.verify(case.headers, case.body, auth, now=case.now())


def test_an_exact_redelivery_normalizes_to_the_same_events() -> None:
    by_id = {case.id: case for case in CASES}
    first = CARRIERS["fedex"].parse(by_id["fedex/out_for_delivery"].body)
    again = CARRIERS["fedex"].parse(by_id["fedex/duplicate_of_out_for_delivery"].body)
    assert first == again
    assert [event.identity() for event in first] == [event.identity() for event in again]


@pytest.mark.parametrize("offset_s", [-86_400, 86_400])
def test_usps_freshness_window_is_inclusive(offset_s: int) -> None:
    case = next(case for case in ACCEPTED if case.carrier == "usps")
    auth = auth_from_config("usps", case.auth)
    assert auth.max_age_s == 86_400
    CARRIERS["usps"].verify(
        case.headers, case.body, auth, now=case.now() + timedelta(seconds=offset_s)
    )
    with pytest.raises(BadSignature):
        later = case.now() + timedelta(seconds=offset_s + (1 if offset_s > 0 else -1))
        CARRIERS["usps"].verify(case.headers, case.body, auth, now=later)
