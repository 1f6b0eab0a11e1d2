"""Reading the rollups (GET /stats, GET /stats/summary): 15-minute buckets summed into UTC-aligned windows,
distinct members counted over the window, lag percentiles from the merged histogram.

Visibility: any account with role `read` sees the statistics of the whole service, as it reads every trace
(per-person scoping belongs to the identity issue, #16); `by=account` names accounts by their public id."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.batch.rollups import lag_of_bin
from backend.db.base import BUCKET_MS, StatsCell, StatsStore
from backend.domain.events import format_time
from backend.errors import InvalidInput

WINDOWS = {"15m": 1, "30m": 2, "1h": 4, "3h": 12, "6h": 24, "12h": 48}  # in 15-minute buckets
DIMENSIONS = ("account", "user", "reason")
DEFAULT_RANGE = timedelta(hours=24)
MAX_WINDOWS = 10_000  # windows in one answer
FILE_MEASURES = ("received", "stored", "dropped", "expired", "deleted")
LEVELS = ("debug", "info", "warn", "error")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _bucket(value: datetime, up: bool = False) -> int:
    """The 15-minute bucket a time falls in (`up`: the first bucket at or after it)."""
    ms = (value - _EPOCH) // timedelta(milliseconds=1)
    return -(-ms // BUCKET_MS) if up else ms // BUCKET_MS


def _time(bucket: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=bucket * BUCKET_MS)


class Stats:
    def __init__(self, store: StatsStore, grace_seconds: float, now: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.grace_ms = int(grace_seconds * 1000)
        self.now = now or (lambda: datetime.now(UTC))

    def windows(self, window: str, since: datetime | None, until: datetime | None, by: str | None) -> dict[str, Any]:
        """Each window of the range with events, per key of `by` (none: the whole service), by start then key.
        The range is widened to whole windows: since down, until (exclusive) up; default the last 24 hours."""
        if window not in WINDOWS:
            raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}", {"window": window})
        if by is not None and by not in DIMENSIONS:
            raise InvalidInput(f"by must be one of {', '.join(DIMENSIONS)}", {"by": by})
        width = WINDOWS[window]
        first, end = self._range(since, until)
        first, end = first // width * width, -(-end // width) * width
        if (end - first) // width > MAX_WINDOWS:
            raise InvalidInput(f"at most {MAX_WINDOWS} windows of {window} at once: narrow since/until")
        cells = self.store.read(by or "all", first, end, width, self.grace_ms)
        buckets = [
            {
                "start": format_time(_time(first + c.window * width)),
                "end": format_time(_time(first + (c.window + 1) * width)),
                "key": c.key if by else None,
                **measures(c),
            }
            for c in cells
        ]
        return {
            "window": window,
            "since": format_time(_time(first)),
            "until": format_time(_time(end)),
            "by": by,
            "buckets": buckets,
        }

    def summary(self, since: datetime | None, until: datetime | None) -> dict[str, Any]:
        """The same measures over the whole range as one window (widened to whole 15-minute buckets)."""
        first, end = self._range(since, until)
        cells = self.store.read("all", first, end, end - first, self.grace_ms)
        empty = StatsCell(0, "", {}, {}, 0)
        return {
            "since": format_time(_time(first)),
            "until": format_time(_time(end)),
            **measures(cells[0] if cells else empty),
        }

    def _range(self, since: datetime | None, until: datetime | None) -> tuple[int, int]:
        end = _bucket(until if until is not None else self.now(), up=until is not None)
        if until is None:
            end += 1  # the current bucket, whole
        first = _bucket(since) if since is not None else end - _bucket(_EPOCH + DEFAULT_RANGE)
        if first >= end:
            raise InvalidInput(
                "since must be before until", {"since": format_time(_time(first)), "until": format_time(_time(end))}
            )
        return first, end


def measures(cell: StatsCell) -> dict[str, Any]:
    """A cell's measures in the API's shape: every file and level key present, only seen types and reasons."""
    m = cell.measures

    def group(prefix: str) -> dict[str, int]:
        return {k.removeprefix(prefix): v for k, v in sorted(m.items()) if k.startswith(prefix) and v}

    return {
        "events": group("event:"),
        "files": {**{f: m.get(f"files:{f}", 0) for f in FILE_MEASURES}, "unconverted": cell.unconverted},
        "data_produced": m.get("data_produced", 0),
        "outputs": m.get("outputs", 0),
        "drops": group("drop:"),
        "logs": {level: m.get(f"log:{level}", 0) for level in LEVELS},
        "bytes": {"uploaded": m.get("bytes:uploaded", 0), "stored": m.get("bytes:stored", 0)},
        "active": {"traces": cell.members.get("trace", 0), "users": cell.members.get("user", 0)},
        "duplicates": m.get("duplicates", 0),
        "lag_ms": lag_percentiles({int(k[4:]): v for k, v in m.items() if k.startswith("lag:")}, m.get("lag_max")),
    }


def lag_percentiles(histogram: dict[int, int], top: int | None) -> dict[str, float | None]:
    """p50 and p95 as the middle of the bin holding that rank (within 4.4 %, never above the max)."""
    n = sum(histogram.values())
    if not n:
        return {"p50": None, "p95": None, "max": None}

    def at(q: float) -> float:
        rank, seen = max(1, math.ceil(q * n)), 0
        for b in sorted(histogram):
            seen += histogram[b]
            if seen >= rank:
                value = lag_of_bin(b)
                return round(min(value, float(top)) if top is not None else value, 3)
        raise AssertionError("rank beyond the histogram")

    return {"p50": at(0.5), "p95": at(0.95), "max": float(top) if top is not None else None}
