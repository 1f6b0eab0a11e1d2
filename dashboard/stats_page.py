"""The Stats page: the batch app's rollups as charts over a chosen range and window, the range's totals
as chips, and the insights beside them with every key a link to where it can be seen. Builders take
data already fetched (or view state parsed from the URL); they never call the API."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboard.layout import choice, field, filters_card
from dashboard.links import Href, key_href, trace_href
from dashboard.pages import time_box
from dashboard.stats_charts import CHARTS, Figure
from dashboard.stats_view import RANGES, SPLITS, WINDOWS, StatsView
from dashboard.views import empty, short_time, status_badge
from dashboard.viewstate import TracesView, query_page_search

WINDOW_LABELS = {
    "15m": "15 minutes",
    "30m": "30 minutes",
    "1h": "1 hour",
    "3h": "3 hours",
    "6h": "6 hours",
    "12h": "12 hours",
}
RANGE_LABELS = {"6h": "last 6 hours", "24h": "last 24 hours", "7d": "last 7 days", "custom": "custom (since/until)"}
SPLIT_LABELS = {"": "whole service", "user": "user", "account": "account", "reason": "drop reason"}
INSIGHT_ROWS = 10  # rows per insight list; the API ranks them, the rest is in the API's answer


def stats_page(view: StatsView) -> html.Div:
    custom = view.range == "custom"
    return html.Div(
        [
            html.Div(className="title-row", children=[html.H2("Stats"), html.Span(id="stats-range-info")]),
            filters_card(
                [
                    field("Window", choice("stats-window", _options(WINDOWS, WINDOW_LABELS), view.window, "130px")),
                    field(
                        "Range", choice("stats-range", _options(RANGES, RANGE_LABELS, "custom"), view.range, "190px")
                    ),
                    field("Since (UTC, custom range)", time_box("stats-since", view.since, custom)),
                    field("Until (UTC, custom range)", time_box("stats-until", view.until, custom)),
                    field("Split by", choice("stats-by", _options(("", *SPLITS), SPLIT_LABELS), view.by, "160px")),
                    html.Button("Refresh", id="stats-refresh", n_clicks=0, className="primary"),
                ]
            ),
            html.Div(id="stats-message"),
            html.Div(id="stats-summary", className="chips"),
            html.Div(
                className="stats",
                children=[
                    dcc.Loading(
                        html.Div(id="stats-charts", className="charts"),
                        type="dot",
                        delay_show=300,
                        parent_className="stats-main",
                    ),
                    html.Aside(id="stats-insights", className="insights card"),
                ],
            ),
        ]
    )


def _options(values: Any, labels: dict[str, str], *extra: str) -> list[dict[str, str]]:
    return [{"label": labels.get(v, v), "value": v} for v in (*values, *extra)]


def charts(figures: dict[str, Figure]) -> list[Any]:
    """One dcc.Graph per chart, in CHARTS' order, each keeping its zoom while the view stays the same."""
    return [
        dcc.Graph(id=graph_id, figure=figures[graph_id], config={"displaylogo": False}, className="chart")
        for graph_id in CHARTS
    ]


def no_events(since: str, until: str) -> html.Div:
    """The empty range: say which range it was and what to do about it."""
    return html.Div(
        empty(
            [
                f"No events in this range ({short_time(since)} – {short_time(until)} UTC). ",
                "Choose a longer range, or send telemetry to POST /api/v1/events (",
                html.Code("ftel demo"),
                " sends the seed scenario). New events show here once the batch app has rolled them up "
                "(every FT_BATCH_INTERVAL_SECONDS, a minute by default).",
            ]
        ),
        id="stats-empty",
    )


# -- the range's totals -------------------------------------------------------------------------


def summary_chips(summary: dict[str, Any]) -> list[html.Span]:
    files = summary.get("files") or {}
    lag = summary.get("lag_ms") or {}
    active = summary.get("active") or {}
    volume = summary.get("bytes") or {}
    chips = [
        _chip("received", files.get("received")),
        _chip("stored", files.get("stored")),
        _chip("dropped", files.get("dropped"), bad=bool(files.get("dropped"))),
        _chip("unconverted", files.get("unconverted"), bad=bool(files.get("unconverted"))),
        _chip("expired", files.get("expired")),
        _chip("deleted", files.get("deleted")),
        _chip("data", summary.get("data_produced")),
        _chip("outputs", summary.get("outputs")),
        _chip("duplicates", summary.get("duplicates")),
        _chip("traces", active.get("traces")),
        _chip("users", active.get("users")),
        _chip("uploaded", human_bytes(volume.get("uploaded"))),
        _chip("lag p50", seconds_text(lag.get("p50"))),
        _chip("lag p95", seconds_text(lag.get("p95"))),
    ]
    return [c for c in chips if c is not None]


def _chip(label: str, value: Any, *, bad: bool = False) -> html.Span | None:
    if value is None:
        return None
    return html.Span(f"{label} {value}", className="chip" + (" bad" if bad else ""))


def seconds_text(ms: float | None) -> str | None:
    if ms is None:
        return None
    seconds = float(ms) / 1000
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def human_bytes(n: int | float | None) -> str | None:
    if n is None:
        return None
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return None  # unreachable: the loop returns at TiB


