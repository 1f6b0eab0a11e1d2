"""Trace summaries over time: a trace's status (open, ended, or idle-ended when its events stopped without an
end marker), whether its user is known, and the stored form of a summary. Pure rules, shared by the reads
(backend/domain/queries.py) and the batch jobs (backend/batch/summaries.py, fill.py), so that a stored
summary and one computed on a read say the same."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.db.base import TraceSummaryRow
from backend.domain.events import format_time

SUMMARY_COUNTS = ("files", "dropped", "unconverted", "data", "outputs")


def _now() -> datetime:
    return datetime.now(UTC)


def parse_time(text: str | None) -> datetime | None:
    """A graph time (fixed-width UTC text) as a datetime."""
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class TraceRules:
    """`idle`: a trace without trace.ended whose last event (by its own time) is older than this is idle-ended
    ("the last log is the last log even without an end marker"). `grace`: a trace whose trace.started has not
    come this long after its first event has its user missing."""

    idle: timedelta = timedelta(minutes=60)
    grace: timedelta = timedelta(minutes=30)
    clock: Callable[[], datetime] = field(default=_now)

    def idle_before(self, now: datetime) -> str:
        """Traces whose last event is before this time (graph text) and that did not end are idle-ended."""
        return format_time(now - self.idle)

    def status(self, trace: dict[str, Any], now: datetime) -> str:
        """open | ended | idle-ended, of a trace as the graph has it (status, last_at)."""
        if trace.get("status") == "ended":
            return "ended"
        last = trace.get("last_at")
        return "idle-ended" if last is not None and last < self.idle_before(now) else "open"

    def user_missing(self, trace: dict[str, Any], now: datetime) -> bool:
        """No trace.started came (started_at), and the grace period since the first event is over."""
        first = trace.get("first_at")
        return trace.get("started_at") is None and first is not None and first < format_time(now - self.grace)


def stored_summary(
    trace: dict[str, Any], summary: dict[str, Any], through_id: int, rules: TraceRules, now: datetime
) -> TraceSummaryRow:
    """The row to store of a trace (as the graph has it) and its summary (`summarise`), computed through the
    trace's event `through_id`."""
    return TraceSummaryRow(
        trace_key=trace["key"],
        user_id=trace.get("user"),
        started=trace.get("started_at") is not None,
        status=rules.status(trace, now),
        files=int(summary["files"]),
        dropped=int(summary["dropped"]),
        unconverted=int(summary["unconverted"]),
        data=int(summary["data"]),
        outputs=int(summary["outputs"]),
        drop_reasons=dict(summary["drop_reasons"]),
        first_at=parse_time(trace.get("first_at")),
        last_at=parse_time(trace.get("last_at")),
        user_missing=rules.user_missing(trace, now),
        through_id=through_id,
        computed_at=now,
    )


def summary_of(row: TraceSummaryRow) -> dict[str, Any]:
    """A stored summary as `summarise` gives it."""
    return {**{name: getattr(row, name) for name in SUMMARY_COUNTS}, "drop_reasons": dict(row.drop_reasons)}
