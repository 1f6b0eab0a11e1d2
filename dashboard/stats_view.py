"""The Stats page's view state, kept in the URL like the traces list's (viewstate.py): the rollup window,
the time range and the split. Pure: query string ↔ StatsView, and the UTC-aligned windows of a range."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from dashboard.viewstate import query_of, search_of

WINDOWS = {
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "3h": timedelta(hours=3),
    "6h": timedelta(hours=6),
    "12h": timedelta(hours=12),
}
RANGES = {"6h": timedelta(hours=6), "24h": timedelta(days=1), "7d": timedelta(days=7)}
SPLITS = ("user", "account", "reason")  # "" = the whole service
DEFAULT_WINDOW, DEFAULT_RANGE = "1h", "24h"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StatsView:
    window: str = DEFAULT_WINDOW  # a key of WINDOWS
    range: str = DEFAULT_RANGE  # a key of RANGES, or "custom" (since/until apply)
    since: str = ""
    until: str = ""
    by: str = ""  # "", or one of SPLITS

    @classmethod
    def from_search(cls, search: str | None) -> StatsView:
        """Tolerant: a value that makes no sense falls back to the default instead of failing the page."""
        query = query_of(search)
        time_range = query.get("range", "")
        if time_range not in (*RANGES, "custom"):
            time_range = "custom" if query.get("since") or query.get("until") else DEFAULT_RANGE
        custom = time_range == "custom"
        return cls(
            window=query["window"] if query.get("window") in WINDOWS else DEFAULT_WINDOW,
            range=time_range,
            since=query.get("since", "") if custom else "",
            until=query.get("until", "") if custom else "",
            by=query["by"] if query.get("by") in SPLITS else "",
        )

    def search(self) -> str:
        """The query string of this view; defaults are left out, so the plain page is just /stats."""
        custom = self.range == "custom"
        return search_of(
            {
                "window": self.window if self.window != DEFAULT_WINDOW else "",
                "range": self.range if self.range != DEFAULT_RANGE else "",
                "since": self.since if custom else "",
                "until": self.until if custom else "",
                "by": self.by,
            }
        )

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> StatsView:
        return cls.from_search(search_of({k: str(v) for k, v in (data or {}).items() if v}))


def floor(moment: datetime, step: timedelta) -> datetime:
    """The start of the UTC-aligned window of length `step` that holds `moment`."""
    return moment - (moment - EPOCH) % step


def ceil(moment: datetime, step: timedelta) -> datetime:
    start = floor(moment, step)
    return start if start == moment else start + step


def window_starts(since: str, until: str, window: str, limit: int = 2000) -> list[str]:
    """Every window start in [since, until), so that windows without events show as 0 instead of being
    skipped; [] when there would be more than `limit` (the chart then shows only what the API sent)."""
    step = WINDOWS[window]
    start, end = floor(instant(since), step), instant(until)
    if (end - start) / step > limit:
        return []
    starts = []
    while start < end:
        starts.append(rfc3339(start))
        start += step
    return starts


def instant(value_text: str) -> datetime:
    """RFC 3339 text → an aware UTC datetime (no zone means UTC)."""
    value = datetime.fromisoformat(value_text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
