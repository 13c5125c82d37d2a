"""The baseline for `benchmarks/ingest.py`: the least an aiohttp webhook endpoint can do.

One POST route with the gateway's path shape, ``/hooks/{carrier}/{connection_id}``: read the
body, ``json.loads`` it, answer ``202 {"accepted": 1}``. No auth, no database, no logging.
The gateway's rate is compared with this one, measured in the same run by the same client.

    python benchmarks/bare_server.py --port 8081
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


async def hook(request: web.Request) -> web.Response:
    json.loads(await request.read())
    return web.json_response({"accepted": 1}, status=202)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/hooks/{carrier}/{connection_id}", hook)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
