"""Liveness, readiness (every store reachable) and Prometheus metrics. No auth."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from backend.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _check(services: Any) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["sql"] = "ok"
    except Exception as exc:
        checks["sql"] = f"error: {type(exc).__name__}"
    try:
        services.graph.ping()
        checks["graph"] = "ok"
    except Exception as exc:
        checks["graph"] = f"error: {exc}"[:200]
    if services.files is not None:
        try:
            services.files.store.ping()
            checks["files"] = "ok"
        except Exception as exc:
            checks["files"] = f"error: {exc}"[:200]
    return checks


@router.get("/readyz", summary="Readiness: SQL, graph and file stores reachable")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks = await run_in_threadpool(_check, services)
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
