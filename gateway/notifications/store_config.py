"""What a tenant configured for notifications: rules, settings and template overrides."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.notifications.rules import ChannelKind, DeliveryMode, Rule, TriggerEvent
from gateway.notifications.settings import NotificationSettings
from gateway.notifications.tables import (
    notification_rules,
    notification_settings,
    notification_templates,
)
from gateway.platform.ids import new_id
from gateway.platform.tenant_cache import TenantCache
from gateway.platform.upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class StoredRule:
    rule: Rule
    created_at: datetime
    updated_at: datetime


def _rule(row: sa.RowMapping) -> StoredRule:
    rule = Rule(
        id=row["id"],
        name=row["name"],
        events=frozenset(TriggerEvent(e) for e in row["events"]),
        channels=tuple(ChannelKind(c) for c in row["channels"]),
        mode=DeliveryMode(row["mode"]),
        enabled=row["enabled"],
    )
    return StoredRule(rule, row["created_at"], row["updated_at"])


def _rule_values(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "events": sorted(e.value for e in rule.events),
        "channels": [c.value for c in rule.channels],
        "mode": rule.mode.value,
        "enabled": rule.enabled,
    }


RULES: Final = TenantCache[list[StoredRule]]("notification_rules")


async def cached_rules(conn: AsyncConnection, tenant_id: str) -> list[StoredRule]:
    """`list_rules`, from this process's copy when it has a fresh one (the planner's read)."""
    return await RULES.get(tenant_id, lambda: list_rules(conn, tenant_id))


async def list_rules(conn: AsyncConnection, tenant_id: str) -> list[StoredRule]:
    query = (
        sa.select(notification_rules)
        .where(notification_rules.c.tenant_id == tenant_id)
        .order_by(notification_rules.c.created_at, notification_rules.c.id)
    )
    return [_rule(row) for row in (await conn.execute(query)).mappings()]


async def get_rule(conn: AsyncConnection, tenant_id: str, rule_id: str) -> StoredRule | None:
    query = sa.select(notification_rules).where(
        notification_rules.c.id == rule_id, notification_rules.c.tenant_id == tenant_id
    )
    row = (await conn.execute(query)).mappings().first()
    return _rule(row) if row else None


async def create_rule(conn: AsyncConnection, tenant_id: str, rule: Rule) -> StoredRule:
    """Stores `rule` under a new id (the id given is ignored)."""
    RULES.drop(tenant_id)  # the route announces it to other processes after commit
    rule_id = new_id("nrl")
    now = datetime.now(UTC)
    await conn.execute(
        notification_rules.insert().values(
            id=rule_id, tenant_id=tenant_id, created_at=now, updated_at=now, **_rule_values(rule)
        )
    )
    return StoredRule(replace(rule, id=rule_id), now, now)


async def update_rule(
    conn: AsyncConnection, tenant_id: str, rule: Rule, created_at: datetime
) -> StoredRule | None:
    RULES.drop(tenant_id)
    now = datetime.now(UTC)
    result = await conn.execute(
        notification_rules.update()
        .where(notification_rules.c.id == rule.id, notification_rules.c.tenant_id == tenant_id)
        .values(updated_at=now, **_rule_values(rule))
    )
    return StoredRule(rule, created_at, now) if result.rowcount else None


async def delete_rule(conn: AsyncConnection, tenant_id: str, rule_id: str) -> bool:
    RULES.drop(tenant_id)
    result = await conn.execute(
        notification_rules.delete().where(
            notification_rules.c.id == rule_id, notification_rules.c.tenant_id == tenant_id
        )
    )
    return bool(result.rowcount)


async def get_settings(conn: AsyncConnection, tenant_id: str) -> NotificationSettings:
    query = sa.select(notification_settings.c.config).where(
        notification_settings.c.tenant_id == tenant_id
    )
    config = (await conn.execute(query)).scalar_one_or_none()
    return NotificationSettings() if config is None else NotificationSettings.model_validate(config)


async def put_settings(
    conn: AsyncConnection, tenant_id: str, settings: NotificationSettings
) -> None:
    config = settings.model_dump(mode="json")
    now = datetime.now(UTC)
    await conn.execute(
        insert_ignore(
            notification_settings, conn.dialect.name, tenant_id=tenant_id, config={}, updated_at=now
        )
    )
    await conn.execute(
        notification_settings.update()
        .where(notification_settings.c.tenant_id == tenant_id)
        .values(config=config, updated_at=now)
    )


@dataclass(frozen=True, slots=True)
class TemplateOverride:
    channel: str
    locale: str
    event: str
    parts: dict[str, str]
    updated_at: datetime


def _template_key(tenant_id: str, channel: str, locale: str, event: str) -> sa.ColumnElement[bool]:
    t = notification_templates.c
    return sa.and_(
        t.tenant_id == tenant_id, t.channel == channel, t.locale == locale, t.event == event
    )


async def put_template(
    conn: AsyncConnection,
    tenant_id: str,
    key: tuple[str, str, str],
    parts: dict[str, str],
) -> TemplateOverride:
    channel, locale, event = key
    now = datetime.now(UTC)
    values = {"channel": channel, "locale": locale, "event": event}
    await conn.execute(
        insert_ignore(
            notification_templates,
            conn.dialect.name,
            tenant_id=tenant_id,
            parts=parts,
            updated_at=now,
            **values,
        )
    )
    await conn.execute(
        notification_templates.update()
        .where(_template_key(tenant_id, channel, locale, event))
        .values(parts=parts, updated_at=now)
    )
    return TemplateOverride(channel, locale, event, parts, now)


async def delete_template(conn: AsyncConnection, tenant_id: str, key: tuple[str, str, str]) -> bool:
    result = await conn.execute(
        notification_templates.delete().where(_template_key(tenant_id, *key))
    )
    return bool(result.rowcount)


async def list_templates(conn: AsyncConnection, tenant_id: str) -> list[TemplateOverride]:
    t = notification_templates.c
    query = (
        sa.select(notification_templates)
        .where(t.tenant_id == tenant_id)
        .order_by(t.channel, t.locale, t.event)
    )
    return [
        TemplateOverride(r.channel, r.locale, r.event, dict(r.parts), r.updated_at)
        for r in (await conn.execute(query)).all()
    ]


async def find_template(
    conn: AsyncConnection, tenant_id: str, channel: str, locales: Sequence[str], event: str
) -> TemplateOverride | None:
    """The override for the first of `locales` (e.g. `es-MX`, then `es`) that has one."""
    t = notification_templates.c
    query = sa.select(notification_templates).where(
        t.tenant_id == tenant_id, t.channel == channel, t.event == event, t.locale.in_(locales)
    )
    rows = {r.locale: r for r in (await conn.execute(query)).all()}
    for locale in locales:
        if locale in rows:
            r = rows[locale]
            return TemplateOverride(r.channel, r.locale, r.event, dict(r.parts), r.updated_at)
    return None
