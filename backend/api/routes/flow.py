"""Flow control: per-user accounting, parked depth, drain rate, and per-account allowances (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from backend.api.deps import AdminAccount, ServicesDep
from backend.domain import auth
from backend.flow.accounting import Allowance
from backend.streams import keys

router = APIRouter(tags=["flow"])


class AllowanceIn(BaseModel):
    events_per_second: float = Field(gt=0)
    bytes_per_second: float = Field(gt=0)
    burst_seconds: float = Field(10.0, gt=0, le=3600)


@router.get("/flow", summary="Per-user accounting, parked events per user and medium, drain rate, pressure")
async def get_flow(services: ServicesDep, _: AdminAccount) -> dict[str, Any]:
    """Accounts are named by their public id (as in GET /accounts and PUT /flow/allowances/{account});
    times are ISO 8601 UTC."""
    snap = await run_in_threadpool(services.flow.snapshot)
    parked = [(keys.park_owner(key), depth) for key, depth in snap["buffered_by_user"].items()]
    pks = {u["account_id"] for u in snap["users"] if u["account_id"] is not None}
    pks |= {a for (a, _), _ in parked if a is not None} | {int(a) for a in snap["allowances"]}
    public = await run_in_threadpool(auth.account_uuids, services.engine, pks)
    for user in snap["users"]:
        pk = user.pop("account_id")
        user["account"] = public.get(pk) if pk is not None else None
        for field in ("first_seen", "last_seen"):
            user[field] = datetime.fromtimestamp(user[field], UTC).isoformat().replace("+00:00", "Z") if user[field] else None
    snap["buffered_by_user"] = [{"account": public.get(a) if a is not None else None, "user": user, "buffered": depth}
                                for (a, user), depth in parked]
    snap["allowances"] = {public.get(int(a), a): value for a, value in snap["allowances"].items()}
    return snap


@router.put("/flow/allowances/{account_id}", summary="Set the per-user allowance of an account")
async def put_allowance(account_id: str, body: AllowanceIn, services: ServicesDep, _: AdminAccount) -> dict[str, Any]:
    """`account_id` is the account's public id (as in GET /accounts); the allowance applies to each user id
    the account sends events for, separately."""
    pk = await run_in_threadpool(auth.account_pk, services.engine, account_id)
    allowance = Allowance(body.events_per_second, body.bytes_per_second, body.burst_seconds)
    await run_in_threadpool(services.flow.set_allowance, pk, allowance)
    return {"account": account_id, **allowance.as_json()}
