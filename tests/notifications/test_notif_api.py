"""Merchant API for notifications: rules CRUD, settings, templates, the log; tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

import gateway.app  # noqa: F401  (registers every operation)
from gateway.app import STORE_API
from gateway.platform.http.openapi import openapi_document
from tests.notifications.notif_support import shipment_body
from tests.support import Store, make_store

RULE = {"name": "Big moments", "events": ["out_for_delivery", "delivered"], "channels": ["sms"]}


async def _rule(client: TestClient[Any, Any], store: Store, **body: Any) -> Any:
    return await client.post("/v1/notification-rules", json={**RULE, **body}, headers=store.headers)


async def test_rules_crud(client: TestClient[Any, Any], engine: AsyncEngine) -> None:
    store = await make_store(engine)
    before = await (await client.get("/v1/notification-rules", headers=store.headers)).json()

    created = await _rule(client, store, channels=["push", "sms", "email"], events=["arriving"])
    rule = await created.json()
    patched = await client.patch(
        f"/v1/notification-rules/{rule['id']}",
        json={"enabled": False, "mode": "all"},
        headers=store.headers,
    )
    fetched = await client.get(f"/v1/notification-rules/{rule['id']}", headers=store.headers)
    listed = await (await client.get("/v1/notification-rules", headers=store.headers)).json()
    deleted = await client.delete(f"/v1/notification-rules/{rule['id']}", headers=store.headers)
    gone = await client.get(f"/v1/notification-rules/{rule['id']}", headers=store.headers)

    assert before["defaults_active"] is True and before["rules"] == []
    assert set(before["defaults"][0]["events"]) == {
        "out_for_delivery",
        "arriving",
        "delivered",
        "failed_attempt",
        "exception",
        "late",
    }
    assert created.status == 201 and rule["id"].startswith("nrl_")
    assert (rule["channels"], rule["mode"], rule["enabled"]) == (
        ["push", "sms", "email"],
        "fallback",
        True,
    )
    assert patched.status == 200
    assert await fetched.json() == {
        **rule,
        "enabled": False,
        "mode": "all",
        "updated_at": (await fetched.json())["updated_at"],
    }
    assert listed["defaults_active"] is False and len(listed["rules"]) == 1
    assert (deleted.status, gone.status) == (204, 404)


@pytest.mark.parametrize(
    "body",
    [
        {"events": []},
        {"events": ["teleported"]},
        {"channels": ["fax"]},
        {"channels": ["sms", "sms"]},
        {"mode": "sometimes"},
        {"name": ""},
        {"surprise": 1},
    ],
)
async def test_bad_rules_are_refused(
    client: TestClient[Any, Any], engine: AsyncEngine, body: dict[str, Any]
) -> None:
    store = await make_store(engine)
    response = await _rule(client, store, **body)
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "validation_error"
    listed = await (await client.get("/v1/notification-rules", headers=store.headers)).json()
    assert listed["rules"] == []


async def test_settings_defaults_and_partial_updates(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    defaults = await (await client.get("/v1/notification-settings", headers=store.headers)).json()

    changed = await client.patch(
        "/v1/notification-settings",
        json={"urgent_events": ["delivered", "failed_attempt"], "quiet_hours": None},
        headers=store.headers,
    )
    refused = await client.patch(
        "/v1/notification-settings",
        json={"quiet_hours": {"start": "25:00", "end": "08:00"}},
        headers=store.headers,
    )
    nulled = await client.patch(
        "/v1/notification-settings", json={"collapse_window_s": None}, headers=store.headers
    )
    now = await (await client.get("/v1/notification-settings", headers=store.headers)).json()

    assert defaults == {
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "urgent_events": [],
        "collapse_window_s": 30,
        "email_proof_of_delivery": True,
        "help_text": None,
    }
    assert changed.status == 200
    assert (refused.status, nulled.status) == (422, 422)
    assert now == {
        **defaults,
        "quiet_hours": None,
        "urgent_events": ["delivered", "failed_attempt"],
    }


async def test_templates_are_checked_stored_and_removed(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    path = "/v1/templates/push/es/delivered"

    saved = await client.put(
        path,
        json={"title": "¡Entregado!", "body": "{{ store_name }}: ya está."},
        headers=store.headers,
    )
    missing_part = await client.put(path, json={"title": "x"}, headers=store.headers)
    wrong_part = await client.put(
        "/v1/templates/sms/en/delivered", json={"body": "x", "html": "<b>"}, headers=store.headers
    )
    syntax = await client.put(
        "/v1/templates/sms/en/delivered", json={"body": "{% if %}"}, headers=store.headers
    )
    unknown_variable = await client.put(
        "/v1/templates/sms/en/delivered", json={"body": "{{ secret }}"}, headers=store.headers
    )
    no_slot = await client.put(
        "/v1/templates/fax/en/delivered", json={"body": "x"}, headers=store.headers
    )
    listed = await (await client.get("/v1/templates", headers=store.headers)).json()
    deleted = await client.delete(path, headers=store.headers)
    again = await client.delete(path, headers=store.headers)

    assert saved.status == 200
    assert (await saved.json())["parts"] == {
        "title": "¡Entregado!",
        "body": "{{ store_name }}: ya está.",
    }
    assert (missing_part.status, wrong_part.status, no_slot.status) == (422, 422, 404)
    assert (await missing_part.json())["error"]["code"] == "invalid_template"
    assert (await syntax.json())["error"]["message"].startswith("body: syntax error on line 1")
    assert "'secret' is undefined" in (await unknown_variable.json())["error"]["message"]
    assert [(t["channel"], t["locale"], t["event"]) for t in listed["templates"]] == [
        ("push", "es", "delivered")
    ]
    assert "tracking_url" in listed["variables"]
    assert (deleted.status, again.status) == (204, 404)


MALICIOUS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ store_name.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
]


@pytest.mark.parametrize("source", MALICIOUS)
async def test_a_malicious_template_cannot_reach_python_internals(
    client: TestClient[Any, Any], engine: AsyncEngine, source: str
) -> None:
    store = await make_store(engine)
    response = await client.put(
        "/v1/templates/sms/en/delivered", json={"body": source}, headers=store.headers
    )
    assert response.status == 422
    assert "subclass" not in await response.text() and "posix" not in await response.text()
    listed = await (await client.get("/v1/templates", headers=store.headers)).json()
    assert listed["templates"] == []


async def test_notifications_need_a_shipment_id(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    missing = await client.get("/v1/notifications", headers=store.headers)
    unknown = await client.get(
        "/v1/notifications", params={"shipment_id": "shp_nope"}, headers=store.headers
    )
    assert (missing.status, unknown.status) == (400, 404)


async def test_every_notification_endpoint_hides_other_tenants_objects(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    owner, other = await make_store(engine, "Owner"), await make_store(engine, "Other")
    rule = await (await _rule(client, owner)).json()
    shipment = await (
        await client.post("/v1/shipments", json=shipment_body(), headers=owner.headers)
    ).json()
    await client.put(
        "/v1/templates/sms/en/delivered",
        json={"body": "mine {{ tracking_url }}"},
        headers=owner.headers,
    )
    await client.patch(
        "/v1/notification-settings", json={"collapse_window_s": 5}, headers=owner.headers
    )
    rule_path = f"/v1/notification-rules/{rule['id']}"

    answers = [
        await client.get(rule_path, headers=other.headers),
        await client.patch(rule_path, json={"enabled": False}, headers=other.headers),
        await client.delete(rule_path, headers=other.headers),
        await client.get(
            "/v1/notifications", params={"shipment_id": shipment["id"]}, headers=other.headers
        ),
        await client.delete("/v1/templates/sms/en/delivered", headers=other.headers),
    ]
    their_rules = await (await client.get("/v1/notification-rules", headers=other.headers)).json()
    their_templates = await (await client.get("/v1/templates", headers=other.headers)).json()
    their_settings = await (
        await client.get("/v1/notification-settings", headers=other.headers)
    ).json()

    assert [a.status for a in answers] == [404] * 5
    assert their_rules["rules"] == [] and their_templates["templates"] == []
    assert their_settings["collapse_window_s"] == 30
    mine = await (await client.get(rule_path, headers=owner.headers)).json()
    assert mine["enabled"] is True  # the other store's PATCH changed nothing


def test_openapi_describes_the_notification_endpoints() -> None:
    # The document itself: no app running (so no relay racing the test's teardown).
    paths = openapi_document(STORE_API)["paths"]
    assert set(paths["/v1/notification-rules"]) == {"get", "post"}
    assert set(paths["/v1/notification-rules/{id}"]) == {"get", "patch", "delete"}
    assert set(paths["/v1/notification-settings"]) == {"get", "patch"}
    assert set(paths["/v1/templates/{channel}/{locale}/{event}"]) == {"put", "delete"}
    assert "get" in paths["/v1/templates"] and "get" in paths["/v1/notifications"]
    schemas = openapi_document(STORE_API)["components"]["schemas"]
    assert "channels" in schemas["RecipientIn"]["properties"]


async def test_recipient_channel_preferences_are_validated(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    bad = shipment_body(channels=["pigeon"])
    good = shipment_body(channels=["email"])
    assert (await client.post("/v1/shipments", json=bad, headers=store.headers)).status == 422
    assert (await client.post("/v1/shipments", json=good, headers=store.headers)).status == 201


async def test_sms_templates_show_their_length_and_stay_within_two_segments(
    client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)
    path = "/v1/templates/sms/en/arriving"

    short = await client.put(
        path,
        json={"body": "{{ store_name }}: nearly there! {{ tracking_url }}"},
        headers=store.headers,
    )
    # The sample link is a 51-character short link: seven of them cost three segments.
    long = await client.put(path, json={"body": "{{ tracking_url }} " * 7}, headers=store.headers)

    saved = await short.json()
    assert saved["preview"].startswith("Corner Books: nearly there! https://")
    assert saved["sms_segments"] == 1
    assert long.status == 422 and "3 SMS segments" in (await long.json())["error"]["message"]
