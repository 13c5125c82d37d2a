"""Secrets at rest: carrier secrets, store-webhook secrets and tracking-link keys are encrypted
with LASTMILE_SECRET_KEY, rotate to a new key, and plain rows from before are migrated."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.carriers import store as connections
from gateway.platform.db import create_engine
from gateway.platform.migrate import alembic_config
from gateway.platform.vault import SecretKeyError, Vault, install_keys, local_key, new_key
from gateway.store_webhooks import store as endpoints
from gateway.tenants.store import create_tenant
from gateway.tracking.store_links import signing_keys
from webhooks.base import AuthScheme, ConnectionAuth

LASTMILE = str(Path(sys.executable).parent / "lastmile")
CARRIER_SECRET = "carrier-secret-c4rr13r"
ENDPOINT_SECRET = "whsec_ZW5kcG9pbnQtc2VjcmV0LWVuZHBvaW50LXNlY3JldA=="


async def _store_secrets(engine: AsyncEngine) -> tuple[str, str, bytes]:
    """(connection id, endpoint id, link key) written through the areas' store functions."""
    async with engine.begin() as conn:
        tenant_id, _ = await create_tenant(conn, "Vault Books")
        auth = ConnectionAuth(AuthScheme.STATIC_HEADER, "credential", (CARRIER_SECRET.encode(),))
        connection_id = await connections.create_connection(conn, tenant_id, "ups", auth)
        fields = {"url": "https://shop.example/hooks", "event_types": ["shipment.late"]}
        fields |= {"enabled": True, "include_pii": False, "description": ""}
        endpoint = await endpoints.create(conn, tenant_id, fields, ENDPOINT_SECRET, _now())
        _, keys = await signing_keys(conn)
    return connection_id, endpoint.id, next(iter(keys.values()))


async def _read_back(engine: AsyncEngine, ids: tuple[str, str, bytes]) -> tuple[str, str, bytes]:
    connection_id, endpoint_id, _ = ids
    async with engine.connect() as conn:
        connection = await connections.get_connection(conn, connection_id, "ups")
        endpoint = await endpoints.get_by_id(conn, endpoint_id)
        _, keys = await signing_keys(conn)
    assert connection is not None and endpoint is not None
    return connection.auth.secrets[0].decode(), endpoint.secret, keys["k1"]


async def _raw_columns(engine: AsyncEngine) -> list[bytes]:
    """Every secret column as the database holds it."""
    async with engine.connect() as conn:
        found = [
            *(await conn.execute(sa.text("SELECT secrets FROM carrier_connections"))).scalars(),
            *(await conn.execute(sa.text("SELECT secret FROM webhook_endpoints"))).scalars(),
            *(await conn.execute(sa.text("SELECT secret FROM link_keys"))).scalars(),
        ]
    return [value if isinstance(value, bytes) else str(value).encode() for value in found]


def _now() -> datetime:
    return datetime.now(UTC)


async def test_secrets_are_stored_as_fernet_tokens_never_in_clear(engine: AsyncEngine) -> None:
    ids = await _store_secrets(engine)

    raw = await _raw_columns(engine)

    assert len(raw) == 3
    for value in raw:
        assert CARRIER_SECRET.encode() not in value and ENDPOINT_SECRET.encode() not in value
        assert ids[2] not in value  # the link key's bytes
        assert value.startswith(b"gAAAAA")  # a Fernet token (version byte 0x80)
    assert await _read_back(engine, ids) == (CARRIER_SECRET, ENDPOINT_SECRET, ids[2])


async def test_rotation_reencrypts_so_the_old_key_can_go(engine: AsyncEngine) -> None:
    old, new = new_key(), new_key()
    install_keys(old)
    ids = await _store_secrets(engine)
    install_keys(f"{new},{old}")

    env = {"LASTMILE_DATABASE_URL": str(engine.url.render_as_string(hide_password=False))}
    for _ in range(2):  # idempotent: a second run is harmless
        result = await asyncio.to_thread(_lastmile, "rotate-secret-key", f"{new},{old}", env)
        assert result.returncode == 0, result.stderr
        assert "re-encrypted 3 stored secret rows" in result.stdout
        assert new not in result.stdout + result.stderr and old not in result.stderr

    install_keys(new)  # the old key is gone: everything still opens
    assert await _read_back(engine, ids) == (CARRIER_SECRET, ENDPOINT_SECRET, ids[2])
    with pytest.raises(SecretKeyError):
        Vault(old).decrypt((await _raw_columns(engine))[0])


