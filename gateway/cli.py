"""`lastmile` commands (contract: "Processes and configuration")."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
from pathlib import Path
from typing import Final, NoReturn

import click
from aiohttp import web
from pydantic import SecretStr

from gateway.platform.logs import configure_logging
from gateway.platform.settings import Settings, SettingsError, load_settings
from gateway.platform.vault import SecretKeyError, install_keys, local_key

# Where `demo` (and dev processes without LASTMILE_SECRET_KEY) keep the key they made.
LOCAL_KEY_FILE: Final = Path("lastmile.key")

log = logging.getLogger(__name__)


def _fail(message: str) -> NoReturn:
    click.echo(f"lastmile: {message}", err=True)
    sys.exit(2)


def _settings(**overrides: object) -> Settings:
    """The environment's settings (a bad value exits 2 naming it), then `overrides` on top."""
    try:
        settings = load_settings()
        if overrides:
            settings = load_settings(None, **overrides)
    except SettingsError as exc:
        _fail(str(exc))
    configure_logging(settings.log_level)
    if settings.secret_key is not None:
        try:
            install_keys(settings.secret_key.get_secret_value())
        except SecretKeyError as exc:
            _fail(str(exc))
    return settings


def _require_secret_key(settings: Settings, key_file: Path = LOCAL_KEY_FILE) -> Settings:
    """Production needs LASTMILE_SECRET_KEY; dev and demo fall back to a local key file."""
    if settings.secret_key is not None:
        return settings
    if not settings.dev:
        _fail(
            "LASTMILE_SECRET_KEY is required: one or more Fernet keys, comma-separated, newest "
            "first (make one with `lastmile new-secret-key`)"
        )
    created = not key_file.exists()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = local_key(key_file)
    if created:
        click.echo(f"lastmile: made a secret key for this machine in {key_file}", err=True)
    install_keys(key)
    return settings.model_copy(update={"secret_key": SecretStr(key)})


def _require_redis(settings: Settings) -> str:
    if settings.redis_url is None:
        _fail("LASTMILE_REDIS_URL is required here (`lastmile demo` starts its own Redis)")
    return settings.redis_url


@click.group()
def main() -> None:
    """Lastmile Gateway: last-mile tracking and customer notifications."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the HTTP gateway (run as many as you like behind a load balancer)."""
    from gateway.app import create_app
    from gateway.platform.http.edge import SERVER_OPTIONS

    settings = _require_secret_key(_settings())
    _require_redis(settings)
    app = create_app(settings)
    app.on_startup.append(_freeze_heap)
    web.run_app(app, host=host, port=port, print=None, access_log=None, **SERVER_OPTIONS)


async def _freeze_heap(_app: web.Application) -> None:
    """What is alive once the app is up (modules, CLDR data, compiled SQL) stays for good.

    Frozen, full GC passes stop walking those ~130k objects: a 100 ms stall under load.
    """
    gc.collect()
    gc.freeze()


@main.command()
def worker() -> None:
    """Run the arq worker (run as many as you like)."""
    from gateway.worker import build_worker

    settings = _require_secret_key(_settings())
    build_worker(settings, _require_redis(settings)).run()


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema (idempotent)."""
    from gateway.platform.migrate import upgrade

    settings = _settings()
    try:
        upgrade(settings.database_url)
    except Exception as exc:  # a clear line, not a stack trace, for a bad URL or dead server
        _fail(f"migration failed: {type(exc).__name__}: {exc}")
    click.echo("database schema is up to date")


@main.group()
def tenants() -> None:
    """Manage stores (tenants)."""


@tenants.command("create")
@click.argument("name")
def tenants_create(name: str) -> None:
    """Create a store and print its API key once, as one JSON line."""
    from gateway.platform.db import create_engine
    from gateway.tenants import store as tenant_store

    settings = _settings()
    name = name.strip()
    if not name or len(name) > 200:
        _fail("NAME must be 1 to 200 characters")

    async def create() -> tuple[str, str]:
        engine = create_engine(settings.database_url)
        try:
            async with engine.begin() as conn:
                return await tenant_store.create_tenant(conn, name)
        finally:
            await engine.dispose()

    try:
        tenant_id, api_key = asyncio.run(create())
    except Exception as exc:
        _fail(f"could not create the tenant ({type(exc).__name__}); has `lastmile migrate` run?")
    click.echo(json.dumps({"tenant_id": tenant_id, "api_key": api_key}))


@main.group()
def drivers() -> None:
    """Manage the driver app's signing keys."""


