"""Flow control: per-user accounting, parked depth, drain rate, and per-account allowances (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from backend.api.deps import AdminAccount, ServicesDep
from backend.domain import auth
from backend.flow.accounting import Allowance

router = APIRouter(tags=["flow"])


class AllowanceIn(BaseModel):
    events_per_second: float = Field(gt=0)
    bytes_per_second: float = Field(gt=0)
    burst_seconds: float = Field(10.0, gt=0, le=3600)


@router.get("/flow", summary="Per-user accounting, parked events per user and medium, drain rate, pressure")
async def get_flow(services: ServicesDep, _: AdminAccount) -> dict[str, Any]:
    return await run_in_threadpool(services.flow.snapshot)


@router.put("/flow/allowances/{account_id}", summary="Set the per-user allowance of an account")
async def put_allowance(account_id: str, body: AllowanceIn, services: ServicesDep, _: AdminAccount) -> dict[str, Any]:
    """`account_id` is the account's public id (as in GET /accounts); the allowance applies to each user id
    the account sends events for, separately."""
    pk = await run_in_threadpool(auth.account_pk, services.engine, account_id)
    allowance = Allowance(body.events_per_second, body.bytes_per_second, body.burst_seconds)
    await run_in_threadpool(services.flow.set_allowance, pk, allowance)
    return {"account": account_id, "account_key": pk, **allowance.as_json()}
