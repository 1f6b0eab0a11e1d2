"""Accounts (admin): create with roles, list, disable, rotate the secret."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.api.deps import AdminAccount, AuthDep
from backend.api.errors import documented
from backend.db.base import AccountRow

router = APIRouter(tags=["accounts"])

Role = Literal["ingest", "read", "export", "admin"]


class AccountIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["system", "human"] = "system"
    roles: list[Role] = Field(min_length=1)


class AccountOut(BaseModel):
    id: str
    name: str
    kind: str
    roles: list[str]
    client_id: str
    created_at: datetime
    disabled_at: datetime | None


class Credentials(AccountOut):
    client_secret: str = Field(description="Shown once; only its Argon2 hash is kept")


def _out(a: AccountRow) -> AccountOut:
    return AccountOut(
        id=a.uuid,
        name=a.name,
        kind=a.kind,
        roles=sorted(a.roles),
        client_id=a.client_id,
        created_at=a.created_at,
        disabled_at=a.disabled_at,
    )


@router.post("/accounts", status_code=201, response_model=Credentials, summary="Create an account (secret shown once)")
def create_account(body: AccountIn, auth: AuthDep, _: AdminAccount) -> Credentials:
    issued = auth.create_account(body.name, body.kind, list(body.roles))
    return Credentials(**_out(issued.account).model_dump(), client_secret=issued.client_secret)


@router.get("/accounts", response_model=list[AccountOut], summary="List accounts")
def list_accounts(auth: AuthDep, _: AdminAccount) -> list[AccountOut]:
    return [_out(a) for a in auth.list_accounts()]


@router.delete(
    "/accounts/{account_id}",
    response_model=AccountOut,
    summary="Disable an account; its tokens stop working",
    responses=documented(
        (404, "no account with this public id"), (409, "the caller's own account, or the last enabled admin")
    ),
)
def disable_account(account_id: str, auth: AuthDep, principal: AdminAccount) -> AccountOut:
    return _out(auth.disable_account(account_id, by=principal))


@router.post(
    "/accounts/{account_id}/secret",
    response_model=Credentials,
    summary="Rotate the secret; old tokens are revoked",
    responses=documented((404, "no account with this public id")),
)
def rotate_secret(account_id: str, auth: AuthDep, _: AdminAccount) -> Credentials:
    issued = auth.rotate_secret(account_id)
    return Credentials(**_out(issued.account).model_dump(), client_secret=issued.client_secret)
