"""The HTTP edge: what every request meets before a handler spends anything on it.

- `SERVER_OPTIONS` go to every server runner (`serve`, `demo`, tests): aiohttp must not inflate
  compressed bodies itself (a 1 MB gzip body inflates to 1 GB), and after an early answer it
  drains what the client still sends for at most `LINGER_S`, as raw bytes, then closes.
- `url_middleware` refuses paths and query values with text no database stores (NUL, lone
  surrogates) before any handler looks them up.
- `edge_middleware` answers 415 to any `Content-Encoding` but identity and 413 to a declared
  length over the limit before the body is read, and closes the connection after every error
  answer that left the body unread (401 before reading, 413, 415), so no unread body is parsed
  as the next request and no client keeps the connection.
- `read_bytes` / `read_form` read a whole body within `BODY_TIMEOUT_S` (a body that stalls is
  cut: 408), within the app's `client_max_size` (413).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError
from multidict import MultiDictProxy

from gateway.domain.text import text_problem
from gateway.platform.http.errors import ApiError, Handler, error_response

MAX_BODY_BYTES: Final = 1024 * 1024
BODY_TIMEOUT_S: Final = 20.0  # the whole body, however slowly it trickles in
LINGER_S: Final = 1.0
SERVER_OPTIONS: Final[dict[str, Any]] = {"auto_decompress": False, "lingering_time": LINGER_S}
_IDENTITY: Final = frozenset({"", "identity"})


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES // 1024} KiB")


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in _IDENTITY:
        return _closing(
            error_response(
                415, "unsupported_content_encoding", "send the body without Content-Encoding"
            )
        )
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        exc = _too_large()
        return _closing(error_response(exc.status, exc.code, exc.message))
    response = await handler(request)
    if response.status >= 400 and not request.content.is_eof() and not response.prepared:
        _closing(response)  # answered without reading the body: don't keep the connection
    return response


@web.middleware
async def url_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Path and query values end up in queries: none may hold text no database stores.

    Such a path names nothing that exists (404: customers get their one 404 page); such a
    query is a 400. Runs inside the error middleware, which renders both.
    """
    if text_problem(request.path) is not None:
        raise web.HTTPNotFound()
    for text in (*request.query.keys(), *request.query.values()):
        if (problem := text_problem(text)) is not None:
            raise ApiError(400, "invalid_parameter", f"the query {problem}")
    return await handler(request)


def _closing(response: web.StreamResponse) -> web.StreamResponse:
    response.force_close()  # `Connection: close`; the server drains at most LINGER_S, then closes
    return response


@asynccontextmanager
async def _reading() -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            yield
    except TimeoutError:
        raise ApiError(
            408, "request_timeout", f"the body did not arrive within {BODY_TIMEOUT_S:g} s"
        ) from None
    except web.HTTPRequestEntityTooLarge:
        raise _too_large() from None
    except RequestPayloadError:
        raise ApiError(400, "malformed_body", "the request body is malformed") from None


async def read_bytes(request: web.Request) -> bytes:
    """The whole body. Raises ApiError 408 (too slow), 413 (too large), 400 (malformed)."""
    async with _reading():
        return await request.read()


async def read_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The posted form, read like `read_bytes`."""
    async with _reading():
        return await request.post()
