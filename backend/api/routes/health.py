"""Liveness, readiness (every store reachable) and Prometheus metrics. No auth."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.deps import HealthDep
from backend.api.schemas import Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: SQL, graph and file stores reachable",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a store is unreachable"}},
)
async def readyz(health: HealthDep) -> JSONResponse:
    checks = await run_in_threadpool(health.readiness)
    ok = all(v == "ok" for v in checks.values())
    body = Readiness(status="ready" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
