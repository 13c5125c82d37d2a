"""`configure_messaging` uses private firebase-admin names: these fail first if they move."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import firebase_admin
import pytest
from firebase_admin import credentials, exceptions, messaging

from channels.fcm_push import configure_messaging
from tests.fakes.fake_providers import FakeProviders


@pytest.fixture
def app(fake_providers: FakeProviders) -> Iterator[firebase_admin.App]:
    credential = credentials.Certificate(str(fake_providers.credentials_path))
    app = firebase_admin.initialize_app(credential, name=f"test-{uuid.uuid4().hex}")
    yield app
    firebase_admin.delete_app(app)


def test_send_url_is_the_real_one_until_overridden(app: firebase_admin.App) -> None:
    service = messaging._get_messaging_service(app)
    real = "https://fcm.googleapis.com/v1/projects/lastmile-test/messages:send"
    assert service._fcm_url == real

    configure_messaging(app, None)
    assert service._fcm_url == real

    configure_messaging(app, "http://127.0.0.1:1234/")
    assert service._fcm_url == "http://127.0.0.1:1234/v1/projects/lastmile-test/messages:send"


def _push(token: str) -> messaging.Message:
    message = messaging.Message(notification=messaging.Notification(title="t", body="b"))
    message.fid = token
    return message


async def test_sdk_sends_to_the_overridden_url_once_per_call(
    app: firebase_admin.App, fake_providers: FakeProviders
) -> None:
    configure_messaging(app, fake_providers.google_url)

    name = await asyncio.to_thread(messaging.send, _push("cAbCdEfGhIjKlMnOpQrStU"), app=app)
    assert [r.name for r in fake_providers.google.requests] == [name]

    # The SDK would retry a 503 four times with backoff inside send(); with ours it tries once.
    with pytest.raises(exceptions.UnavailableError):
        await asyncio.to_thread(messaging.send, _push("unavailable-device"), app=app)
    assert fake_providers.google.attempts == 2


def test_a_service_without_the_private_url_fails_loudly(
    app: firebase_admin.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = messaging._get_messaging_service(app)
    monkeypatch.delattr(service, "_fcm_url")

    with pytest.raises(RuntimeError, match="_fcm_url"):
        configure_messaging(app, "http://127.0.0.1:1234")
