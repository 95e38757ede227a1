"""The application factory: the one place where everything is wired.

Nothing happens at import time; ``create_app()`` reads settings from the environment, and the
service parts are built in the lifespan, once per worker process.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, cast

import msgspec
from litestar import Litestar, Router, post
from litestar.datastructures import CacheControlHeader
from litestar.enums import ScopeType
from litestar.params import JSONBody
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_200_OK
from litestar.template.config import TemplateConfig
from litestar.types import (
    HTTPScope,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Message,
    Receive,
    Scope,
    Send,
)

from cardservice.cards.counter_routes import ROUTES as COUNTER_ROUTES
from cardservice.cards.offline_routes import ROUTES as OFFLINE_ROUTES
from cardservice.cards.routes import ROUTES as CARD_ROUTES
from cardservice.events.delivery import webhook_background
from cardservice.events.routes import ROUTES as EVENT_ROUTES
from cardservice.jobs import jobs_background
from cardservice.logs import install as install_log_redaction
from cardservice.mail.background import mail_background
from cardservice.mail.render import template_dir
from cardservice.notices.routes import ROUTES as NOTICE_ROUTES
from cardservice.passkit.routes import PAGE_ROUTES as APPLE_PASS_ROUTES
from cardservice.passkit.routes import ROUTES as PASSKIT_ROUTES
from cardservice.patrons.desk.routes import ROUTES as DESK_ROUTES
from cardservice.patrons.routes import ROUTES as PATRON_ROUTES
from cardservice.registration.history_routes import ROUTES as HISTORY_ROUTES
from cardservice.registration.images import ImagePool
from cardservice.registration.review_routes import ROUTES as REVIEW_ROUTES
from cardservice.registration.routes import ROUTES as APPLY_ROUTES
from cardservice.security.secrets import app_secrets
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.web.health import health, ready
from cardservice.web.home import ROUTES as HOME_ROUTES
from cardservice.web.limits import EdgeLimits, EdgeRequest
from cardservice.web.openapi import openapi_config
from cardservice.web.pages import EXCEPTION_HANDLERS, PAGE_OPT, template_engine
from cardservice.web.security import csrf_config, security_headers, session_config
from cardservice.web.staff import ROUTES as STAFF_ROUTES
from cardservice.web.staff_mail import ROUTES as STAFF_MAIL_ROUTES
from cardservice.web.state import HEAD_SCOPE_KEY

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"
# HTML pages; their errors are pages too. New page routes go in this list.
PAGE_ROUTES: list[Any] = [
    *HOME_ROUTES,
    *APPLY_ROUTES,
    *PATRON_ROUTES,
    *STAFF_ROUTES,
    *STAFF_MAIL_ROUTES,
    *REVIEW_ROUTES,
    *DESK_ROUTES,
    *HISTORY_ROUTES,
    *NOTICE_ROUTES,
    *COUNTER_ROUTES,
    *APPLE_PASS_ROUTES,
    *EVENT_ROUTES,
]


def create_app(
    settings: Settings | None = None,
    *,
    mail: bool = True,
    jobs: bool | None = None,
    freeze_gc: bool = False,
) -> Litestar:
    """The app. ``mail=False`` leaves out the relay and the dev mail catcher, and ``jobs=False``
    the scheduled jobs (both default to off together, for tests and benchmarks).
    ``freeze_gc``: a serving worker's app (see :func:`serve_app`)."""
    run_jobs = mail if jobs is None else jobs
    settings = settings or Settings.from_env()
    secrets = app_secrets(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        svc = Services.build(settings)
        app.state.services = svc
        app.state.secrets = secrets
        try:
            async with contextlib.AsyncExitStack() as background:
                # Uploads are decoded in this pool's processes, never in the server's.
                app.state.images = await background.enter_async_context(ImagePool())
                await background.enter_async_context(svc.background())  # key rotations
                if mail:
                    await background.enter_async_context(mail_background(svc.db, settings))
                if run_jobs:  # webhooks to the library system, with the scheduled jobs
                    await background.enter_async_context(
                        webhook_background(svc.db, secrets.document_key)
                    )
                if run_jobs:
                    await background.enter_async_context(
                        jobs_background(
                            svc.db,
                            settings.profile,
                            base_url=settings.base_url,
                            google=svc.google_wallet,
                            apple=svc.apple_wallet,
                        )
                    )
                if freeze_gc:
                    _freeze_long_lived()
                yield
        finally:
            await svc.close()

    handlers: list[Any] = [
        *CARD_ROUTES,
        *PASSKIT_ROUTES,
        *OFFLINE_ROUTES,
        health,
        ready,
        Router(path="/", route_handlers=PAGE_ROUTES, opt=PAGE_OPT, include_in_schema=False),
        create_static_files_router(
            path="/static",
            directories=[STATIC_DIR],
            cache_control=CacheControlHeader(max_age=3600, public=True),
            include_in_schema=False,
        ),
    ]
    if os.environ.get("CARDSERVICE_BENCH_BASELINE") == "1":
        handlers.append(bench_baseline)
    app = CardService(
        route_handlers=handlers,
        lifespan=[lifespan],
        middleware=[session_config(settings, secrets).middleware, EdgeLimits()],
        request_class=EdgeRequest,
        csrf_config=csrf_config(settings, secrets),
        before_send=[security_headers(settings)],
        template_config=TemplateConfig(engine=template_engine(template_dir())),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]  # handler map variance
        openapi_config=openapi_config(),
        debug=False,
    )
    # Link tokens in paths (email links) never reach a log, in this worker or any other.
    install_log_redaction(route.path for route in app.routes)
    return app


def serve_app() -> Litestar:
    """The app of a serving worker (``cardservice serve``: uvicorn's factory), settings from
    the environment; once started, what it made is frozen out of the garbage collector."""
    return create_app(freeze_gc=True)


def _freeze_long_lived() -> None:
    # Everything made by the time the worker serves (the app, its routes and templates, the
    # models, the profile) lives as long as the worker. Frozen (gc.freeze, Python 3.7+), a
    # full collection no longer walks it while requests wait: verify spends about 5% less
    # CPU. Only in a serving worker: a process that makes app after app (the tests) would
    # keep each one's cycles for good.
    gc.collect()
    gc.freeze()


class CardService(Litestar):
    """The app, answering HEAD wherever it answers GET (RFC 9110 §9.3.2: every general-purpose
    server supports HEAD): the GET's status and headers, Content-Length included, and no body.
    Uptime monitors and link checkers send HEAD; GET handlers here change nothing (email
    links show a page and act on POST), so running the GET is safe; one that records
    something (the patrons export's audit entry) asks ``web.state.is_head`` and skips it."""

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "HEAD":
            await super().__call__(scope, receive, send)
            return
        http_send = cast("Send", send)

        async def headers_only(message: Message) -> None:
            if message["type"] != "http.response.body":
                await http_send(message)
            elif not message.get("more_body", False):
                await http_send({"type": "http.response.body", "body": b"", "more_body": False})

        as_get = cast("HTTPScope", {**scope, "method": "GET", HEAD_SCOPE_KEY: True})
        await super().__call__(as_get, receive, headers_only)


class _BaselineRequest(msgspec.Struct):
    barcode: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    token: Annotated[str, msgspec.Meta(max_length=4096)] | None = None


@post("/api/_bench/baseline", status_code=HTTP_200_OK, include_in_schema=False)
async def bench_baseline(data: JSONBody[_BaselineRequest]) -> dict[str, str]:
    """The benchmark's yardstick: parse the same JSON body, answer a small JSON, no work."""
    return {"status": "ok"}
