"""GET /stats answers → Plotly figures (plain dicts, as dcc.Graph takes them): files received and stored,
drops stacked by reason, unconverted files and ingest lag, one bar or point per window. Windows the API
left out (no events) are drawn as 0, so a quiet hour shows as a gap in the bars, not as a missing hour.

With a split by user or account each chart stacks or draws one series per key; the keys with the
most files come first and the rest are summed into "other", so a chart stays readable."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dashboard.stats_view import WINDOWS, instant, rfc3339, window_starts
from dashboard.styles import STATUS_COLOURS

Bucket = dict[str, Any]
Figure = dict[str, Any]
Measure = Callable[[Bucket], float | None]

MAX_SERIES = 8  # keys drawn one by one; the others are summed into "other"
OTHER = "other"
NO_KEY = "(none)"
FILES_COLOURS = {"received": "#78909c", "stored": STATUS_COLOURS["stored"], "dropped": STATUS_COLOURS["dropped"]}
LAG_COLOURS = {"p50": "#1565c0", "p95": "#6a1b9a", "max": "#b0bec5"}
# One colour per key of a split, the same in every chart (Plotly's own colourway, busiest key first).
KEY_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
OTHER_COLOUR = "#90a4ae"
CHART_HEIGHT = 270
TICKS = tuple(timedelta(minutes=m) for m in (15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080))
MAX_TICKS = 8
SMALL_COUNT = 5  # up to this, a count axis ticks every whole number
PER_KEY = ("user", "account")  # splits every chart follows; a split by reason only splits the drops


def received(b: Bucket) -> float:
    return float((b.get("files") or {}).get("received") or 0)


def stored(b: Bucket) -> float:
    return float((b.get("files") or {}).get("stored") or 0)


def dropped(b: Bucket) -> float:
    files = b.get("files") or {}
    return float(files["dropped"] if "dropped" in files else sum((b.get("drops") or {}).values()))


def unconverted(b: Bucket) -> float:
    return float((b.get("files") or {}).get("unconverted") or 0)


LAG_UNITS = (("hours", 3_600_000.0), ("minutes", 60_000.0), ("seconds", 1000.0))


def lag_unit(buckets: list[Bucket]) -> tuple[str, float]:
    """The unit the lag chart reads best in: hours once some window's max is over 2 h, minutes over 2 min."""
    longest = max((float((b.get("lag_ms") or {}).get("max") or 0) for b in buckets), default=0.0)
    return next((u for u in LAG_UNITS if longest >= 2 * u[1] and u[0] != "seconds"), LAG_UNITS[-1])


def lag_in(which: str, unit_ms: float) -> Measure:
    def measure(b: Bucket) -> float | None:
        ms = (b.get("lag_ms") or {}).get(which)
        return None if ms is None else round(float(ms) / unit_ms, 3)

    return measure


class Windows:
    """The x axis of a range: every window start in it, and the buckets of an answer placed on it; and the
    colour of each key of the split, so a user has one colour in every chart."""

    def __init__(self, since: str, until: str, window: str, buckets: list[Bucket], split: list[Bucket]) -> None:
        self.window = window
        grid = [instant(s) for s in window_starts(since, until, window)]
        self.starts = grid or sorted({instant(b["start"]) for b in buckets})  # a range too long to fill
        self.colours = dict(zip(keyed(split, received), KEY_COLOURS, strict=False))

    def colour(self, key: str) -> str | None:
        return OTHER_COLOUR if key == OTHER else self.colours.get(key)

    def x(self) -> list[str]:
        """The window starts as Plotly reads dates (UTC, no zone: the axis says so)."""
        return [plotly_time(s) for s in self.starts]

    def x_ticks(self) -> dict[str, Any]:
        """A tick every nice multiple of the window (at most ~8 on the axis), on UTC clock edges, the same on
        every chart (Plotly alone puts them mid-window on some bar charts and on the hour on others)."""
        if not self.starts:
            return {}
        span = self.starts[-1] + WINDOWS[self.window] - self.starts[0]
        step = next((t for t in TICKS if t >= WINDOWS[self.window] and t * MAX_TICKS >= span), TICKS[-1])
        return {"tick0": "2000-01-01 00:00:00", "dtick": int(step.total_seconds() * 1000)}

    def x_range(self) -> list[str] | None:
        """From the first window's start to the last one's end: every chart of the page on the same axis."""
        if not self.starts:
            return None
        return [plotly_time(self.starts[0]), plotly_time(self.starts[-1] + WINDOWS[self.window])]

    def column(self, buckets: list[Bucket], measure: Measure, *, zero: float | None = 0.0) -> list[float | None]:
        """One value per window: `measure` of that window's bucket(s) summed, `zero` where there is none."""
        values: dict[Any, float | None] = {}
        for b in buckets:
            at, value = instant(b["start"]), measure(b)
            if value is not None:
                values[at] = (values.get(at) or 0.0) + value
        return [values.get(s, zero) for s in self.starts]

    def period_ms(self) -> int:
        return int(WINDOWS[self.window].total_seconds() * 1000)


