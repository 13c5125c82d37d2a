"""The store finds notifications whose outcome is unknown, sees them counted, and re-sends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.notifications.jobs import SendOutcome, send_notification
from gateway.notifications.tables import notifications
from tests.fakes.fake_providers import FakeProviders
from tests.notifications.notif_support import (
    add_rule,
    carrier_event,
    job_ctx,
    notification_rows,
    notify_client,
    plan_pending_changes,
    quiet_store,
    register,
    wait_relayed,
)
from tests.support import Store, make_store

__all__ = ["job_ctx", "notify_client"]  # fixtures


async def _unknown_outcome(
    client: TestClient[Any, Any], engine: AsyncEngine, ctx: dict[str, Any]
) -> tuple[Store, str, str]:
    """An SMS whose worker died during the provider call: (store, shipment id, its id)."""
    store = await quiet_store(client, engine)
    await add_rule(client, store, ["out_for_delivery"], ["sms"])
    shipment_id = await register(client, store)
    await carrier_event(client, store, "out_for_delivery")
    await wait_relayed(engine)
    await plan_pending_changes(ctx)
    [row] = await notification_rows(engine, shipment_id)
    async with engine.begin() as conn:  # claimed, then the worker was killed
        expired = datetime.now(UTC) - timedelta(seconds=1)
        await conn.execute(notifications.update().values(status="sending", lease_until=expired))
    assert await send_notification(ctx, row.id) == "outcome_unknown"
    return store, shipment_id, row.id


async def _get(client: TestClient[Any, Any], store: Store, **params: str) -> Any:
    return await client.get("/v1/notifications", params=params, headers=store.headers)


async def test_outcome_unknown_is_listed_counted_and_resent_once(
    notify_client: TestClient[Any, Any],
    engine: AsyncEngine,
    job_ctx: dict[str, Any],
    fake_providers: FakeProviders,
) -> None:
    store, shipment_id, nid = await _unknown_outcome(notify_client, engine, job_ctx)

    unknown = await (await _get(notify_client, store, reason="outcome_unknown")).json()
    failed = await (await _get(notify_client, store, status="failed")).json()
    queued = await (await _get(notify_client, store, status="queued")).json()
    metrics = await (await notify_client.get("/metrics")).text()
    assert [n["id"] for n in unknown["notifications"]] == [nid]
    assert [n["id"] for n in failed["notifications"]] == [nid]
    assert queued["notifications"] == []
    assert 'lastmile_notifications_outcome_unknown{channel="sms"} 1.0' in metrics

    path = f"/v1/notifications/{nid}/resend"
    first = await notify_client.post(path, headers=store.headers)
    again = await notify_client.post(path, headers=store.headers)  # a retried request
    copy = await first.json()
    assert (first.status, again.status) == (201, 200)
    assert (await again.json())["id"] == copy["id"] != nid
    assert (copy["status"], copy["resend_of"], copy["channel"]) == ("queued", nid, "sms")

    await wait_relayed(engine)
    assert await send_notification(job_ctx, copy["id"]) == SendOutcome.SENT
    assert [r.to for r in fake_providers.twilio.requests] == ["+15555550123"]
    rows = {row.id: row for row in await notification_rows(engine, shipment_id)}
    assert (rows[nid].status, rows[copy["id"]].status) == ("failed", "sent")


async def test_only_a_failed_notification_of_ones_own_can_be_resent(
    notify_client: TestClient[Any, Any], engine: AsyncEngine, job_ctx: dict[str, Any]
) -> None:
    store, _, nid = await _unknown_outcome(notify_client, engine, job_ctx)
    other = await make_store(engine, "Other Store")
    copy = await (
        await notify_client.post(f"/v1/notifications/{nid}/resend", headers=store.headers)
    ).json()

    not_failed = await notify_client.post(
        f"/v1/notifications/{copy['id']}/resend", headers=store.headers
    )
    not_theirs = await notify_client.post(f"/v1/notifications/{nid}/resend", headers=other.headers)
    nowhere = await notify_client.post("/v1/notifications/ntf_nope/resend", headers=store.headers)
    theirs_listed = await (await _get(notify_client, other, reason="outcome_unknown")).json()

    assert (not_failed.status, not_theirs.status, nowhere.status) == (409, 404, 404)
    assert (await not_failed.json())["error"]["code"] == "not_failed"
    assert theirs_listed["notifications"] == []


async def test_log_filters_are_checked(
    notify_client: TestClient[Any, Any], engine: AsyncEngine
) -> None:
    store = await make_store(engine)

    answers = {
        "none": await _get(notify_client, store),
        "status": await _get(notify_client, store, status="sending"),
        "reason": await _get(notify_client, store, reason="x" * 65),
        "limit": await _get(notify_client, store, status="failed", limit="0"),
    }

    assert {k: a.status for k, a in answers.items()} == dict.fromkeys(answers, 400)
    for name in ("status", "reason", "limit"):
        assert name in (await answers[name].json())["error"]["message"]
    assert (await _get(notify_client, store, status="failed", limit="500")).status == 200
