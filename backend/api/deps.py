"""What the routes depend on: the process's services (wired by backend/bootstrap) and typed
dependency aliases, so that a route signature reads like its contract and asks for one service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis

from backend.batch.insights import Insights
from backend.batch.stats import Stats
from backend.domain.auth import Auth, Principal
from backend.domain.files import Files
from backend.domain.health import Health
from backend.domain.ingest import Ingest
from backend.domain.queries import Queries
from backend.domain.retention import Retention
from backend.domain.signin import SignIn
from backend.domain.subscriptions import Subscriptions
from backend.errors import Forbidden, Unauthenticated, Unavailable
from backend.exports.backups import Backups
from backend.exports.service import Exports
from backend.flow.control import FlowControl
from backend.settings import Settings
from backend.streams.registry import Registry

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/token")


@dataclass(frozen=True)
class ApiServices:
    settings: Settings
    auth: Auth
    signin: SignIn
    ingest: Ingest
    queries: Queries
    subscriptions: Subscriptions
    health: Health
    files: Files | None = None
    retention: Retention | None = None
    flow: FlowControl | None = None
    stats: Stats | None = None
    insights: Insights | None = None
    exports: Exports | None = None
    backups: Backups | None = None  # POST /admin/backups (serving processes with an object store)
    redis: Callable[[], Redis] | None = None  # makes the asyncio client of the stream registry


def _services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    return _services(request).settings


def get_auth(request: Request) -> Auth:
    return _services(request).auth


def get_signin(request: Request) -> SignIn:
    return _services(request).signin


def get_ingest(request: Request) -> Ingest:
    return _services(request).ingest


def get_queries(request: Request) -> Queries:
    return _services(request).queries


def get_subscriptions(request: Request) -> Subscriptions:
    return _services(request).subscriptions


def get_health(request: Request) -> Health:
    return _services(request).health


def get_files(request: Request) -> Files:
    files = _services(request).files
    if files is None:
        raise Unavailable("file storage is not configured in this process")
    return files


def get_retention(request: Request) -> Retention:
    retention = _services(request).retention
    if retention is None:
        raise Unavailable("file storage is not configured in this process")
    return retention


def get_flow(request: Request) -> FlowControl:
    flow = _services(request).flow
    if flow is None:
        raise Unavailable("flow control is not running in this process")
    return flow


def get_stats(request: Request) -> Stats:
    stats = _services(request).stats
    if stats is None:
        raise Unavailable("statistics are not served by this process")
    return stats


def get_insights(request: Request) -> Insights:
    insights = _services(request).insights
    if insights is None:
        raise Unavailable("insights are not served by this process")
    return insights


def get_backups(request: Request) -> Backups:
    backups = _services(request).backups
    if backups is None:
        raise Unavailable("backups are not served by this process")
    return backups


def get_exports(request: Request) -> Exports:
    exports = _services(request).exports
    if exports is None:
        raise Unavailable("exports are not served by this process")
    return exports


def get_registry(request: Request) -> Registry | None:
    """One asyncio Redis client per app (it lives on the API's event loop), made on first use."""
    make = _services(request).redis
    if make is None:
        return None
    registry: Registry | None = getattr(request.app.state, "stream_registry", None)
    if registry is None:
        registry = Registry(make())
        request.app.state.stream_registry = registry
    return registry


SettingsDep = Annotated[Settings, Depends(get_settings)]
AuthDep = Annotated[Auth, Depends(get_auth)]
SignInDep = Annotated[SignIn, Depends(get_signin)]
IngestDep = Annotated[Ingest, Depends(get_ingest)]
QueriesDep = Annotated[Queries, Depends(get_queries)]
SubscriptionsDep = Annotated[Subscriptions, Depends(get_subscriptions)]
HealthDep = Annotated[Health, Depends(get_health)]
FilesDep = Annotated[Files, Depends(get_files)]
RetentionDep = Annotated[Retention, Depends(get_retention)]
FlowDep = Annotated[FlowControl, Depends(get_flow)]
RegistryDep = Annotated[Registry | None, Depends(get_registry)]
StatsDep = Annotated[Stats, Depends(get_stats)]
InsightsDep = Annotated[Insights, Depends(get_insights)]
ExportsDep = Annotated[Exports, Depends(get_exports)]
BackupsDep = Annotated[Backups, Depends(get_backups)]


async def current_principal(
    auth: AuthDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthenticated("missing bearer token: POST /api/v1/auth/token first")
    return await run_in_threadpool(auth.authenticate, credentials.credentials)


CurrentAccount = Annotated[Principal, Depends(current_principal)]


def require(role: str) -> Callable[[Principal], Principal]:
    def check(principal: CurrentAccount) -> Principal:
        if not principal.has(role):
            raise Forbidden(f"role '{role}' required", {"have": sorted(principal.roles)})
        return principal

    return check


IngestAccount = Annotated[Principal, Depends(require("ingest"))]
ReadAccount = Annotated[Principal, Depends(require("read"))]
ExportAccount = Annotated[Principal, Depends(require("export"))]
AdminAccount = Annotated[Principal, Depends(require("admin"))]
