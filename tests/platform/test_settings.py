"""Configuration is validated once, with messages that name the variable and hide secrets."""

from __future__ import annotations

import pytest

from gateway.platform.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_setup() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite+aiosqlite:///./lastmile.db"
    assert settings.redis_url is None
    assert settings.channels == ("console",)
    assert settings.dev is False


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"LASTMILE_DATABASE_URL": "mysql://db/x"}, "LASTMILE_DATABASE_URL"),
        ({"LASTMILE_REDIS_URL": "http://localhost:6379"}, "LASTMILE_REDIS_URL"),
        ({"LASTMILE_CHANNELS": "console,pigeon"}, "LASTMILE_CHANNELS"),
        ({"LASTMILE_PUBLIC_URL": "gateway.example.com"}, "LASTMILE_PUBLIC_URL"),
        ({"LASTMILE_RAW_PAYLOAD_RETENTION_DAYS": "0"}, "LASTMILE_RAW_PAYLOAD_RETENTION_DAYS"),
        ({"LASTMILE_DEV": "garbage"}, "LASTMILE_DEV"),  # never silently false
        ({"LASTMILE_OUTBOX_POLL_S": "soon"}, "LASTMILE_OUTBOX_POLL_S"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(env)


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings(
        {"TWILIO_AUTH_TOKEN": "tok-secret-123", "SENDGRID_API_KEY": "SG.secret"}
    )
    assert "tok-secret-123" not in repr(settings)
    assert "SG.secret" not in repr(settings)
    assert settings.twilio_auth_token is not None
    assert settings.twilio_auth_token.get_secret_value() == "tok-secret-123"


def test_channels_and_dev_flag_parse() -> None:
    settings = load_settings({"LASTMILE_CHANNELS": "twilio, sendgrid", "LASTMILE_DEV": "1"})
    assert settings.channels == ("twilio", "sendgrid")
    assert settings.dev is True


def test_a_bad_value_is_named_but_never_echoed() -> None:
    url = "postgres://shop:hunter2@db.internal/lastmile"
    with pytest.raises(SettingsError) as caught:
        load_settings({"LASTMILE_DATABASE_URL": url})
    assert "LASTMILE_DATABASE_URL" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_empty_variables_are_unset_and_unprefixed_names_are_ignored() -> None:
    settings = load_settings({"LASTMILE_REDIS_URL": "", "DATABASE_URL": "postgres://elsewhere"})
    assert settings.redis_url is None
    assert settings.database_url == "sqlite+aiosqlite:///./lastmile.db"
