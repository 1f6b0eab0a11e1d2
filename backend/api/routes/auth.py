"""POST /auth/token: client credentials → short-lived bearer token."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from backend.api.deps import AuthDep, SignInDep
from backend.api.errors import ErrorOut
from backend.domain.auth import Token
from backend.errors import InvalidInput

router = APIRouter(tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = Field(None, description="when asked for (`refresh`): renews access tokens")
    refresh_expires_in: int | None = Field(None, description="seconds the session lasts (FT_SESSION_HOURS)")

    @classmethod
    def of(cls, issued: Token) -> TokenResponse:
        return cls(
            access_token=issued.access_token,
            token_type=issued.token_type,
            expires_in=issued.expires_in,
            refresh_token=issued.refresh_token,
            refresh_expires_in=issued.refresh_expires_in,
        )


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Exchange client credentials for an access token",
    responses={
        401: {"model": ErrorOut, "description": "invalid client credentials"},
        429: {
            "model": ErrorOut,
            "description": "too many failed sign-ins for this client id or from this address, or too many at once",
            "headers": {
                "Retry-After": {"description": "seconds until a sign-in may pass", "schema": {"type": "integer"}}
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["client_id", "client_secret"],
                        "properties": {
                            "client_id": {"type": "string", "minLength": 1},
                            "client_secret": {"type": "string", "minLength": 1},
                            "refresh": {
                                "type": "boolean",
                                "description": "also return a refresh token (a session of FT_SESSION_HOURS)",
                            },
                        },
                    }
                },
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["client_id", "client_secret"],
                        "properties": {
                            "grant_type": {"type": "string"},
                            "client_id": {"type": "string", "minLength": 1},
                            "client_secret": {"type": "string", "minLength": 1},
                        },
                    }
                },
            }
        }
    },
)
async def token(request: Request, signin: SignInDep) -> TokenResponse:
    """Accepts a JSON body or an OAuth2 client-credentials form (`client_id`, `client_secret`, or the two in
    `Authorization: Basic`, as `client_secret_basic` sends them). Failed sign-ins
    are limited per client id and per source address (FT_SIGNIN_*): past a limit, 429 with Retry-After."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded") or content_type.startswith("multipart/form-data"):
        form = await request.form()
        fields = {k: form.get(k) for k in ("client_id", "client_secret")}
        refresh: object = form.get("refresh") in ("true", "1")
    else:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            raise InvalidInput("body must be JSON or a form") from None
        fields = {k: body.get(k) for k in ("client_id", "client_secret")} if isinstance(body, dict) else {}
        refresh = body.get("refresh", False) if isinstance(body, dict) else False
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if client_id is None and secret is None:
        client_id, secret = _basic(request.headers.get("authorization", ""))
    if not isinstance(client_id, str) or not isinstance(secret, str) or not client_id or not secret:
        raise InvalidInput("client_id and client_secret are required, as strings")
    if not isinstance(refresh, bool):
        raise InvalidInput("refresh must be true or false")
    issued = await signin.token(client_id, secret, request.client.host if request.client else None, refresh)
    return TokenResponse.of(issued)


def _basic(header: str) -> tuple[str | None, str | None]:
    """OAuth 2.0 `client_secret_basic` (RFC 6749, 2.3.1): `Authorization: Basic base64(id:secret)`, each part
    form-urlencoded first; what OAuth clients such as OpenLineage's HTTP transport send by default."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInput("Authorization: Basic must hold base64 of client_id:client_secret") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidInput("Authorization: Basic must hold base64 of client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(secret)


@router.post(
    "/auth/refresh",
    response_model=TokenResponse,
    summary="Renew an access token with the refresh token of a session",
    responses={
        401: {"model": ErrorOut, "description": "the session expired, was revoked, or this is no refresh token"}
    },
)
async def refresh(body: RefreshIn, auth: AuthDep) -> TokenResponse:
    """The session ends FT_SESSION_HOURS after the sign-in that opened it, or when the account is disabled or
    its secret rotated; each answer carries a new refresh token ending at the same time."""
    return TokenResponse.of(await run_in_threadpool(auth.refresh, body.refresh_token))
