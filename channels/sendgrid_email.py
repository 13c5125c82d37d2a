"""Email through SendGrid's v3 Mail Send API with the official SDK (blocking, so in a thread)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from email.utils import parseaddr
from typing import Any, ClassVar

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, CustomArg, From, Mail, To

from channels.base import (
    ChannelConfigError,
    Message,
    OutboundEmail,
    PermanentSendError,
    Receipt,
    RetryableSendError,
    SendError,
    parse_retry_after,
    require,
)
from gateway.platform.settings import Settings

log = logging.getLogger(__name__)
# python_http_client logs every request body (addresses, message text) at DEBUG: never let it.
logging.getLogger("python_http_client.client").setLevel(logging.INFO)


class SendGridEmail:
    """Sends OutboundEmail (plain text first, then HTML); raises Retryable/PermanentSendError."""

    name: ClassVar[str] = "sendgrid"
    kind: ClassVar[str] = "email"
    default_base_url: ClassVar[str] = "https://api.sendgrid.com"

    def __init__(
        self,
        *,
        api_key: str,
        from_address: str,
        base_url: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        from_name, from_email = parseaddr(from_address)
        if "@" not in from_email:
            raise ChannelConfigError(
                "SENDGRID_FROM must be an address: shop@example.com or Shop <…>"
            )
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ChannelConfigError("LASTMILE_SENDGRID_BASE_URL must be an http(s) URL")
        self._from = From(from_email, from_name or None)
        self._timeout_s = timeout_s
        self._client = SendGridAPIClient(api_key, host=(base_url or self.default_base_url))

    @classmethod
    def from_settings(cls, settings: Settings) -> SendGridEmail:
        """Raises ChannelConfigError naming a missing SENDGRID_* variable."""
        key = settings.sendgrid_api_key.get_secret_value() if settings.sendgrid_api_key else None
        return cls(
            api_key=require(key, "SENDGRID_API_KEY", "sendgrid"),
            from_address=require(settings.sendgrid_from, "SENDGRID_FROM", "sendgrid"),
            base_url=settings.sendgrid_base_url,
        )

    def build_payload(self, message: OutboundEmail) -> dict[str, Any]:
        """The v3 JSON body: one personalization, text/plain then text/html, custom args."""
        mail = Mail(from_email=self._from, to_emails=To(message.to), subject=message.subject)
        mail.content = [Content("text/plain", message.text), Content("text/html", message.html)]
        if message.custom_args:
            mail.custom_arg = [CustomArg(key, value) for key, value in message.custom_args.items()]
        payload: dict[str, Any] = mail.get()
        return payload

    def _post(self, payload: dict[str, Any]) -> Any:
        # The SDK's documented fluent client; its send() helper takes no timeout.
        return self._client.client.mail.send.post(request_body=payload, timeout=self._timeout_s)

    async def send(self, message: Message) -> Receipt:
        """Raises RetryableSendError (429, 5xx, network) or PermanentSendError (other 4xx)."""
        if not isinstance(message, OutboundEmail):
            raise TypeError(f"{self.name} sends OutboundEmail, not {type(message).__name__}")
        payload = self.build_payload(message)
        try:
            response = await asyncio.to_thread(self._post, payload)
        except HTTPError as exc:
            raise _classify(exc) from None  # the error body may quote the address
        except OSError as exc:  # URLError, timeouts, refused connections
            log.warning("sendgrid unreachable: %s", type(exc).__name__)
            raise RetryableSendError("sendgrid_unreachable") from None
        message_id = response.headers.get("X-Message-Id")
        if not message_id:  # accepted without an id: callbacks still carry custom_args
            log.warning("sendgrid accepted a message without X-Message-Id")
            message_id = "sendgrid_" + secrets.token_hex(8)
        return Receipt(provider_id=str(message_id))

    async def close(self) -> None:
        """Nothing to release: the SDK opens a connection per request."""


def _classify(exc: HTTPError) -> SendError:
    status = int(exc.status_code)
    log.warning("sendgrid rejected a message: status %s", status)
    code = f"sendgrid_{status}"
    if status == 429 or status >= 500:
        headers = exc.headers
        retry_after = headers.get("Retry-After") if headers is not None else None
        return RetryableSendError(code, retry_after_s=parse_retry_after(retry_after))
    return PermanentSendError(code)
