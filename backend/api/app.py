"""The FastAPI application: routes, error mapping, metrics middleware and the OpenAPI schema, on the
services the composition root (backend/bootstrap.py) built for this process."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline

from backend.api import errors
from backend.api.deps import ApiServices
from backend.api.routes import accounts, auth, events, files, flow, health, lineage, retention, subscriptions, traces
from backend.domain.events import Envelope
from backend.metrics import HTTP_LATENCY, HTTP_REQUESTS
from backend.streams.registry import Registry

API_PREFIX = "/api/v1"


def create_app(
    services: ApiServices,
    *,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    dashboard: str | None = None,
) -> FastAPI:
    """`on_start`/`on_stop` run in the lifespan (uvicorn re-raises SIGTERM after shutdown, so the lifespan is
    the last place cleanup surely runs). `dashboard`: mount the Dash trace explorer at /dashboard/, reading
    the API at that base URL."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            on_start()
        yield
        registry: Registry | None = getattr(app.state, "stream_registry", None)
        if registry is not None:
            app.state.stream_registry = None
            await registry.redis.aclose()
        if on_stop is not None:
            on_stop()

    # Swagger UI and ReDoc served from the package, not a CDN: /docs works on a machine without internet
    app = FastAPIOffline(
        title="file-telemetry",
        version="0.1.0",
        description="Traces the life of files: arrival, storage, conversion into data, outputs and drops.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.services = services
    errors.install(app)

    for router in (
        auth.router,
        accounts.router,
        events.router,
        traces.router,
        lineage.router,
        files.router,
        retention.router,
        subscriptions.router,
        flow.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(health.router, prefix=API_PREFIX, include_in_schema=False)

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        HTTP_LATENCY.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    _add_envelope_schema(app)
    if dashboard is not None:
        from dashboard.serving import mount

        mount(app, dashboard)
    return app


def _add_envelope_schema(app: FastAPI) -> None:
    """The event envelope is read from the raw body (JSON, NDJSON), so publish its schema by hand."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        envelope = Envelope.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(envelope.pop("$defs", {}))
        components["Envelope"] = envelope
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
