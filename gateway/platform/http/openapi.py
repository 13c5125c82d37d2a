"""API operations: each area's `routes.py` lists its operations once; gateway/app.py mounts them
and /openapi.json is generated from the same tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError
from pydantic.json_schema import models_json_schema

from gateway.domain.text import first_text_problem
from gateway.platform.http.edge import read_bytes
from gateway.platform.http.errors import ApiError, Handler

M = TypeVar("M", bound=BaseModel)


# Every operation can answer these: a URL with text no database stores (400), a missing or
# wrong API key (401), a body over 1 MiB (413), a Content-Encoding (415): gateway/platform/http.
ALWAYS_ERRORS: Final = (400, 401, 413, 415)
BODY_ERRORS: Final = (408, 422)  # a body too slow to arrive, a body that fails validation
PATH_ERRORS: Final = (404,)  # the path's object is not this store's


@dataclass(frozen=True, slots=True, kw_only=False)
class Operation:
    """One `/v1` endpoint: its route, and the schemas /openapi.json shows for it.

    `errors` lists the error statuses the handler itself may answer beyond the ones every
    operation (ALWAYS_ERRORS), every body (BODY_ERRORS) and every path id (PATH_ERRORS) may.
    """

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()

    def route(self) -> web.RouteDef:
        return web.route(self.method, self.path, self.handler)

    def error_statuses(self) -> list[int]:
        statuses = {*ALWAYS_ERRORS, *self.errors}
        if self.body is not None:
            statuses.update(BODY_ERRORS)
        if _path_params(self.path):
            statuses.update(PATH_ERRORS)
        return sorted(statuses)


class ErrorDetail(BaseModel):
    code: str = Field(description="snake_case, stable: what went wrong")
    message: str = Field(description="for people; names the field, never echoes a value")


class ErrorOut(BaseModel):
    """Every error answer: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse and validate a JSON body. Error messages name fields, never echo values (PII)."""
    raw = await read_bytes(request)
    if b"\\u" in raw:  # NUL and lone surrogates can only arrive as \u escapes
        _refuse_unstorable_text(raw)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
        parts = []
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err["loc"]) or "body"
            parts.append(f"{where}: {err['msg']}")
        raise ApiError(422, "validation_error", "; ".join(parts)) from None


def read_query(request: web.Request, model: type[M]) -> M:
    """Validate the query string; a 400 names each bad parameter, never echoing its value.

    A parameter given twice counts as one comma-separated value (`?status=a&status=b`).
    """
    given = {key: ",".join(request.query.getall(key)) for key in request.query}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:10]:
            where = str(err["loc"][0]) if err["loc"] else "query"
            parts.append(f"{where}: {err['msg']}")
        raise ApiError(400, "invalid_parameter", "; ".join(parts)) from None


def _refuse_unstorable_text(raw: bytes) -> None:
    """422 naming the first field with a NUL or an unpaired surrogate (no database takes it)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return  # not JSON: the model's parser says so
    found = first_text_problem(data)
    if found is not None:
        raise ApiError(422, "validation_error", f"{found[0]}: {found[1]}")


def openapi_document(operations: Sequence[Operation]) -> dict[str, Any]:
    models = {m for op in operations for m in (op.body, op.response) if m is not None}
    models.add(ErrorOut)
    _, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_params(op.path)
            ]
            + [{"name": q, "in": "query", "schema": {"type": "string"}} for q in op.query],
            "responses": {
                str(op.status): _response(op.response),
                **{str(status): _error_response(status) for status in op.error_statuses()},
            },
        }
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.body)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Lastmile Gateway API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": _ref(ErrorOut)}},
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _response(model: type[BaseModel] | None) -> dict[str, Any]:
    if model is None:
        return {"description": "no content"}
    return {"description": "OK", "content": {"application/json": {"schema": _ref(model)}}}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
