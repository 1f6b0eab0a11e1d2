"""Typed dependency aliases: a route signature reads like its contract."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from backend.domain import auth
from backend.domain.errors import Forbidden, Unauthenticated
from backend.services import Services
from backend.settings import Settings
from graph.base import GraphStore

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/token")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_engine(services: ServicesDep) -> Engine:
    return services.engine


def get_graph(services: ServicesDep) -> GraphStore:
    return services.graph


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
GraphDep = Annotated[GraphStore, Depends(get_graph)]


async def current_principal(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> auth.Principal:
    if credentials is None:
        raise Unauthenticated("missing bearer token: POST /api/v1/auth/token first")
    return await run_in_threadpool(auth.authenticate, services.engine, services.signing_key, credentials.credentials)


CurrentAccount = Annotated[auth.Principal, Depends(current_principal)]


def require(role: str) -> Callable[[auth.Principal], auth.Principal]:
    def check(principal: CurrentAccount) -> auth.Principal:
        if not principal.has(role):
            raise Forbidden(f"role '{role}' required", {"have": sorted(principal.roles)})
        return principal

    return check


IngestAccount = Annotated[auth.Principal, Depends(require("ingest"))]
ReadAccount = Annotated[auth.Principal, Depends(require("read"))]
AdminAccount = Annotated[auth.Principal, Depends(require("admin"))]
