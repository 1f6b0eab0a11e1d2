"""The FastAPI application: routes, error mapping, metrics middleware and the OpenAPI schema, on the
services the composition root (backend/bootstrap) built for this process."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi_offline import FastAPIOffline

from backend.api import errors
from backend.api.body_limit import BodyLimit, BodyLimits
from backend.api.deps import ApiServices
from backend.api.routes import (
    accounts,
    auth,
    backups,
    events,
    exports,
    files,
    flow,
    health,
    insights,
    lineage,
    openlineage,
    retention,
    stats,
    subscriptions,
    traces,
)
from backend.domain.events import Envelope
from backend.metrics import HTTP_LATENCY, HTTP_REQUESTS
from backend.streams.registry import Registry

API_PREFIX = "/api/v1"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others count as "other"


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
        stats.router,
        insights.router,
        backups.router,
        exports.router,
        openlineage.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(health.router, prefix=API_PREFIX, include_in_schema=False)

    limits = body_limits(services, dashboard is not None)
    app.add_middleware(BodyLimit, limits=limits)  # added first: inside _measure, so its 413s are counted

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        method = request.method if request.method in HTTP_METHODS else "other"  # any token is a method to HTTP
        HTTP_REQUESTS.labels(method, path, str(response.status_code)).inc()
        HTTP_LATENCY.labels(method, path).observe(time.perf_counter() - started)
        return response

    _complete_schema(app, limits)
    if dashboard is not None:
        from dashboard.serving import mount

        mount(app, dashboard)
    return app


def body_limits(services: ApiServices, dashboard: bool) -> BodyLimits:
    """FT_MAX_BODY_BYTES for every body; the event batch, the sign-in and the dashboard's callbacks have their own,
    and uploads enforce FT_MAX_UPLOAD_BYTES themselves while they stream to storage."""
    s = services.settings
    routes: dict[tuple[str, str], int | None] = {
        ("POST", f"{API_PREFIX}/events"): s.max_request_bytes,
        ("POST", f"{API_PREFIX}/openlineage"): s.max_request_bytes,  # (a Spark RunEvent with wide schemas: MiBs)
        ("POST", f"{API_PREFIX}/lineage"): s.max_request_bytes,
        ("POST", f"{API_PREFIX}/files"): None,
        ("POST", f"{API_PREFIX}/auth/token"): s.max_signin_body_bytes,
    }
    if dashboard:
        from dashboard.serving import MOUNT_PATH

        routes[("POST", f"{MOUNT_PATH}/_dash-update-component")] = s.max_request_bytes
    return BodyLimits(s.max_body_bytes, routes)


def _complete_schema(app: FastAPI, limits: BodyLimits) -> None:
    """The event envelope is read from the raw body (JSON, NDJSON), so publish its schema by hand; and the 413
    every operation with a body may answer (the body limit is a middleware, not a route's declaration)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        envelope = Envelope.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(envelope.pop("$defs", {}))
        components["Envelope"] = envelope
        error = errors.ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in error.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components.setdefault("ErrorOut", error)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if isinstance(operation, dict):
                    _shared_errors(path, method, operation, limits.of(method.upper(), path))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}}


def _shared_errors(path: str, method: str, operation: dict[str, Any], limit: int | None) -> None:
    """The errors every operation of a kind can give, from the mechanism that gives them: the bearer check
    (401, 403), a store that does not answer (503, every /api/v1 route), the body reader (400 for JSON that
    does not parse, 413 over the limit) and request validation (422, in the service's error shape)."""
    responses = operation.setdefault("responses", {})

    def add(status: int, description: str, headers: dict[str, Any] | None = None) -> None:
        answer: dict[str, Any] = {"description": description, "content": _ERROR_BODY}
        if headers:
            answer["headers"] = headers
        responses.setdefault(str(status), answer)

    if "security" in operation:
        add(401, "no bearer token, or one that is invalid or expired")
        add(403, "the account lacks the role this operation needs")
    if path.startswith(API_PREFIX):
        add(503, "a store (event log, graph, files or Redis) does not answer", _RETRY_AFTER)
    body = operation.get("requestBody", {}).get("content", {})
    if body:
        add(413, f"body over {limit} bytes" if limit else "body over the route's own limit")
    if "application/json" in body or "application/x-ndjson" in body:
        add(400, "the body is not valid JSON")
    if "422" in responses:  # FastAPI's default names its own body shape; ours is ErrorOut
        responses["422"] = {"description": "the request does not match the schema", "content": _ERROR_BODY}
