"""Push through the FCM HTTP v1 API with firebase-admin (blocking `messaging.send`, in a thread)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import firebase_admin
import google.auth.exceptions
import requests.adapters
from firebase_admin import credentials, messaging
from firebase_admin import exceptions as fb_exceptions

from channels.base import (
    ChannelConfigError,
    Message,
    OutboundPush,
    PermanentSendError,
    Receipt,
    RetryableSendError,
    SendError,
    parse_retry_after,
    require,
)
from gateway.platform.settings import Settings

log = logging.getLogger(__name__)

_SERVICE_ACCOUNT_FIELDS: Final = ("project_id", "client_email", "private_key", "token_uri")
# A Firebase installation ID: 22 base64url chars whose first 4 bits are 0111 (c, d, e or f).
# Anything else (e.g. "<fid>:APA91b…") is an FCM registration token.
FID_PATTERN: Final = re.compile(r"[cdef][A-Za-z0-9_-]{21}")
# Platform codes (FirebaseError.code) that a later attempt may get past.
_RETRYABLE_CODES: Final = frozenset(
    {
        fb_exceptions.UNAVAILABLE,
        fb_exceptions.INTERNAL,
        fb_exceptions.DEADLINE_EXCEEDED,
        fb_exceptions.RESOURCE_EXHAUSTED,
        fb_exceptions.UNKNOWN,  # connection reset and the like
    }
)


def configure_messaging(app: firebase_admin.App, base_url: str | None) -> None:
    """Point the app's FCM send URL at `base_url` (when given) and turn off the SDK's own retries.

    firebase-admin 7.x keeps the URL in the private `_fcm_url` of its messaging service and
    retries 500/503 up to 4 times with backoff inside `send`, blocking a thread for seconds; our
    jobs retry with their own backoff and honour Retry-After, so one attempt per send here.
    Private names: tests/channels/test_channel_fcm_override.py fails first if they change.
    """
    service = messaging._get_messaging_service(app)
    if not isinstance(getattr(service, "_fcm_url", None), str):  # fail loudly, never send elsewhere
        raise RuntimeError("firebase-admin's messaging service has no _fcm_url: update fcm_push")
    if base_url:
        project = service._project_id
        service._fcm_url = f"{base_url.rstrip('/')}/v1/projects/{project}/messages:send"
    parts = urlsplit(service._fcm_url)
    adapter = requests.adapters.HTTPAdapter(pool_connections=10, pool_maxsize=100, max_retries=0)
    service._client.session.mount(f"{parts.scheme}://{parts.netloc}", adapter)


def build_message(push: OutboundPush) -> messaging.Message:
    message = messaging.Message(
        notification=messaging.Notification(title=push.title, body=push.body),
        data=dict(push.data) or None,
    )
    # Message(token=...) warns "deprecated, use fid" in 7.x, yet registration tokens still go in
    # the v1 API's `token` field: set the attribute the encoder reads, without the warning.
    if FID_PATTERN.fullmatch(push.token):
        message.fid = push.token
    else:
        message.token = push.token
    return message


def _load_service_account(path: str) -> dict[str, Any]:
    """The parsed JSON; ChannelConfigError (never quoting the file) when it is not usable."""
    env = "GOOGLE_APPLICATION_CREDENTIALS"
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError:
        raise ChannelConfigError(f"{env}: cannot read the file it names") from None
    except ValueError:
        raise ChannelConfigError(f"{env}: the file is not JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ChannelConfigError(
            f'{env}: not a service-account key (needs "type": "service_account")'
        )
    missing = [name for name in _SERVICE_ACCOUNT_FIELDS if not info.get(name)]
    if missing:
        raise ChannelConfigError(f"{env}: service-account key lacks {', '.join(missing)}")
    return info


class FCMPush:
    """Sends OutboundPush to one device; raises RetryableSendError or PermanentSendError."""

    name: ClassVar[str] = "fcm"
    kind: ClassVar[str] = "push"

    def __init__(
        self, *, credentials_path: str, base_url: str | None = None, timeout_s: float = 10.0
    ) -> None:
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ChannelConfigError("LASTMILE_FCM_BASE_URL must be an http(s) URL")
        info = _load_service_account(credentials_path)
        try:
            credential = credentials.Certificate(info)
        except ValueError:
            raise ChannelConfigError(
                "GOOGLE_APPLICATION_CREDENTIALS: the service-account private key is not valid"
            ) from None
        self.project_id: str = info["project_id"]
        # An app of its own: several channels (and tests) can live in one process.
        self._app = firebase_admin.initialize_app(
            credential,
            {"projectId": self.project_id, "httpTimeout": timeout_s},
            name=f"lastmile-fcm-{uuid.uuid4().hex}",
        )
        configure_messaging(self._app, base_url)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> FCMPush:
        """Raises ChannelConfigError naming GOOGLE_APPLICATION_CREDENTIALS when it is unusable."""
        path = require(
            settings.google_application_credentials, "GOOGLE_APPLICATION_CREDENTIALS", "fcm"
        )
        return cls(credentials_path=path, base_url=settings.fcm_base_url)

    async def send(self, message: Message) -> Receipt:
        """Raises RetryableSendError (UNAVAILABLE, INTERNAL, QUOTA_EXCEEDED, network) or
        PermanentSendError (UNREGISTERED marks the token invalid, INVALID_ARGUMENT, …)."""
        if not isinstance(message, OutboundPush):
            raise TypeError(f"{self.name} sends OutboundPush, not {type(message).__name__}")
        try:
            fcm_message = build_message(message)
            name = await asyncio.to_thread(messaging.send, fcm_message, app=self._app)
        except fb_exceptions.FirebaseError as exc:
            raise _classify(exc) from None  # the cause holds the request
        except google.auth.exceptions.TransportError:
            log.warning("fcm token endpoint unreachable")
            raise RetryableSendError("fcm_auth_unreachable") from None
        except google.auth.exceptions.RefreshError as exc:
            log.warning("fcm token refused")
            if getattr(exc, "retryable", False):
                raise RetryableSendError("fcm_auth_unavailable") from None
            raise PermanentSendError("fcm_auth_failed") from None
        except ValueError:  # the SDK's own validation of the message
            raise PermanentSendError("fcm_invalid_message") from None
        return Receipt(provider_id=str(name))

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            # delete_app closes the messaging service with asyncio.run(): not on our loop.
            await asyncio.to_thread(firebase_admin.delete_app, self._app)


def _classify(exc: fb_exceptions.FirebaseError) -> SendError:
    response = exc.http_response
    status = getattr(response, "status_code", None)
    log.warning("fcm rejected a message: status %s code %s", status, exc.code)
    if isinstance(exc, messaging.UnregisteredError):
        return PermanentSendError("fcm_unregistered", invalid_recipient=True)
    if isinstance(exc, messaging.SenderIdMismatchError):
        return PermanentSendError("fcm_sender_id_mismatch")
    if isinstance(exc, messaging.ThirdPartyAuthError):
        return PermanentSendError("fcm_third_party_auth_error")
    if isinstance(exc, messaging.QuotaExceededError):
        code = "fcm_quota_exceeded"
    else:
        code = f"fcm_{str(exc.code).lower()}"
    if exc.code in _RETRYABLE_CODES or isinstance(exc, messaging.QuotaExceededError):
        retry_after = response.headers.get("Retry-After") if response is not None else None
        return RetryableSendError(code, retry_after_s=parse_retry_after(retry_after))
    return PermanentSendError(code)
