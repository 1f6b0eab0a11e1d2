"""Flow control of one process, as operators see it: the periodic pressure check, the drain tick, the
snapshot behind GET /flow and the metrics, and allowances set by an admin (shared through Redis).

The parts each do one job (docs/flow.md): `policy` decides at admission, `pressure` probes the stores
and thresholds, `parking` picks the park medium, `drain` hands parked events back to the pipeline,
`accounting` counts per user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from backend.db.base import AccountStore
from backend.errors import NotFound, Unavailable
from backend.flow.accounting import Accounting, Allowance
from backend.flow.drain import Drainer
from backend.flow.parking import Parking
from backend.flow.pressure import Pressure
from backend.metrics import (
    FLOW_ACCOUNT_DEPTH,
    FLOW_DEPTH,
    FLOW_DRAIN_RATE,
    FLOW_OLDEST,
    FLOW_PARKED_USERS,
    FLOW_RATE,
    FLOW_USERS,
)

log = logging.getLogger("ftel.flow")


class AllowanceStore(Protocol):
    """Where allowances set by an admin are shared between replicas (Redis: backend.streams.admin)."""

    def allowances(self) -> dict[int, dict[str, float]]: ...

    def save_allowance(self, account_id: int, doc: dict[str, float]) -> None: ...


@dataclass(frozen=True)
class ParkedQueue:
    account_id: int | None
    user: str
    events: int


class FlowControl:
    def __init__(
        self,
        accounting: Accounting,
        pressure: Pressure,
        parking: Parking,
        drainer: Drainer,
        accounts: AccountStore,
        allowances: AllowanceStore | None = None,
    ) -> None:
        self.accounts = accounts  # accounts are shown by their public id
        self.accounting = accounting
        self.pressure = pressure
        self.parking = parking
        self.drainer = drainer
        self.allowances = allowances
        self._published: set[str] = set()  # account labels on the per-account gauges

    def check(self) -> None:
        """Probe stores and thresholds, pick up allowances set on other replicas, publish the metrics."""
        self.pressure.check()
        self.parking.check()
        if self.allowances is not None and self.parking.redis_reachable:
            try:
                for account, doc in self.allowances.allowances().items():
                    self.accounting.set_allowance(account, Allowance(**doc))
            except Unavailable as exc:
                log.debug("allowances not refreshed: %s", exc)
        self.publish()

    def drain_once(self) -> int:
        return self.drainer.drain_once()

    def pressing(self) -> list[str]:
        return self.pressure.pressing()

    def parked(self) -> tuple[dict[str, int], list[ParkedQueue], float | None, bool]:
        """Events per medium, per-user queues, the oldest parked age, and whether every medium answered."""
        by_medium: dict[str, int] = {}
        queues: list[ParkedQueue] = []
        oldest: float | None = None
        answered = True
        for medium in self.parking.media:
            try:
                depths = medium.depths()
                age = medium.oldest_age()
            except Unavailable:
                answered = False
                by_medium[medium.name] = 0
                continue
            by_medium[medium.name] = sum(depths.values())
            for queue, events in depths.items():
                owner = medium.owner(queue)
                if owner is not None:
                    queues.append(ParkedQueue(owner[0], owner[1], events))
            if age is not None:
                oldest = age if oldest is None else max(oldest, age)
        return by_medium, queues, oldest, answered

    def snapshot(self) -> dict[str, Any]:
        by_medium, queues, oldest, answered = self.parked()
        per_user = {(q.account_id, q.user): q.events for q in queues}
        users = self.accounting.snapshot()
        for user in users:
            user["buffered"] = per_user.get((user["account_id"], user["user"]), 0)
        redis = self.parking.redis
        spool = self.parking.spool
        return {
            "users": users,
            "buffered": {"redis": by_medium.get("redis", 0), "spool": by_medium.get("spool", 0)},
            "buffered_by_user": queues,
            "drain_rate": self.drainer.rate_now(),
            "oldest_parked_seconds": oldest,
            "pressure": self.pressing(),
            "redis": "none" if redis is None else ("ok" if answered and self.parking.redis_usable else "unusable"),
            "spool": {
                "bytes": spool.depth_bytes(),
                "segments": spool.segment_count(),
                "bad_segments": spool.bad_segments(),
            },
            "default_allowance": self.accounting.default.as_json(),
            "allowances": {k: v.as_json() for k, v in self.accounting.allowances.items()},
        }

    def public(self) -> dict[str, Any]:
        """The snapshot as GET /flow shows it: accounts by public id, ISO 8601 UTC times."""
        snap = self.snapshot()
        queues: list[ParkedQueue] = snap["buffered_by_user"]
        pks = {u["account_id"] for u in snap["users"] if u["account_id"] is not None}
        pks |= {q.account_id for q in queues if q.account_id is not None} | set(snap["allowances"])
        public = self.accounts.uuids(pks)
        for user in snap["users"]:
            pk = user.pop("account_id")
            user["account"] = public.get(pk) if pk is not None else None
            for name in ("first_seen", "last_seen"):
                user[name] = (
                    datetime.fromtimestamp(user[name], UTC).isoformat().replace("+00:00", "Z") if user[name] else None
                )
        snap["buffered_by_user"] = [
            {
                "account": public.get(q.account_id) if q.account_id is not None else None,
                "user": q.user,
                "buffered": q.events,
            }
            for q in queues
        ]
        snap["allowances"] = {public.get(pk, str(pk)): value for pk, value in snap["allowances"].items()}
        return snap

    def set_account_allowance(self, account_uuid: str, allowance: Allowance) -> None:
        """`account_uuid`: the account's public id; NotFound when there is none."""
        account = self.accounts.by_uuid(account_uuid)
        if account is None:
            raise NotFound(f"no account {account_uuid}")
        self.set_allowance(account.id, allowance)

    def publish(self) -> None:
        """The metrics: per medium and per account, never per user (their number is the callers' choice)."""
        by_medium, queues, oldest, _ = self.parked()
        for name in ("redis", "spool"):
            FLOW_DEPTH.labels(name).set(by_medium.get(name, 0))
        FLOW_DRAIN_RATE.set(self.drainer.rate_now())
        FLOW_OLDEST.set(oldest or 0)
        parked: dict[str, int] = {}
        for q in queues:
            parked[_label(q.account_id)] = parked.get(_label(q.account_id), 0) + q.events
        FLOW_PARKED_USERS.set(len({(q.account_id, q.user) for q in queues if q.events}))
        users = self.accounting.snapshot()
        rates: dict[str, float] = {}
        for user in users:
            rates[_label(user["account_id"])] = rates.get(_label(user["account_id"]), 0.0) + user["rate"]
        FLOW_USERS.set(len(users))
        for account in self._published - (parked.keys() | rates.keys()):
            FLOW_ACCOUNT_DEPTH.labels(account).set(0)
            FLOW_RATE.labels(account).set(0)
        for account in parked.keys() | rates.keys():
            FLOW_ACCOUNT_DEPTH.labels(account).set(parked.get(account, 0))
            FLOW_RATE.labels(account).set(round(rates.get(account, 0.0), 3))
        self._published |= parked.keys() | rates.keys()

    def set_allowance(self, account_id: int, allowance: Allowance) -> None:
        """Effective at once in this process; shared with the other replicas through Redis when it is up."""
        self.accounting.set_allowance(account_id, allowance)
        if self.allowances is not None:
            try:
                self.allowances.save_allowance(account_id, allowance.as_json())
            except Unavailable as exc:
                log.warning("flow: allowance kept in this process only (Redis: %s)", exc)

    def close(self) -> None:
        self.parking.close()


def _label(account_id: int | None) -> str:
    return str(account_id) if account_id is not None else "-"
