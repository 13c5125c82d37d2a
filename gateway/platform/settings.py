"""Environment configuration, read and validated once at start-up (contract: "Environment")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

DEFAULT_DATABASE_URL: Final = "sqlite+aiosqlite:///./lastmile.db"
KNOWN_CHANNELS: Final = frozenset({"console", "twilio", "sendgrid", "fcm"})
_DB_SCHEMES: Final = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class SettingsError(Exception):
    """A configuration value is invalid; the message names the variable, never its secret value."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None  # None: start the embedded Redis
    public_url: str = "http://127.0.0.1:8080"
    channels: tuple[str, ...] = ("console",)
    dev: bool = False
    raw_payload_retention_days: int = Field(default=30, ge=1, le=3650)
    outbox_poll_s: float = Field(default=1.0, gt=0, le=60)
    log_level: str = "INFO"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    sendgrid_api_key: SecretStr | None = None
    sendgrid_from: str | None = None
    sendgrid_webhook_public_key: str | None = None  # base64 DER (SendGrid's event webhook key)
    google_application_credentials: str | None = None
    twilio_base_url: str | None = None
    sendgrid_base_url: str | None = None
    fcm_base_url: str | None = None
    # Drivers: proof-of-delivery images (a directory, or s3://bucket[/prefix]) and GPS history.
    proof_storage: str = "./lastmile-proofs"
    s3_endpoint_url: str | None = None  # S3-compatible stores (MinIO, R2, ...); unset: AWS
    s3_path_style: bool = False
    aws_access_key_id: str | None = None  # unset: botocore's own chain (profile, instance role)
    aws_secret_access_key: SecretStr | None = None
    aws_region: str | None = None
    proof_max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    position_retention_days: int = Field(default=30, ge=1, le=3650)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(_DB_SCHEMES):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - KNOWN_CHANNELS)
        if unknown:
            raise ValueError(
                f"unknown channel(s) {', '.join(unknown)}; use {sorted(KNOWN_CHANNELS)}"
            )
        return value

    @field_validator("proof_storage")
    @classmethod
    def _proof_storage(cls, value: str) -> str:
        if value.startswith("s3://") and not value.removeprefix("s3://").split("/")[0]:
            raise ValueError("must be a directory or s3://bucket[/prefix]")
        if "://" in value and not value.startswith("s3://"):
            raise ValueError("must be a directory or s3://bucket[/prefix]")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_ENV: Final[Mapping[str, str]] = {
    "LASTMILE_DATABASE_URL": "database_url",
    "LASTMILE_REDIS_URL": "redis_url",
    "LASTMILE_PUBLIC_URL": "public_url",
    "LASTMILE_CHANNELS": "channels",
    "LASTMILE_DEV": "dev",
    "LASTMILE_RAW_PAYLOAD_RETENTION_DAYS": "raw_payload_retention_days",
    "LASTMILE_OUTBOX_POLL_S": "outbox_poll_s",
    "LASTMILE_LOG_LEVEL": "log_level",
    "TWILIO_ACCOUNT_SID": "twilio_account_sid",
    "TWILIO_AUTH_TOKEN": "twilio_auth_token",
    "TWILIO_FROM_NUMBER": "twilio_from_number",
    "SENDGRID_API_KEY": "sendgrid_api_key",
    "SENDGRID_FROM": "sendgrid_from",
    "SENDGRID_WEBHOOK_PUBLIC_KEY": "sendgrid_webhook_public_key",
    "GOOGLE_APPLICATION_CREDENTIALS": "google_application_credentials",
    "LASTMILE_TWILIO_BASE_URL": "twilio_base_url",
    "LASTMILE_SENDGRID_BASE_URL": "sendgrid_base_url",
    "LASTMILE_FCM_BASE_URL": "fcm_base_url",
    "LASTMILE_PROOF_STORAGE": "proof_storage",
    "LASTMILE_S3_ENDPOINT_URL": "s3_endpoint_url",
    "LASTMILE_S3_PATH_STYLE": "s3_path_style",
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_REGION": "aws_region",
    "LASTMILE_PROOF_MAX_BYTES": "proof_max_bytes",
    "LASTMILE_POSITION_RETENTION_DAYS": "position_retention_days",
}
_BOOLEANS: Final = frozenset({"dev", "s3_path_style"})
_FIELD_TO_ENV: Final = {field: env for env, field in _ENV.items()}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from the environment.

    Raises SettingsError naming the offending variable (never echoing a secret's value).
    """
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for name, field in _ENV.items():
        value = env.get(name, "").strip()
        if not value:
            continue
        if field == "channels":
            raw[field] = tuple(part.strip() for part in value.split(",") if part.strip())
        elif field in _BOOLEANS:
            raw[field] = value.lower() in {"1", "true", "yes", "on"}
        else:
            raw[field] = value
    raw.update(overrides)
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"{_FIELD_TO_ENV.get(field, field)}: {err['msg']}")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