def plotly_time(moment: datetime) -> str:
    return rfc3339(moment).replace("T", " ").rstrip("Z")


def keyed(buckets: list[Bucket], rank: Measure) -> dict[str, list[Bucket]]:
    """The buckets of a split, by key: the MAX_SERIES keys with the highest total `rank` first, in that
    order, then OTHER for the rest."""
    groups: dict[str, list[Bucket]] = defaultdict(list)
    for b in buckets:
        groups[NO_KEY if b.get("key") in (None, "") else str(b["key"])].append(b)
    order = sorted(groups, key=lambda k: (-sum(rank(b) or 0 for b in groups[k]), k))
    kept = {k: groups[k] for k in order[:MAX_SERIES]}
    rest = [b for k in order[MAX_SERIES:] for b in groups[k]]
    return {**kept, OTHER: rest} if rest else kept


def bars(name: str, x: list[str], y: list[float | None], windows: Windows, colour: str | None = None) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "bar",
        "name": name,
        "x": x,
        "y": y,
        "xperiod": windows.period_ms(),
        "xperiodalignment": "middle",
        "hovertemplate": f"{name}: %{{y}}<extra></extra>",
    }
    if colour:
        trace["marker"] = {"color": colour}
    return trace


def line(
    name: str, x: list[str], y: list[float | None], windows: Windows, colour: str | None = None, dash: str = "solid"
) -> Figure:
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": x,
        "y": y,
        "xperiod": windows.period_ms(),
        "xperiodalignment": "middle",
        "connectgaps": False,
        "line": {"dash": dash, **({"color": colour} if colour else {})},
        "marker": {"size": 7},
    }
    return trace


def figure(
    title: str,
    traces: list[dict[str, Any]],
    y_title: str,
    windows: Windows,
    *,
    stacked: bool = False,
    counts: bool = True,
    note: str = "",
) -> Figure:
    """`counts`: the y axis counts things, so a small count gets whole-number ticks (not 0.2, 0.4…)."""
    layout: dict[str, Any] = {
        # title, then the legend under it, so neither runs under Plotly's tool bar (top right, on hover)
        "title": {"text": title, "x": 0.01, "xanchor": "left", "y": 0.97, "yanchor": "top", "font": {"size": 14}},
        "height": CHART_HEIGHT,
        "margin": {"l": 48, "r": 12, "t": 58, "b": 32},
        "barmode": "stack" if stacked else "group",
        "bargap": 0.15,
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        "xaxis": {"type": "date", "title": {"text": ""}, "range": windows.x_range(), **windows.x_ticks()},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "automargin": True},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "Liberation Sans, Arial, sans-serif", "color": "#1f2933", "size": 12},
    }
    if counts and highest(traces, stacked) <= SMALL_COUNT:
        layout["yaxis"]["dtick"] = 1
    if note:
        layout["annotations"] = [
            {
                "text": note,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 13, "color": "#5b6b7a"},
            }
        ]
    return {"data": traces, "layout": layout}


def files_figure(totals: list[Bucket], split: list[Bucket] | None, by: str, windows: Windows) -> Figure:
    """Files received and stored per window; with a split, received is stacked by key, stored is the total."""
    x = windows.x()
    if split and by in PER_KEY:
        traces = [
            bars(key, x, windows.column(group, received), windows, windows.colour(key))
            for key, group in keyed(split, received).items()
        ]
        traces.append(line("stored (all)", x, windows.column(totals, stored), windows, FILES_COLOURS["stored"]))
        return figure(f"Files received, by {by}", traces, "files", windows, stacked=True)
    traces = [
        bars("received", x, windows.column(totals, received), windows, FILES_COLOURS["received"]),
        bars("stored", x, windows.column(totals, stored), windows, FILES_COLOURS["stored"]),
    ]
    return figure("Files received and stored", traces, "files", windows)


