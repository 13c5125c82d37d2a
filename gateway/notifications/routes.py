"""Notifications API: rules, settings and per-store template overrides (the log: log_api.py)."""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web
from pydantic import ValidationError

from channels.sms_length import segment_count
from gateway.notifications import store_config as config
from gateway.notifications.render import (
    PARTS,
    SAMPLE_CONTEXT,
    TemplateLimit,
    TemplateProblem,
    compile_override,
)
from gateway.notifications.rules import (
    DEFAULT_RULES,
    ChannelKind,
    Rule,
    TriggerEvent,
)
from gateway.notifications.sandbox import off_loop
from gateway.notifications.schemas import (
    NotificationRuleIn,
    NotificationRuleList,
    NotificationRuleOut,
    NotificationRulePatch,
    NotificationSettingsOut,
    NotificationSettingsPatch,
    TemplateIn,
    TemplateList,
    TemplateOut,
)
from gateway.notifications.settings import NotificationSettings
from gateway.platform.appkeys import DB, REDIS
from gateway.platform.http.errors import ApiError, not_found
from gateway.platform.http.openapi import Operation, read_body
from gateway.platform.tenant_cache import announce
from gateway.tenants.auth import require_tenant

TAG = "notifications"
RULES: Final = "/v1/notification-rules"
TEMPLATE: Final = "/v1/templates/{channel}/{locale}/{event}"
_LOCALE: Final = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


def _slot(request: web.Request) -> tuple[ChannelKind, str, TriggerEvent]:
    """The (channel, locale, event) a template path names; 404 for one that cannot exist."""
    info = request.match_info
    try:
        channel, event = ChannelKind(info["channel"]), TriggerEvent(info["event"])
    except ValueError:
        raise not_found("template slot") from None
    if not _LOCALE.match(info["locale"]):
        raise not_found("template slot")
    return channel, info["locale"], event


async def put_template(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    channel, locale, event = _slot(request)
    body = await read_body(request, TemplateIn)
    given = body.model_dump(exclude_none=True)
    extra = sorted(set(given) - set(PARTS[channel]))
    if extra:
        allowed = ", ".join(PARTS[channel])
        raise ApiError(422, "validation_error", f"{channel.value} templates take {allowed} only")
    try:
        preview = await off_loop(compile_override, channel, given)
    except TemplateLimit as exc:
        raise ApiError(422, "template_limit_exceeded", str(exc)) from None
    except TemplateProblem as exc:
        raise ApiError(422, "invalid_template", str(exc)) from None
    async with request.app[DB].begin() as conn:
        key = (channel.value, locale, event.value)
        saved = await config.put_template(conn, tenant_id, key, given)
    out = _template(saved)
    out.preview = preview.body
    if channel is ChannelKind.SMS:
        out.sms_segments = segment_count(preview.body)
    return web.json_response(out.model_dump(mode="json"))


async def list_templates(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        overrides = await config.list_templates(conn, tenant_id)
    out = TemplateList(templates=[_template(t) for t in overrides], variables=list(SAMPLE_CONTEXT))
    return web.json_response(out.model_dump(mode="json"))


async def delete_template(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    channel, locale, event = _slot(request)
    async with request.app[DB].begin() as conn:
        key = (channel.value, locale, event.value)
        if not await config.delete_template(conn, tenant_id, key):
            raise not_found("template override")
    return web.Response(status=204)


def _template(t: config.TemplateOverride) -> TemplateOut:
    return TemplateOut(
        channel=ChannelKind(t.channel),
        locale=t.locale,
        event=TriggerEvent(t.event),
        parts=t.parts,
        updated_at=t.updated_at,
    )


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
    await announce(request.app[REDIS], config.RULES.name, tenant_id)
    return _json(stored, 201)


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


async def get_rule(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        stored = await config.get_rule(conn, tenant_id, request.match_info["id"])
    if stored is None:
        raise not_found("notification rule")
    return _json(stored)


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
    await announce(request.app[REDIS], config.RULES.name, tenant_id)
    if updated is None:  # deleted meanwhile
        raise not_found("notification rule")
    return _json(updated)


async def delete_rule(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].begin() as conn:
        if not await config.delete_rule(conn, tenant_id, request.match_info["id"]):
            raise not_found("notification rule")
    await announce(request.app[REDIS], config.RULES.name, tenant_id)
    return web.Response(status=204)


async def get_settings(request: web.Request) -> web.Response:
    tenant_id = await require_tenant(request)
    async with request.app[DB].connect() as conn:
        current = await config.get_settings(conn, tenant_id)
    return web.json_response(current.model_dump(mode="json"))


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


# This module's operations; gateway/app.py mounts them and /openapi.json describes them.
API: Final = (
    Operation(
        "PUT",
        TEMPLATE,
        put_template,
        summary="Override a message template (Jinja2, sandboxed) for a channel, locale and event",
        tag=TAG,
        body=TemplateIn,
        response=TemplateOut,
    ),
    Operation(
        "GET",
        "/v1/templates",
        list_templates,
        summary="The store's template overrides, and the variables templates can use",
        tag=TAG,
        response=TemplateList,
    ),
    Operation(
        "DELETE",
        TEMPLATE,
        delete_template,
        summary="Go back to the built-in template",
        tag=TAG,
        status=204,
    ),
    Operation(
        "POST",
        RULES,
        create_rule,
        summary="Add a notification rule (the built-in defaults stop applying)",
        tag=TAG,
        body=NotificationRuleIn,
        response=NotificationRuleOut,
        status=201,
    ),
    Operation(
        "GET",
        RULES,
        list_rules,
        summary="The store's notification rules, and the defaults that apply while it has none",
        tag=TAG,
        response=NotificationRuleList,
    ),
    Operation(
        "GET",
        RULES + "/{id}",
        get_rule,
        summary="One notification rule",
        tag=TAG,
        response=NotificationRuleOut,
    ),
    Operation(
        "PATCH",
        RULES + "/{id}",
        update_rule,
        summary="Change a notification rule (only the fields given)",
        tag=TAG,
        body=NotificationRulePatch,
        response=NotificationRuleOut,
    ),
    Operation(
        "DELETE",
        RULES + "/{id}",
        delete_rule,
        summary="Remove a notification rule",
        tag=TAG,
        status=204,
    ),
    Operation(
        "GET",
        "/v1/notification-settings",
        get_settings,
        summary="Quiet hours, urgent events, burst window and SMS help text",
        tag=TAG,
        response=NotificationSettingsOut,
    ),
    Operation(
        "PATCH",
        "/v1/notification-settings",
        update_settings,
        summary="Change notification settings (only the fields given; quiet_hours null: off)",
        tag=TAG,
        body=NotificationSettingsPatch,
        response=NotificationSettingsOut,
    ),
)
