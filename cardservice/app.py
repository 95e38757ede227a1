"""The application factory: the one place where everything is wired.

Nothing happens at import time; ``create_app()`` reads settings from the environment, and the
service parts are built in the lifespan, once per worker process.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import msgspec
from litestar import Litestar, post
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from cardservice.cards.routes import ROUTES as CARD_ROUTES
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.web.errors import EXCEPTION_HANDLERS
from cardservice.web.health import health, ready


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        svc = Services.build(settings)
        app.state.services = svc
        try:
            yield
        finally:
            await svc.close()

    handlers: list[Any] = [*CARD_ROUTES, health, ready]
    if os.environ.get("CARDSERVICE_BENCH_BASELINE") == "1":
        handlers.append(bench_baseline)
    return Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]  # handler map variance
        openapi_config=OpenAPIConfig(
            title="cardservice",
            version="1",
            description="Digital library cards: registration, signed cards, verification.",
            path="/api/docs",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        debug=False,
    )


class _BaselineRequest(msgspec.Struct):
    barcode: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    token: Annotated[str, msgspec.Meta(max_length=4096)] | None = None


@post("/_bench/baseline", status_code=HTTP_200_OK, include_in_schema=False)
async def bench_baseline(data: JSONBody[_BaselineRequest]) -> dict[str, str]:
    """The benchmark's yardstick: parse the same JSON body, answer a small JSON, no work."""
    return {"status": "ok"}