def drops_figure(totals: list[Bucket], split: list[Bucket] | None, by: str, windows: Windows) -> Figure:
    """Drops per window stacked by reason (or code); with a user or account split, stacked by that key."""
    x = windows.x()
    if split and by in PER_KEY:
        groups = keyed(split, dropped)
        title = f"Drops, by {by}"
    else:
        groups = drop_reasons(split if split and by == "reason" else totals)
        title = "Drops by reason"
    colour = windows.colour if by in PER_KEY else lambda key: None  # reasons: Plotly's colourway
    traces = [bars(key, x, windows.column(group, dropped), windows, colour(key)) for key, group in groups.items()]
    note = "" if any(v for t in traces for v in t["y"]) else "no drops in this range"
    y_title = "drops" if by not in PER_KEY else "files dropped"
    return figure(title, traces, y_title, windows, stacked=True, note=note)


def drop_reasons(buckets: list[Bucket]) -> dict[str, list[Bucket]]:
    """Per reason, one-reason buckets whose files.dropped is that reason's count (files and data, as the
    API's `drops` counts them): from the whole service's `drops` map, or from a split by reason."""
    per_reason: list[Bucket] = []
    for b in buckets:
        drops = b.get("drops") or {}
        if b.get("key") not in (None, ""):
            n = drops.get(b["key"], sum(drops.values())) if drops else dropped(b)
            per_reason.append({"start": b["start"], "key": b["key"], "files": {"dropped": n}})
            continue
        for reason, n in drops.items():
            per_reason.append({"start": b["start"], "key": reason, "files": {"dropped": n}})
    return keyed(per_reason, dropped)


def unconverted_figure(totals: list[Bucket], split: list[Bucket] | None, by: str, windows: Windows) -> Figure:
    """Files received, not dropped and never converted by the window's end plus the grace period."""
    x = windows.x()
    if split and by in PER_KEY:
        groups = keyed(split, unconverted)
        traces = [
            bars(key, x, windows.column(group, unconverted), windows, windows.colour(key))
            for key, group in groups.items()
        ]
        title = f"Unconverted files, by {by}"
    else:
        traces = [bars("unconverted", x, windows.column(totals, unconverted), windows, "#b34700")]
        title = "Unconverted files"
    note = "" if any(v for t in traces for v in t["y"]) else "every file received in this range moved on"
    return figure(title, traces, "files", windows, stacked=True, note=note)


def lag_figure(totals: list[Bucket], split: list[Bucket] | None, by: str, windows: Windows) -> Figure:
    """Ingest lag (receive time − event time): p50 and p95 per window, max dotted; with a split, p95 per
    key. Percentiles do not add up, so a window without events is a gap, not 0."""
    x = windows.x()
    unit, unit_ms = lag_unit(totals)
    if split and by in PER_KEY:
        groups = keyed(split, received)
        p95 = lag_in("p95", unit_ms)
        traces = [
            line(key, x, windows.column(group, p95, zero=None), windows, windows.colour(key))
            for key, group in groups.items()
        ]
        title = f"Ingest lag p95, by {by}"
    else:
        traces = [
            line(which, x, windows.column(totals, lag_in(which, unit_ms), zero=None), windows, LAG_COLOURS[which], dash)
            for which, dash in (("p50", "solid"), ("p95", "solid"), ("max", "dot"))
        ]
        title = "Ingest lag (receive − event time)"
    note = "" if any(v is not None for t in traces for v in t["y"]) else "no lag measured in this range"
    return figure(title, traces, unit, windows, counts=False, note=note)


def highest(traces: list[dict[str, Any]], stacked: bool) -> float:
    """The tallest bar (or stack) of the chart."""
    columns = zip(*(t["y"] for t in traces), strict=True) if traces else iter(())
    tops = [sum(v or 0 for v in c) if stacked else max((v or 0 for v in c), default=0) for c in columns]
    return max(tops, default=0)


CHARTS = {
    "stats-files": files_figure,
    "stats-drops": drops_figure,
    "stats-unconverted": unconverted_figure,
    "stats-lag": lag_figure,
}


def figures(
    totals: dict[str, Any], split: dict[str, Any] | None, by: str, since: str, until: str, window: str
) -> dict[str, Figure]:
    """Every chart of the page, by its dcc.Graph id, from the whole-service answer and the split one."""
    buckets = list(totals.get("buckets") or [])
    split_buckets = list(split.get("buckets") or []) if split else None
    keys = split_buckets if by in PER_KEY and split_buckets else []
    windows = Windows(str(totals.get("since") or since), str(totals.get("until") or until), window, buckets, keys)
    return {graph_id: draw(buckets, split_buckets, by, windows) for graph_id, draw in CHARTS.items()}
