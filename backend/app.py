"""Composition root: create_app(settings) wires the stores and the routes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline

from backend.api import errors
from backend.api.routes import accounts, auth, events, files, flow, health, lineage, retention, subscriptions, traces
from backend.domain.events import Envelope
from backend.metrics import HTTP_LATENCY, HTTP_REQUESTS
from backend.services import Services, open_services
from backend.settings import Settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings, services: Services | None = None, *, projector: bool = True,
               dashboard: bool = False, close_services: bool | None = None) -> FastAPI:
    """The API application. Pass `services` to share already-open stores; otherwise they are opened here.
    Stores are closed at shutdown when opened here or when `close_services` is true (uvicorn re-raises
    SIGTERM after shutdown, so the lifespan is the last place cleanup surely runs).
    `dashboard` mounts the Dash trace explorer at /dashboard/."""
    owned = services is None if close_services is None else close_services
    services = services or open_services(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if projector:
            services.start_projector()
            services.start_files(uploads=True)
        services.start_streams()  # no-op unless this process consumes streams (all-in-one)
        yield
        await subscriptions.close_registry(app)
        if owned:
            services.close()

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

    for router in (auth.router, accounts.router, events.router, traces.router, lineage.router, files.router, retention.router,
                   subscriptions.router, flow.router):
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
    if dashboard:
        from dashboard.serving import local_api_base, mount

        mount(app, local_api_base(settings.host, settings.port))
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
