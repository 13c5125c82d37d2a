"""All three fake providers on 127.0.0.1 port 0, usable from pytest fixtures and benchmarks.

```python
async with running_fake_providers(tmp_dir) as fakes:
    settings = settings.model_copy(update=fakes.settings_overrides())
    ...
    assert fakes.twilio.requests[0].body == "..."
```
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from tests.fakes.fake_google import FakeGoogle, ServiceAccountKey, generate_service_account_key
from tests.fakes.fake_sendgrid import FakeSendGrid
from tests.fakes.fake_twilio import FakeTwilio

TWILIO_FROM_NUMBER = "+15005550006"
SENDGRID_FROM = "Lastmile Demo <notify@lastmile.test>"


@dataclass
class FakeProviders:
    twilio: FakeTwilio
    sendgrid: FakeSendGrid
    google: FakeGoogle
    twilio_url: str
    sendgrid_url: str
    google_url: str  # OAuth token endpoint at /token and FCM at /v1/…
    credentials_path: Path  # service-account JSON whose token_uri is the fake's /token

    def settings_overrides(self) -> dict[str, object]:
        """Fields for `Settings.model_copy(update=...)`: real providers, fake endpoints."""
        return {
            "channels": ("twilio", "sendgrid", "fcm"),
            "twilio_account_sid": self.twilio.account_sid,
            "twilio_auth_token": SecretStr(self.twilio.auth_token),
            "twilio_from_number": TWILIO_FROM_NUMBER,
            "sendgrid_api_key": SecretStr(self.sendgrid.api_key),
            "sendgrid_from": SENDGRID_FROM,
            "google_application_credentials": str(self.credentials_path),
            "twilio_base_url": self.twilio_url,
            "sendgrid_base_url": self.sendgrid_url,
            "fcm_base_url": self.google_url,
        }

    def environ(self) -> dict[str, str]:
        """The same as environment variables, for a `lastmile` subprocess."""
        return {
            "LASTMILE_CHANNELS": "twilio,sendgrid,fcm",
            "TWILIO_ACCOUNT_SID": self.twilio.account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "TWILIO_FROM_NUMBER": TWILIO_FROM_NUMBER,
            "SENDGRID_API_KEY": self.sendgrid.api_key,
            "SENDGRID_FROM": SENDGRID_FROM,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.credentials_path),
            "LASTMILE_TWILIO_BASE_URL": self.twilio_url,
            "LASTMILE_SENDGRID_BASE_URL": self.sendgrid_url,
            "LASTMILE_FCM_BASE_URL": self.google_url,
        }


@asynccontextmanager
async def serve(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Run `app` on a free port; yields its base URL (no trailing slash)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, 0)
        await site.start()
        port = runner.addresses[0][1]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def running_fake_providers(
    directory: Path, *, key: ServiceAccountKey | None = None
) -> AsyncIterator[FakeProviders]:
    """Start the fakes and write the service-account JSON into `directory`."""
    key = key or generate_service_account_key()
    twilio, sendgrid, google = FakeTwilio(), FakeSendGrid(), FakeGoogle(key=key)
    async with AsyncExitStack() as stack:
        twilio_url = await stack.enter_async_context(serve(twilio.app()))
        sendgrid_url = await stack.enter_async_context(serve(sendgrid.app()))
        google_url = await stack.enter_async_context(serve(google.app()))
        credentials_path = directory / "service-account.json"
        credentials_path.write_text(json.dumps(key.info(f"{google_url}/token")))
        yield FakeProviders(
            twilio=twilio,
            sendgrid=sendgrid,
            google=google,
            twilio_url=twilio_url,
            sendgrid_url=sendgrid_url,
            google_url=google_url,
            credentials_path=credentials_path,
        )
