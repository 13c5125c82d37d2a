"""A store's webhook receiver on 127.0.0.1: records every request, answers from a script."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    received: list[Received] = field(default_factory=list)
    # path → answers to give in turn (status, headers, body); then 204
    script: dict[str, list[tuple[int, dict[str, str], str]]] = field(default_factory=dict)
    server: TestServer | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        return app

    def url(self, path: str = "/hook") -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    def answer(self, path: str, *answers: tuple[int, dict[str, str], str]) -> None:
        self.script.setdefault(path, []).extend(answers)

    def at(self, path: str = "/hook") -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(request.path, headers, body))
        queue = self.script.get(request.path)
        if queue:
            status, extra, text = queue.pop(0)
            return web.Response(status=status, headers=extra, text=text)
        return web.Response(status=204)
