"""The admission policy of flow control: a user over their allowance, or anyone while the system is
under pressure, is parked (buffering, never rejection). Implements backend.domain.ingest.AdmissionPolicy."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from backend.domain.ingest import Decision
from backend.errors import SqlUnavailable
from backend.flow.accounting import Accounting
from backend.flow.pressure import Pressure
from backend.metrics import FLOW_BYTES, FLOW_EVENTS

log = logging.getLogger("ftel.flow")


class FlowPolicy:
    def __init__(self, accounting: Accounting, pressure: Pressure, *, enabled: bool = True) -> None:
        self.accounting = accounting
        self.pressure = pressure
        self.enabled = enabled

    def decide(self, account_id: int | None, user: str, sizes: Sequence[int]) -> Decision:
        if not self.enabled:
            return Decision(now=len(sizes))
        account = str(account_id) if account_id is not None else "-"
        FLOW_EVENTS.labels(account).inc(len(sizes))
        FLOW_BYTES.labels(account).inc(sum(sizes))
        fits = self.accounting.admit(account_id, user, list(sizes))
        pressing = self.pressure.pressing()
        if pressing:
            fits = 0
        change = self.accounting.note_parked(account_id, user, len(sizes) - fits)
        if change is True:
            log.info("flow: parking events of user %r (account %s)", user, account_id)
        elif change is False:
            log.info("flow: user %r (account %s) is no longer parked", user, account_id)
        return Decision(now=fits, reason=pressing[0] if pressing else "allowance")

    def store_failed(self, exc: SqlUnavailable) -> None:
        self.pressure.set("sql")

    def graph_deferred(self) -> None:
        self.pressure.set("graph")
