"""Secrets at rest: columns encrypted with the Fernet keys of `LASTMILE_SECRET_KEY`.

`LASTMILE_SECRET_KEY` holds one or more Fernet keys, comma-separated, newest first. The newest
encrypts; every key decrypts, so a new key is added in front, `lastmile rotate-secret-key`
re-encrypts every stored secret with it, and the old key can then be dropped.

The keys are installed once per process (`install_keys`, from the settings, at start-up) and
read by the column types below, so the areas' store functions stay unaware of encryption: a
column declared `EncryptedText`/`EncryptedBytes`/`EncryptedJSON` holds a Fernet token in the
database and the plain value in Python. Nothing here logs or repeats a key or a secret.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

ENV: Final = "LASTMILE_SECRET_KEY"


class SecretKeyError(Exception):
    """No usable key: the message names the variable, never a key."""


class Vault:
    """MultiFernet over the configured keys: the first encrypts, all decrypt."""

    def __init__(self, keys: str) -> None:
        parts = [part.strip() for part in keys.split(",") if part.strip()]
        if not parts:
            raise SecretKeyError(f"{ENV} holds no key")
        try:
            self._fernet = MultiFernet([Fernet(part.encode()) for part in parts])
        except (ValueError, TypeError):
            raise SecretKeyError(
                f"{ENV} must be comma-separated Fernet keys (32 url-safe base64 bytes each)"
            ) from None
        self.key_count = len(parts)

    def __repr__(self) -> str:
        return f"Vault(keys=***{self.key_count})"

    def encrypt(self, plain: bytes) -> bytes:
        return self._fernet.encrypt(plain)

    def decrypt(self, token: bytes) -> bytes:
        """Raises SecretKeyError when no configured key opens the token."""
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise SecretKeyError(
                f"a stored secret does not open with any key in {ENV} (was a key dropped "
                "before `lastmile rotate-secret-key` ran?)"
            ) from None


_installed: Vault | None = None


def install_keys(keys: str) -> Vault:
    """Use these keys in this process from now on. Raises SecretKeyError."""
    global _installed
    _installed = Vault(keys)
    return _installed


def vault() -> Vault:
    """The installed keys. Raises SecretKeyError when none were installed."""
    if _installed is None:
        raise SecretKeyError(f"{ENV} is not set: stored secrets cannot be read or written")
    return _installed


def new_key() -> str:
    return Fernet.generate_key().decode()


class EncryptedBytes(TypeDecorator[bytes]):
    """bytes in Python, a Fernet token in the database."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: sa.Dialect) -> bytes | None:
        return None if value is None else vault().encrypt(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        return None if value is None else vault().decrypt(bytes(value))


class EncryptedText(TypeDecorator[str]):
    """str in Python, a Fernet token (ASCII) in a text column."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else vault().encrypt(value.encode()).decode("ascii")

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else vault().decrypt(str(value).encode()).decode()


class EncryptedJSON(TypeDecorator[Any]):
    """Any JSON value in Python, its encrypted serialization in a text column."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return vault().encrypt(json.dumps(value).encode()).decode("ascii")

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return None if value is None else json.loads(vault().decrypt(str(value).encode()))


ENCRYPTED_TYPES: Final = (EncryptedBytes, EncryptedText, EncryptedJSON)


async def reencrypt_all(engine: AsyncEngine, metadata: sa.MetaData) -> int:
    """Re-encrypt every encrypted column with the newest key; returns the rows rewritten.

    Reading opens a value with whichever key made it, writing seals it with the newest, so a
    second run changes nothing a reader can tell (idempotent). One transaction per table.
    """
    rewritten = 0
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, ENCRYPTED_TYPES)]
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        async with engine.begin() as conn:
            rows = (await conn.execute(sa.select(*keys, *columns))).all()
            for row in rows:
                values = row._mapping
                await conn.execute(
                    table.update()
                    .where(*(key == values[key] for key in keys))
                    .values({c.name: values[c] for c in columns})
                )
            rewritten += len(rows)
    return rewritten


def local_key(path: Path) -> str:
    """The key in `path`, made on first use (owner-only file): dev and demo need no setup."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = new_key()
    with os.fdopen(fd, "w") as file:
        file.write(key + "\n")
    return key
