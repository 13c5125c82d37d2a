"""Merchant API: notification rules (CRUD) and the store's notification settings."""

from __future__ import annotations

from aiohttp import web
from pydantic import ValidationError

from gateway.appkeys import DB
from gateway.domain.notify import DEFAULT_RULES, Rule
from gateway.domain.notify_settings import NotificationSettings
from gateway.http.auth import require_tenant
from gateway.http.errors import ApiError, not_found
from gateway.http.notification_schemas import (
    NotificationRuleIn,
    NotificationRuleList,
    NotificationRuleOut,
    NotificationRulePatch,
    NotificationSettingsOut,
    NotificationSettingsPatch,
)
from gateway.http.openapi import operation, read_body
from gateway.store import notification_config as config

TAG = "notifications"
RULES = "/v1/notification-rules"


def _out(rule: Rule, stored: config.StoredRule | None = None) -> NotificationRuleOut:
    return NotificationRuleOut(
        id=rule.id,
        name=rule.name,
        events=sorted(rule.events),
        channels=list(rule.channels),
        mode=rule.mode,
        enabled=rule.enabled,
        created_at=stored.created_at if stored else None,
        updated_at=stored.updated_at if stored else None,
    )


def _json(rule: config.StoredRule, status: int = 200) -> web.Response:
    return web.json_response(_out(rule.rule, rule).model_dump(mode="json"), status=status)


@operation(
    "POST",
    RULES,
    summary="Add a notification rule (the built-in defaults stop applying)",
    tag=TAG,
    body=NotificationRuleIn,
    response=NotificationRuleOut,
    status=201,
)
async def create_rule(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, NotificationRuleIn)
    rule = Rule(
        id="",
        name=body.name,
        events=frozenset(body.events),
        channels=tuple(body.channels),
        mode=body.mode,
        enabled=body.enabled,
    )
    async with request.app[DB].begin() as conn:
        stored = await config.create_rule(conn, tenant_id, rule)
    return _json(stored, 201)


@operation(
    "GET",
    RULES,
    summary="The store's notification rules, and the defaults that apply while it has none",
    tag=TAG,
    response=NotificationRuleList,
)
async def list_rules(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        rules = await config.list_rules(conn, tenant_id)
    out = NotificationRuleList(
        rules=[_out(r.rule, r) for r in rules],
        defaults_active=not rules,
        defaults=[_out(rule) for rule in DEFAULT_RULES],
    )
    return web.json_response(out.model_dump(mode="json"))


@operation(
    "GET", RULES + "/{id}", summary="One notification rule", tag=TAG, response=NotificationRuleOut
)
async def get_rule(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        stored = await config.get_rule(conn, tenant_id, request.match_info["id"])
    if stored is None:
        raise not_found("notification rule")
    return _json(stored)


@operation(
    "PATCH",
    RULES + "/{id}",
    summary="Change a notification rule (only the fields given)",
    tag=TAG,
    body=NotificationRulePatch,
    response=NotificationRuleOut,
)
async def update_rule(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, NotificationRulePatch)
    async with request.app[DB].begin() as conn:
        stored = await config.get_rule(conn, tenant_id, request.match_info["id"])
        if stored is None:
            raise not_found("notification rule")
        old = stored.rule
        rule = Rule(
            id=old.id,
            name=body.name if body.name is not None else old.name,
            events=frozenset(body.events) if body.events is not None else old.events,
            channels=tuple(body.channels) if body.channels is not None else old.channels,
            mode=body.mode if body.mode is not None else old.mode,
            enabled=body.enabled if body.enabled is not None else old.enabled,
        )
        updated = await config.update_rule(conn, tenant_id, rule, stored.created_at)
    if updated is None:  # deleted meanwhile
        raise not_found("notification rule")
    return _json(updated)


@operation("DELETE", RULES + "/{id}", summary="Remove a notification rule", tag=TAG, status=204)
async def delete_rule(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].begin() as conn:
        if not await config.delete_rule(conn, tenant_id, request.match_info["id"]):
            raise not_found("notification rule")
    return web.Response(status=204)


@operation(
    "GET",
    "/v1/notification-settings",
    summary="Quiet hours, urgent events, burst window and SMS help text",
    tag=TAG,
    response=NotificationSettingsOut,
)
async def get_settings(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        current = await config.get_settings(conn, tenant_id)
    return web.json_response(current.model_dump(mode="json"))


@operation(
    "PATCH",
    "/v1/notification-settings",
    summary="Change notification settings (only the fields given; quiet_hours null: off)",
    tag=TAG,
    body=NotificationSettingsPatch,
    response=NotificationSettingsOut,
)
async def update_settings(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    body = await read_body(request, NotificationSettingsPatch)
    async with request.app[DB].begin() as conn:
        current = await config.get_settings(conn, tenant_id)
        changes = body.model_dump(include=body.model_fields_set)
        try:
            merged = NotificationSettings.model_validate({**current.model_dump(), **changes})
        except ValidationError:  # e.g. null for a field that cannot be off
            raise ApiError(
                422, "validation_error", "only quiet_hours and help_text may be null"
            ) from None
        await config.put_settings(conn, tenant_id, merged)
    return web.json_response(merged.model_dump(mode="json"))
