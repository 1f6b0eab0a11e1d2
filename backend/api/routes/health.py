"""Liveness, readiness (every store reachable) and Prometheus metrics. No account token: /metrics holds only
aggregate figures of bounded cardinality (per-user figures are on GET /api/v1/flow, admin only), and can ask for a
static bearer token of its own (FT_METRICS_TOKEN), which Prometheus sends from its scrape configuration."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backend.api.deps import HealthDep, SettingsDep
from backend.api.errors import ErrorOut
from backend.api.schemas import ProjectionLag, Readiness
from backend.errors import Unauthenticated

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
    """Each store's answer, and (`projection`) how far the lineage graph is behind the event log: events are
    acknowledged once stored and merged right after, so a growing lag means the graph cannot keep up."""
    checks = await run_in_threadpool(health.readiness)
    ok = all(v == "ok" for v in checks.values())
    lag = await run_in_threadpool(health.projection) if ok else None
    body = Readiness(
        status="ready" if ok else "unavailable",
        checks=checks,
        projection=ProjectionLag.model_validate(lag) if lag is not None else None,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={401: {"model": ErrorOut, "description": "FT_METRICS_TOKEN is set and was not sent"}},
)
async def metrics(settings: SettingsDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    expected = settings.metrics_token
    if expected and not hmac.compare_digest((authorization or "").encode(), f"Bearer {expected}".encode()):
        raise Unauthenticated("/metrics needs `Authorization: Bearer <FT_METRICS_TOKEN>`")
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
