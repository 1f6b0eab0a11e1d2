"""POST /auth/token: client credentials → short-lived bearer token."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel

from backend.api.deps import SignInDep
from backend.api.errors import ErrorOut
from backend.errors import InvalidInput

router = APIRouter(tags=["auth"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


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
    """Accepts a JSON body or an OAuth2 client-credentials form (`client_id`, `client_secret`). Failed sign-ins
    are limited per client id and per source address (FT_SIGNIN_*): past a limit, 429 with Retry-After."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded") or content_type.startswith("multipart/form-data"):
        form = await request.form()
        fields = {k: form.get(k) for k in ("client_id", "client_secret")}
    else:
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            raise InvalidInput("body must be JSON or a form") from None
        fields = {k: body.get(k) for k in ("client_id", "client_secret")} if isinstance(body, dict) else {}
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(secret, str) or not client_id or not secret:
        raise InvalidInput("client_id and client_secret are required, as strings")
    issued = await signin.token(client_id, secret, request.client.host if request.client else None)
    return TokenResponse(access_token=issued.access_token, token_type=issued.token_type, expires_in=issued.expires_in)
