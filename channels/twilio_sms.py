"""SMS through Twilio's Messages API, with the official SDK's async (aiohttp) HTTP client."""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from types import SimpleNamespace
from typing import ClassVar, Final

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.base import (
    ChannelConfigError,
    Message,
    OutboundSMS,
    OutcomeUnknownError,
    PermanentSendError,
    Receipt,
    RetryableSendError,
    SendError,
    parse_retry_after,
    require,
)
from gateway.platform.settings import Settings

log = logging.getLogger(__name__)

UNSUBSCRIBED: Final = 21610  # "Attempt to send to unsubscribed recipient" (the customer sent STOP)
INVALID_RECIPIENT: Final = frozenset(
    {
        21211,  # invalid 'To' phone number
        21614,  # 'To' number is not a valid mobile number
    }
)

# Response headers of the request made by the current send(): TwilioRestException has none,
# and the job needs a 429's Retry-After. A holder per send() keeps concurrent sends apart; an
# aiohttp trace hook (running in the sending task) fills it.
_RESPONSE_HEADERS: ContextVar[dict[str, str] | None] = ContextVar(
    "twilio_response_headers", default=None
)


async def _keep_headers(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
) -> None:
    holder = _RESPONSE_HEADERS.get()
    if holder is not None:
        holder.update({key.lower(): value for key, value in params.response.headers.items()})


def _http_client() -> AsyncTwilioHttpClient:
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_keep_headers)
    return AsyncTwilioHttpClient(trace_configs=[trace])


class TwilioSMS:
    """Sends OutboundSMS; raises RetryableSendError (429, 5xx, unreachable), PermanentSendError,
    or OutcomeUnknownError when Twilio took the request but no answer came back in time."""

    name: ClassVar[str] = "twilio"
    kind: ClassVar[str] = "sms"
    max_body_chars: ClassVar[int] = 1600  # Twilio rejects longer bodies (error 21617)
    default_base_url: ClassVar[str] = "https://api.twilio.com"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        base_url: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        if not account_sid.startswith("AC"):
            raise ChannelConfigError("TWILIO_ACCOUNT_SID must be an account SID starting with AC")
        if not from_number.startswith("+") and not from_number.startswith("MG"):
            raise ChannelConfigError(
                "TWILIO_FROM_NUMBER must be an E.164 number (+15550100000) or a MG… service SID"
            )
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ChannelConfigError("LASTMILE_TWILIO_BASE_URL must be an http(s) URL")
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from = from_number
        self._base_url = (base_url or self.default_base_url).rstrip("/")
        self._timeout_s = timeout_s
        self._client: Client | None = None  # built on first send: its aiohttp session needs a loop

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioSMS:
        """Raises ChannelConfigError naming a missing TWILIO_* variable."""
        token = (
            settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
        )
        return cls(
            account_sid=require(settings.twilio_account_sid, "TWILIO_ACCOUNT_SID", "twilio"),
            auth_token=require(token, "TWILIO_AUTH_TOKEN", "twilio"),
            from_number=require(settings.twilio_from_number, "TWILIO_FROM_NUMBER", "twilio"),
            base_url=settings.twilio_base_url,
        )

    def _sdk(self) -> Client:
        if self._client is None:
            client = Client(self._account_sid, self._auth_token, http_client=_http_client())
            client.api.base_url = self._base_url  # the Api domain builds every Messages URL
            self._client = client
        return self._client

    async def send(self, message: Message) -> Receipt:
        """Raises RetryableSendError, PermanentSendError or OutcomeUnknownError (PII-free code).

        Twilio has no idempotency key: once the request may have reached it, a timeout or a
        dropped connection leaves the SMS possibly sent, and trying again could send it twice.
        Only a connection that never opened is safe to retry.
        """
        if not isinstance(message, OutboundSMS):
            raise TypeError(f"{self.name} sends OutboundSMS, not {type(message).__name__}")
        if len(message.body) > self.max_body_chars:
            raise PermanentSendError("twilio_body_too_long")
        headers: dict[str, str] = {}
        holder_token = _RESPONSE_HEADERS.set(headers)
        try:
            async with asyncio.timeout(self._timeout_s):
                sent = await self._sdk().messages.create_async(
                    to=message.to,
                    from_=self._from,
                    body=message.body,
                    status_callback=message.status_callback_url or values.unset,
                )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _classify(exc.status, exc.code, headers) from None  # exc text holds the number
        except aiohttp.ClientConnectorError as exc:  # nothing was sent
            log.warning("twilio unreachable: %s", type(exc).__name__)
            raise RetryableSendError("twilio_unreachable") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("twilio did not answer: %s", type(exc).__name__)
            raise OutcomeUnknownError("twilio_no_answer") from None
        finally:
            _RESPONSE_HEADERS.reset(holder_token)
        return Receipt(provider_id=str(sent.sid))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None


def _classify(status: int, code: int | None, headers: dict[str, str]) -> SendError:
    """Map a Twilio error response to our error types (code = Twilio's error code, else status)."""
    label = f"twilio_{code or status}"
    log.warning("twilio rejected a message: status %s code %s", status, code)
    if status == 429 or status >= 500:
        return RetryableSendError(
            label, retry_after_s=parse_retry_after(headers.get("retry-after"))
        )
    if code == UNSUBSCRIBED:
        return PermanentSendError(label, unsubscribed=True)
    return PermanentSendError(label, invalid_recipient=code in INVALID_RECIPIENT)
