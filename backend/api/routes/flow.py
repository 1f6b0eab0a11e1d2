"""Flow control (admin): per-user accounting, parked events per user and medium, drain rate, allowances."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from backend.api.deps import AdminAccount, FlowDep
from backend.api.errors import documented
from backend.api.schemas import AccountAllowance, FlowOut
from backend.flow.accounting import Allowance

router = APIRouter(tags=["flow"])


class AllowanceIn(BaseModel):
    events_per_second: float = Field(gt=0)
    bytes_per_second: float = Field(gt=0)
    burst_seconds: float = Field(10.0, gt=0, le=3600)


@router.get(
    "/flow",
    response_model=FlowOut,
    summary="Per-user accounting, parked events per user and medium, drain rate, pressure",
)
async def get_flow(flow: FlowDep, _: AdminAccount) -> FlowOut:
    """Accounts are named by their public id (as in GET /accounts and PUT /flow/allowances/{account});
    times are ISO 8601 UTC. Counters are this process's own."""
    return FlowOut.model_validate(await run_in_threadpool(flow.public))


@router.put(
    "/flow/allowances/{account_id}",
    response_model=AccountAllowance,
    summary="Set the per-user allowance of an account",
    responses=documented((404, "no account with this public id")),
)
async def put_allowance(account_id: str, body: AllowanceIn, flow: FlowDep, _: AdminAccount) -> AccountAllowance:
    """`account_id` is the account's public id (as in GET /accounts); the allowance applies to each user id
    the account sends events for, separately."""
    allowance = Allowance(body.events_per_second, body.bytes_per_second, body.burst_seconds)
    await run_in_threadpool(flow.set_account_allowance, account_id, allowance)
    return AccountAllowance(account=account_id, **allowance.as_json())
