"""One HTTP attempt to a store endpoint: SSRF-vetted, no redirects, bounded, timed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import aiohttp
from yarl import URL

from gateway.store_webhooks.schedule import parse_retry_after
from gateway.store_webhooks.ssrf import ForbiddenAddress, VettingResolver, check_literal_host

REQUEST_TIMEOUT_S: Final = 15.0
RESPONSE_BODY_LIMIT: Final = 1024  # bytes kept for the attempt log; the rest is never read
USER_AGENT: Final = "Lastmile-Webhooks/1"
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None  # None: a 2xx came back
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def create_session(*, allow_private: bool) -> aiohttp.ClientSession:
    """The worker's one session for every store webhook: connections only to vetted addresses."""
    connector = aiohttp.TCPConnector(
        resolver=VettingResolver(allow_private=allow_private), limit=200, limit_per_host=8
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        auto_decompress=False,  # a small compressed answer must not inflate in our memory
        cookie_jar=aiohttp.DummyCookieJar(),  # one receiver's cookies must not reach another
        trust_env=False,  # an environment proxy would connect on our behalf, unvetted
    )


async def post(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    body: str,
    *,
    allow_private: bool,
    now: datetime,
) -> SendResult:
    """POST once. Never raises for network or HTTP trouble: the result says what happened."""
    started = time.monotonic()
    try:
        check_literal_host(URL(url).host or "", allow_private=allow_private)
        async with session.post(
            url, data=body.encode(), headers=headers, allow_redirects=False
        ) as response:
            head = await _read_head(response)
            status = response.status
            retry_after = response.headers.get("Retry-After")
    except ForbiddenAddress:
        return SendResult(None, _ms_since(started), None, "address_refused")
    except aiohttp.ClientConnectorDNSError as exc:
        error = "address_refused" if isinstance(exc.os_error, ForbiddenAddress) else "dns_error"
        return SendResult(None, _ms_since(started), None, error)
    except TimeoutError:
        return SendResult(None, _ms_since(started), None, "timeout")
    except aiohttp.ClientConnectorError:
        return SendResult(None, _ms_since(started), None, "connect_error")
    except (aiohttp.ClientError, ValueError):
        return SendResult(None, _ms_since(started), None, "http_error")
    text = head.decode("utf-8", errors="replace")
    if 200 <= status < 300:
        return SendResult(status, _ms_since(started), text, None)
    wait_s = parse_retry_after(retry_after, now) if status in _RETRY_AFTER_STATUSES else None
    return SendResult(status, _ms_since(started), text, f"http_{status}", wait_s)


async def _read_head(response: aiohttp.ClientResponse) -> bytes:
    """At most RESPONSE_BODY_LIMIT bytes; an unread rest closes the connection instead."""
    head = b""
    while len(head) < RESPONSE_BODY_LIMIT:
        chunk = await response.content.read(RESPONSE_BODY_LIMIT - len(head))
        if not chunk:
            break
        head += chunk
    if not response.content.at_eof():
        response.close()
    return head


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
