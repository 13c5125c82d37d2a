"""The demo's state directory: its log file, and the demo store with its API key.

The first run creates the store "Demo Store" and writes its key to `store.json` (readable by
you only); later runs read it back and print the same key, as long as it still opens that store.
If the file is gone but the store is not, the store gets a new key and the demo says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.store_webhooks import store as endpoints
from gateway.store_webhooks.events import EventType
from gateway.store_webhooks.signing import new_secret
from gateway.tenants import store as tenants

DEFAULT_DIR: Final = Path("lastmile-demo")
STORE_FILE: Final = "store.json"
LOG_FILE: Final = "demo.log"
DEMO_STORE: Final = "Demo Store"


@dataclass(frozen=True, slots=True)
class DemoStore:
    tenant_id: str
    api_key: str
    how: str  # "created", "reused", or "new key" (store.json was lost)


def log_file(state_dir: Path) -> Path:
    return state_dir / LOG_FILE


async def ensure_store(conn: AsyncConnection, state_dir: Path) -> DemoStore:
    """The demo store, reusing the key saved by an earlier run when it still works."""
    saved = _read(state_dir / STORE_FILE)
    if saved is not None:
        tenant_id, api_key = saved
        if await tenants.authenticate(conn, api_key) == tenant_id:
            return DemoStore(tenant_id, api_key, "reused")
    found = await tenants.find_by_name(conn, DEMO_STORE)
    if found is None:
        tenant_id, api_key = await tenants.create_tenant(conn, DEMO_STORE)
        store = DemoStore(tenant_id, api_key, "created")
    else:
        store = DemoStore(found, await tenants.rotate_key(conn, found), "new key")
    _write(state_dir / STORE_FILE, store)
    return store


async def fresh_endpoint(conn: AsyncConnection, tenant_id: str, url: str) -> str:
    """The demo store's webhook endpoint at `url`, replacing earlier runs' ones; its secret."""
    path = url.split("/", 3)[-1]
    for old in await endpoints.list_for(conn, tenant_id):
        if old.url.endswith(path):
            await endpoints.delete(conn, old.id)
    secret = new_secret()
    fields = {
        "url": url,
        "event_types": [EventType.SHIPMENT_STATUS_CHANGED.value],
        "description": "lastmile demo: prints what it receives",
        "enabled": True,
        "include_pii": False,
        "alert_email": None,
    }
    await endpoints.create(conn, tenant_id, fields, secret, datetime.now(UTC))
    return secret


def _read(path: Path) -> tuple[str, str] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        return str(data["tenant_id"]), str(data["api_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, store: DemoStore) -> None:
    """Written whole (a new file renamed over the old one) and readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_suffix(".tmp")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"tenant_id": store.tenant_id, "api_key": store.api_key}, out)
        out.write("\n")
    os.replace(fresh, path)
