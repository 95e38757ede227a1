"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, get
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from sqlalchemy import text

from cardservice.web.state import services


@get("/health", tags=["operations"], summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/ready",
    tags=["operations"],
    summary="Readiness: database reachable, signing key usable",
    responses={
        503: ResponseSpec(
            data_container=dict[str, Any],
            description='Not ready: {"status": "not_ready", "checks": {name: "error: Kind"}}.',
            generate_examples=False,
        )
    },
)
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    svc = services(request)
    checks: dict[str, str] = {}
    try:
        async with svc.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1 FROM cards LIMIT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        svc.keyring.signing_key(datetime.now(UTC))
        checks["signing_key"] = "ok"
    except Exception as exc:
        checks["signing_key"] = f"error: {type(exc).__name__}"
    ok = all(value == "ok" for value in checks.values())
    return Response(
        {"status": "ready" if ok else "not_ready", "checks": checks},
        status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE,
    )