async def test_a_dropped_key_is_a_clear_error_without_the_key(engine: AsyncEngine) -> None:
    install_keys(new_key())
    ids = await _store_secrets(engine)
    other = new_key()
    install_keys(other)

    with pytest.raises(SecretKeyError) as caught:
        await _read_back(engine, ids)

    assert "LASTMILE_SECRET_KEY" in str(caught.value) and other not in str(caught.value)


def test_migration_encrypts_rows_stored_in_clear(database_url: str) -> None:
    """A database from before 0006 holds plain secrets; upgrading encrypts each one."""
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    asyncio.run(_insert_plain_rows(database_url))
    install_keys(key := new_key())

    command.upgrade(config, "heads")

    async def check() -> None:
        engine = create_engine(database_url)
        try:
            raw = await _raw_columns(engine)
            assert all(v.startswith(b"gAAAAA") for v in raw) and len(raw) == 3
            assert CARRIER_SECRET.encode() in Fernet(key.encode()).decrypt(raw[0])
            async with engine.connect() as conn:
                found = await connections.get_connection(conn, "cc_plain", "ups")
                endpoint = await endpoints.get_by_id(conn, "whep_plain")
                _, keys = await signing_keys(conn)
            assert found is not None and found.auth.secrets == (CARRIER_SECRET.encode(),)
            assert endpoint is not None and endpoint.secret == ENDPOINT_SECRET
            assert keys == {"k1": b"k" * 32}
        finally:
            await engine.dispose()

    asyncio.run(check())


def test_migrating_plain_rows_without_a_key_fails_and_changes_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    asyncio.run(_insert_plain_rows(database_url))
    monkeypatch.setattr("gateway.platform.vault._installed", None)

    with pytest.raises(SecretKeyError, match="LASTMILE_SECRET_KEY"):
        command.upgrade(config, "heads")

    install_keys(new_key())
    command.upgrade(config, "heads")  # with a key it goes through: nothing was half done


async def _insert_plain_rows(database_url: str) -> None:
    engine = create_engine(database_url)
    now = _now()
    try:
        async with engine.begin() as conn:
            tenant_id, _ = await create_tenant(conn, "Plain Old Books")
            insert = sa.text(
                "INSERT INTO carrier_connections (id, tenant_id, carrier, scheme, header, secrets,"
                " created_at) VALUES ('cc_plain', :t, 'ups', 'static_header', 'credential', :s, :n)"
            )
            await conn.execute(insert, {"t": tenant_id, "s": f'["{CARRIER_SECRET}"]', "n": now})
            await conn.execute(
                sa.text(
                    "INSERT INTO webhook_endpoints (id, tenant_id, url, description, event_types,"
                    " enabled, include_pii, secret, created_at, updated_at) VALUES ('whep_plain',"
                    " :t, 'https://shop.example/h', '', '[]', true, false, :s, :n, :n)"
                ),
                {"t": tenant_id, "s": ENDPOINT_SECRET, "n": now},
            )
            await conn.execute(
                sa.text("INSERT INTO link_keys (kid, secret, created_at) VALUES ('k1', :s, :n)"),
                {"s": b"k" * 32, "n": now},
            )
    finally:
        await engine.dispose()


def test_the_local_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "lastmile.key"

    first = local_key(path)

    assert local_key(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    Vault(first)  # a usable Fernet key


def test_keys_never_show_in_repr_or_errors() -> None:
    key = new_key()
    assert key not in repr(Vault(key))
    with pytest.raises(SecretKeyError) as caught:
        Vault("not-a-fernet-key")
    assert "not-a-fernet-key" not in str(caught.value)


def _lastmile(
    command_name: str, keys: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LASTMILE, command_name],
        env={**os.environ, **env, "LASTMILE_SECRET_KEY": keys},
        capture_output=True,
        text=True,
        timeout=60,
    )
