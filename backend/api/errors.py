"""One place that turns exceptions into the JSON error shape {"error": {code, message, details}}."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import Scope

from backend.errors import FtelError, TooManyRequests

log = logging.getLogger("ftel.api")

RETRY_AFTER_SECONDS = 5

_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


BAD_KEY = (400, "the key is empty, longer than 512 characters, or holds control or bidi characters")


def documented(*answers: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the errors a route really gives beyond the ones every route shares (401, 403,
    503, and 400/413/422 on bodies: backend/api/app.py adds those): `documented((404, "no such trace"))`."""
    return {status: {"model": ErrorOut, "description": text} for status, text in answers}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status, headers=headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(FtelError)
    async def _domain(_: Request, exc: FtelError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 503:  # a store is down: the request may be sent again, a little later
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if isinstance(exc, TooManyRequests):  # throttled: the error says when the next attempt may pass
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if broken is not None:  # not JSON at all: the same 400 as /events gives
            where = (broken.get("ctx") or {}).get("error", "")
            return error_response(
                400,
                "invalid_input",
                f"body is not valid JSON{': ' + str(where) if where else ''}",
                {"position": list(broken.get("loc", ()))[1:]},
            )
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]
        return error_response(422, "unprocessable", "request does not match the API schema", details)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:  # Starlette names the first matching route's methods; a path may have several
            headers = {**(headers or {}), "Allow": ", ".join(_methods_of(app, request.scope))}
        return error_response(exc.status_code, _CODES.get(exc.status_code, "error"), str(exc.detail), None, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal server error")


def _methods_of(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route of the app answers on this request's path (asked of the routes themselves:
    included routers nest theirs)."""
    return [
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in app.router.routes)
    ]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