@drivers.command("rotate-key")
@click.option("--retire-old", is_flag=True, help="also delete older keys: their tokens end")
def drivers_rotate_key(retire_old: bool) -> None:
    """Sign driver tokens and proof links with a new key; older keys still verify unless
    retired (then drivers need new tokens: POST /v1/drivers/{id}/token)."""
    from gateway.drivers.store_keys import rotate
    from gateway.platform.db import create_engine

    settings = _require_secret_key(_settings())  # the keys are stored encrypted

    async def run() -> str:
        engine = create_engine(settings.database_url)
        try:
            async with engine.begin() as conn:
                return await rotate(conn, retire_old=retire_old)
        finally:
            await engine.dispose()

    try:
        kid = asyncio.run(run())
    except Exception as exc:
        _fail(f"could not rotate the key ({type(exc).__name__}); has `lastmile migrate` run?")
    click.echo(json.dumps({"kid": kid, "retired_old": retire_old}))


@main.command()
@click.option("--url", required=True, help="The gateway, e.g. http://127.0.0.1:8080")
@click.option(
    "--api-key", required=True, envvar="LASTMILE_API_KEY", help="The store's API key (or env)"
)
@click.option("--seed", default=7, show_default=True, type=int, help="The same seed, the same day")
@click.option(
    "--speedup",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True, max=1000),
    help="Simulated seconds per second; above 1 only with a gateway whose clock keeps pace",
)
@click.option(
    "--rounds", default=1, show_default=True, type=click.IntRange(min=0), help="0: until Ctrl-C"
)
def simulate(url: str, api_key: str, seed: int, speedup: float, rounds: int) -> None:
    """Drive simulated drivers and carrier parcels against a running gateway (public APIs)."""
    from gateway.simulate.command import run
    from gateway.simulate.runner import Options

    if not url.startswith(("http://", "https://")):
        _fail("--url must be an http:// or https:// URL")
    options = Options(url, api_key.strip(), seed, speedup, rounds)
    sys.exit(run(options, click.echo))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--state-dir",
    default="lastmile-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps its log file and its store's API key.",
)
@click.option("--verbose", is_flag=True, help="Print the logs here too, not only to the file.")
def demo(host: str, port: int, state_dir: Path, verbose: bool) -> None:
    """Everything in one process tree, in dev mode: embedded Redis, SQLite, gateway, worker,
    a demo store and demo parcels. Ctrl-C stops it all."""
    from gateway.demo.runner import run_demo

    settings = _require_secret_key(_settings(dev=True), state_dir / "secret.key")
    if settings.public_url == Settings.model_fields["public_url"].default:
        settings = settings.model_copy(update={"public_url": f"http://{host}:{port}"})
    run_demo(settings, host=host, port=port, state_dir=state_dir, verbose=verbose)


@main.command("rotate-secret-key")
def rotate_secret_key() -> None:
    """Re-encrypt every stored secret with the newest LASTMILE_SECRET_KEY (safe to re-run)."""
    from gateway.platform.db import create_engine
    from gateway.platform.vault import reencrypt_all
    from gateway.schema import metadata

    settings = _settings()
    if settings.secret_key is None:
        _fail("LASTMILE_SECRET_KEY is required: the newest key first, then every older one")

    async def rotate() -> int:
        engine = create_engine(settings.database_url)
        try:
            return await reencrypt_all(engine, metadata)
        finally:
            await engine.dispose()

    try:
        count = asyncio.run(rotate())
    except SecretKeyError as exc:
        _fail(str(exc))
    click.echo(f"re-encrypted {count} stored secret rows with the newest key")


@main.command("new-secret-key")
def new_secret_key() -> None:
    """Print a new Fernet key for LASTMILE_SECRET_KEY (put it first to rotate)."""
    from gateway.platform.vault import new_key

    click.echo(new_key())
