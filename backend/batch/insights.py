"""Insights (#13, GET /insights): what the batch app's products say needs a look, computed when asked.

- stuck files: files that came in and got no further than received or stored, with no event for
  FT_STUCK_MINUTES (the graph), the most recently stuck first;
- drop-rate anomalies: per user and per drop reason, the drops of the last hour against the hourly mean of
  the 24 hours before it (the rollups, so as far as the rollups job has counted);
- top drop reasons of the last 24 hours (the rollups);
- slowest traces: the longest first-to-last event spans of the traces active in the last 24 hours (the graph);
- retention forecast: days until the stored bytes reach FT_RETENTION_MAX_BYTES at the rate of the last
  24 hours' uploads (the file catalog).

Visibility: any account with role `read` sees the whole service's insights, as it reads every trace and the
statistics (per-person scoping belongs to the identity issue, #16).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.batch.stats import Stats
from backend.db.base import FileCatalog
from backend.domain.events import format_time
from graph.base import GraphStore, TraceFilter

RECENT = timedelta(hours=1)  # the window an anomaly is looked for in
TRAILING = timedelta(hours=24)  # its baseline, just before it
ANOMALY_FACTOR = 3.0  # a rate this many times the baseline's is an anomaly…
ANOMALY_MIN_DROPS = 5  # …once the window holds at least this many drops
LISTED = 20  # rows per list
TRACES_SCANNED = 50_000  # traces of the last 24 hours looked at for the slowest


def _at(text: str) -> datetime:
    """A stored time (fixed-width UTC text, backend.domain.events.format_time) as a datetime."""
    return datetime.fromisoformat(text)


class Insights:
    def __init__(
        self,
        graph: GraphStore,
        stats: Stats,
        catalog: FileCatalog | None,
        backend: str | None,
        stuck_minutes: float,
        max_bytes: int,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """`catalog` and `backend`: the file store retention counts (None: this process stores no files)."""
        self.graph = graph
        self.stats = stats
        self.catalog = catalog
        self.backend = backend
        self.stuck = timedelta(minutes=stuck_minutes)
        self.max_bytes = max_bytes
        self.now = now or (lambda: datetime.now(UTC))

    def report(self) -> dict[str, Any]:
        now = self.now()
        return {
            "stuck_files": self.stuck_files(now),
            "drop_rate_anomalies": self.drop_rate_anomalies(now),
            "top_drop_reasons": self.top_drop_reasons(now),
            "slowest_traces": self.slowest_traces(now),
            "retention_forecast": self.retention_forecast(now),
        }

    def stuck_files(self, now: datetime) -> list[dict[str, Any]]:
        rows = self.graph.stuck_files(format_time(now - self.stuck), LISTED)
        return [
            {
                "key": r["key"],
                "trace": r["trace"],
                "since": r["last_at"],
                "minutes": round((now - _at(r["last_at"])).total_seconds() / 60, 1),
            }
            for r in rows
        ]

    def drop_rate_anomalies(self, now: datetime) -> list[dict[str, Any]]:
        """Per 15-minute rollup bucket: the window is the hour ending with the current bucket."""
        until = self._bucket_end(now)
        start = until - RECENT
        found: list[dict[str, Any]] = []
        for by in ("user", "reason"):
            recent: dict[str, int] = {}
            before: dict[str, int] = {}
            for b in self.stats.windows("15m", start - TRAILING, until, by)["buckets"]:
                into = recent if _at(b["start"]) >= start else before
                into[b["key"]] = into.get(b["key"], 0) + sum(b["drops"].values())
            for key, count in recent.items():
                rate = count / (RECENT / timedelta(hours=1))
                baseline = before.get(key, 0) / (TRAILING / timedelta(hours=1))
                if count >= ANOMALY_MIN_DROPS and rate > ANOMALY_FACTOR * baseline:
                    found.append(
                        {
                            "by": by,
                            "key": key,
                            "rate": round(rate, 3),
                            "baseline": round(baseline, 3),
                            "window_start": format_time(start),
                        }
                    )
        return sorted(found, key=lambda a: (-a["rate"], a["by"], a["key"]))[:LISTED]

    def top_drop_reasons(self, now: datetime) -> list[dict[str, Any]]:
        drops: dict[str, int] = self.stats.summary(now - TRAILING, None)["drops"]
        ranked = sorted(drops.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"reason": reason, "count": count} for reason, count in ranked[:LISTED]]

    def slowest_traces(self, now: datetime) -> list[dict[str, Any]]:
        traces = self.graph.list_traces(TraceFilter(since=format_time(now - TRAILING)), TRACES_SCANNED, None)
        spans = [
            {
                "key": t["key"],
                "seconds": round((_at(t["last_at"]) - _at(t["first_at"])).total_seconds(), 3),
                "status": t["status"],
            }
            for t in traces
            if t["first_at"] and t["last_at"]
        ]
        return sorted(spans, key=lambda s: (-s["seconds"], s["key"]))[:LISTED]

    def retention_forecast(self, now: datetime) -> dict[str, Any]:
        held, added = (0, 0)
        if self.catalog is not None and self.backend is not None:
            held, added = self.catalog.usage(self.backend, now - TRAILING)
        per_day = added / (TRAILING / timedelta(days=1))
        limit = self.max_bytes or None
        days_left: float | None = None
        if limit is not None and (held >= limit or per_day > 0):
            days_left = round(max(0, limit - held) / per_day, 2) if per_day > 0 else 0.0
        return {"bytes": held, "limit_bytes": limit, "bytes_per_day": round(per_day), "days_left": days_left}

    @staticmethod
    def _bucket_end(now: datetime) -> datetime:
        """The end of the 15-minute UTC bucket `now` falls in."""
        floor = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
        return floor + timedelta(minutes=15)
