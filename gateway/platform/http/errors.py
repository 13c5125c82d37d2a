"""JSON errors everywhere: one exception type for handlers, one middleware that renders them."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.platform.outages import RETRY_AFTER_S, database_unreachable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# An area's own 404 for its paths (customer pages are HTML), or None for the JSON error.
NotFoundPage = Callable[[web.Request], web.Response | None]
REQUEST_ID: Final = web.RequestKey("request_id", str)

_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
}


class ApiError(Exception):
    """Raised by handlers; rendered as `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def error_middleware(not_found_page: NotFoundPage) -> Middleware:
    """Errors as JSON `{"error": {...}}` with a request id; `not_found_page` may answer 404s."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await _answer(request, handler)
        if response.status == 404 and (page := not_found_page(request)) is not None:
            response = page
        response.headers["X-Request-Id"] = request[REQUEST_ID]
        return response

    return middleware


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, _CODES.get(exc.status, "http_error"), exc.reason)
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "")
        return response
    except ConnectionResetError:
        # The client went away mid-request (aborted upload, closed tab): nothing is wrong here.
        log.info("client closed the connection request_id=%s path=%s", request_id, request.path)
        return error_response(400, "client_closed", "the connection was closed mid-request")
    except Exception as exc:
        if database_unreachable(exc):  # a restart or failover: callers (carriers) try again
            log.warning("database unreachable (%s) request_id=%s", type(exc).__name__, request_id)
            return unavailable()
        # The body says nothing of the cause; the log line carries it under the request id.
        log.exception("unhandled error request_id=%s path=%s", request_id, request.path)
        return error_response(500, "internal_error", f"internal error (request id {request_id})")


def unavailable() -> web.Response:
    """503 with Retry-After: the request was not stored, and can be sent again as it is."""
    response = error_response(503, "unavailable", "temporarily unavailable; retry later")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
