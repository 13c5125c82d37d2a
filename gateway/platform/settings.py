"""Environment configuration, read and validated once at start-up (contract: "Environment").

pydantic-settings reads the variables: `LASTMILE_<FIELD>` for the gateway's own settings, the
providers' conventional names (`TWILIO_AUTH_TOKEN`, ...) for their credentials. An empty variable
counts as unset. Any bad value, `LASTMILE_DEV=garbage` included, is a `SettingsError` that names
the variable and never echoes its value.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any, Final

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

DEFAULT_DATABASE_URL: Final = "sqlite+aiosqlite:///./lastmile.db"
KNOWN_CHANNELS: Final = frozenset({"console", "twilio", "sendgrid", "fcm"})
ENV_PREFIX: Final = "LASTMILE_"
_DB_SCHEMES: Final = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
# load_settings(environ): the mapping the next Settings() reads instead of os.environ.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("lastmile_environ", default=None)


class SettingsError(Exception):
    """A configuration value is invalid; the message names the variable, never its secret value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # `LASTMILE_REDIS_URL=` means unset, as it always did
        str_strip_whitespace=True,
        env_file=None,
    )

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None  # None: start the embedded Redis
    public_url: str = "http://127.0.0.1:8080"
    channels: Annotated[tuple[str, ...], NoDecode] = ("console",)  # comma-separated
    dev: bool = False
    raw_payload_retention_days: int = Field(default=30, ge=1, le=3650)
    outbox_poll_s: float = Field(default=1.0, gt=0, le=60)
    log_level: str = "INFO"
    # Provider credentials keep the providers' own variable names.
    twilio_account_sid: str | None = Field(default=None, validation_alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(default=None, validation_alias="TWILIO_AUTH_TOKEN")
    twilio_from_number: str | None = Field(default=None, validation_alias="TWILIO_FROM_NUMBER")
    sendgrid_api_key: SecretStr | None = Field(default=None, validation_alias="SENDGRID_API_KEY")
    sendgrid_from: str | None = Field(default=None, validation_alias="SENDGRID_FROM")
    # base64 DER (SendGrid's event webhook key)
    sendgrid_webhook_public_key: str | None = Field(
        default=None, validation_alias="SENDGRID_WEBHOOK_PUBLIC_KEY"
    )
    google_application_credentials: str | None = Field(
        default=None, validation_alias="GOOGLE_APPLICATION_CREDENTIALS"
    )
    twilio_base_url: str | None = None
    sendgrid_base_url: str | None = None
    fcm_base_url: str | None = None
    secret_key: SecretStr | None = None  # Fernet keys, comma-separated, newest first
    metrics_port: int | None = Field(default=None, ge=1, le=65535)  # /metrics only there
    # Drivers: proof-of-delivery images (a directory, or s3://bucket[/prefix]) and GPS history.
    proof_storage: str = "./lastmile-proofs"
    s3_endpoint_url: str | None = None  # S3-compatible stores (MinIO, R2, ...); unset: AWS
    s3_path_style: bool = False
    # unset: botocore's own chain (profile, instance role)
    aws_access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias="AWS_SECRET_ACCESS_KEY"
    )
    aws_region: str | None = Field(default=None, validation_alias="AWS_REGION")
    proof_max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    position_retention_days: int = Field(default=30, ge=1, le=3650)
    # The live map's tiles (tracking page, widget, dispatcher console): a {z}/{x}/{y} template.
    map_tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tiles_attribution: str = (
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    )
    # Widget tokens (POST /v1/widget-tokens) last this long unless the request asks for less.
    widget_token_ttl_s: int = Field(default=3600, ge=60, le=86400)

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

    @field_validator("map_tiles_url")
    @classmethod
    def _tiles_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        if not all(part in value for part in ("{z}", "{x}", "{y}")):
            raise ValueError("must contain {z}, {x} and {y}")
        return value

    @field_validator("channels", mode="before")
    @classmethod
    def _split_channels(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment; no .env or secrets files."""
        environ = _ENVIRON.get()
        if environ is not None:
            env_settings = _MappingSource(settings_cls, environ)
        return init_settings, env_settings


class _MappingSource(EnvSettingsSource):
    """The environment source, reading a given mapping (tests, tools) instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


def env_name(field: str) -> str:
    """The variable that sets `field`: `LASTMILE_DEV`, or a provider's own `TWILIO_AUTH_TOKEN`."""
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    return f"{ENV_PREFIX}{field.upper()}"


@contextmanager
def _reading(environ: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from the environment (`os.environ` when `environ` is None).

    Raises SettingsError naming the offending variable (never echoing a secret's value).
    """
    try:
        with _reading(os.environ if environ is None else environ):
            return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = str(err["loc"][0]) if err["loc"] else "?"
            name = where if where.isupper() else env_name(where)
            problems.append(f"{name}: {err['msg']}")  # err["input"] would be the value
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
