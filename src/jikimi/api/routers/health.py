"""Liveness (``/healthz``), readiness (``/readyz``: database and data directory) and ``/metrics``."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import text

from jikimi.api.deps import Principal, get_store, require
from jikimi.api.roles import Perm
from jikimi.config import get_settings

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: the database answers and the data directory is writable",
    responses={503: {"model": Health}},
)
def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        with get_store(request).engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: this is the health check
        checks["database"] = f"error: {type(exc).__name__}"
    home = get_settings().home
    checks["data_dir"] = "ok" if os.access(home, os.W_OK) else "error: not writable"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        Health(status="ok" if ok else "unavailable", checks=checks).model_dump(),
        status_code=200 if ok else 503,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (needs an administrator's token)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request, _: Annotated[Principal, Depends(require(Perm.METRICS))]) -> Response:
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