# -- insights -----------------------------------------------------------------------------------


def insights_panel(insights: dict[str, Any], href: Href) -> list[Any]:
    """The batch app's findings, each a short list whose keys open the trace, the node or the list."""
    return [
        html.H3("Insights"),
        _section("Stuck files", "insight-stuck", stuck_files(insights.get("stuck_files") or [], href)),
        _section(
            "Drop-rate anomalies",
            "insight-anomalies",
            anomalies(insights.get("drop_rate_anomalies") or [], href),
        ),
        _section("Top drop reasons", "insight-reasons", top_reasons(insights.get("top_drop_reasons") or [], href)),
        _section("Slowest traces", "insight-slowest", slowest(insights.get("slowest_traces") or [], href)),
        _section("Retention forecast", "insight-retention", retention(insights.get("retention_forecast") or {})),
    ]


def _section(title: str, section_id: str, body: Any) -> html.Section:
    return html.Section([html.H4(title), body], id=section_id, className="insight")


def _table(head: list[str], rows: list[list[Any]], numeric: set[int]) -> html.Table:
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h, className="num" if i in numeric else None) for i, h in enumerate(head)])),
            html.Tbody(
                [
                    html.Tr([html.Td(c, className="num" if i in numeric else None) for i, c in enumerate(row)])
                    for row in rows[:INSIGHT_ROWS]
                ]
            ),
        ],
        className="grid compact",
    )


def _none(text: str) -> html.P:
    return html.P(text, className="muted none")


def stuck_files(items: list[dict[str, Any]], href: Href) -> Any:
    if not items:
        return _none("None: every file received has moved on.")
    rows = [
        [
            dcc.Link(i["key"], href=key_href(href, i["key"], "node"), className="key-link"),
            dcc.Link(i["trace"], href=trace_href(href, i["trace"], node=i["key"]), className="trace-link")
            if i.get("trace")
            else "",
            _minutes(i.get("minutes")),
        ]
        for i in items
    ]
    return _table(["File", "Trace", "Stuck for"], rows, {2})


def anomalies(items: list[dict[str, Any]], href: Href) -> Any:
    if not items:
        return _none("None: drop rates are in line with the last 24 hours.")
    rows = [
        [
            i.get("by") or "",
            _key_of_anomaly(i, href),
            f"{_percent(i.get('rate'))} (usually {_percent(i.get('baseline'))})",
            short_time(i.get("window_start")),
        ]
        for i in items
    ]
    return _table(["By", "Key", "Drop rate", "Window"], rows, set())


def _key_of_anomaly(item: dict[str, Any], href: Href) -> Any:
    key = str(item.get("key") or "")
    if item.get("by") == "user" and key:
        link = href("/" + TracesView(user=key, has_drops="true", range="24h").search())
        return dcc.Link(key, href=link, className="key-link", title="this user's traces with drops, last 24 h")
    if item.get("by") == "reason" and key:
        return _reason_link(key, href)
    return key


def top_reasons(items: list[dict[str, Any]], href: Href) -> Any:
    if not items:
        return _none("No drops.")
    rows = [[_reason_link(str(i.get("reason") or ""), href), str(i.get("count", 0))] for i in items]
    return _table(["Reason", "Files"], rows, {1})


def _reason_link(reason: str, href: Href) -> Any:
    """A reason opens the Cypher console on the files dropped for it (keys there link on); a reason the
    query could not hold as a plain string literal stays text."""
    if not reason or "'" in reason or "\\" in reason:
        return reason
    cypher = (
        f"MATCH (n:File) WHERE n.reason = '{reason}' "
        "RETURN n.key AS key, n.trace AS trace, n.code AS code, n.last_at AS at ORDER BY at DESC LIMIT 100"
    )
    return dcc.Link(reason, href=href("/query" + query_page_search(cypher)), className="key-link")


def slowest(items: list[dict[str, Any]], href: Href) -> Any:
    if not items:
        return _none("No trace in the summaries yet.")
    rows = [
        [
            dcc.Link(i["key"], href=trace_href(href, i["key"]), className="trace-link"),
            seconds_text(float(i.get("seconds") or 0) * 1000) or "",
            status_badge(i.get("status")),
        ]
        for i in items
    ]
    return _table(["Trace", "Duration", "Status"], rows, {1})


def retention(forecast: dict[str, Any]) -> Any:
    if not forecast:
        return _none("No forecast yet.")
    used, limit = forecast.get("bytes"), forecast.get("limit_bytes")
    per_day, days = forecast.get("bytes_per_day"), forecast.get("days_left")
    lines = [f"Stored: {human_bytes(used) or '—'}" + (f" of {human_bytes(limit)}" if limit else "")]
    lines.append(f"Growth: {human_bytes(per_day) or '—'} a day")
    if limit is None:
        lines.append("No size limit is set (FT_RETENTION_MAX_BYTES): nothing will be expired for size.")
    elif days is None:
        lines.append("Not growing: the limit will not be reached at this rate.")
    else:
        lines.append(f"The limit is reached in about {float(days):.1f} days at this rate.")
    return html.Div([html.Div(line) for line in lines], className="retention")


def _minutes(value: Any) -> str:
    if value is None:
        return ""
    minutes = float(value)
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f} %"
