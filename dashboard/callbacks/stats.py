"""The Stats page: window, range and split → the rollups (GET /stats, whole service and split), the range's
totals (GET /stats/summary) and the insights (GET /insights) → charts, chips and the insights panel. Its
view lives in the URL (stats_view.StatsView), so a copied link opens the same charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, no_update

from dashboard import views
from dashboard.callbacks.common import SESSION_OUT, URL_WRITE, parse_time, signed_out, token_of, url_write
from dashboard.client import ApiClient, ApiError
from dashboard.links import Href
from dashboard.stats_charts import figures
from dashboard.stats_page import WINDOW_LABELS, charts, insights_panel, no_events, summary_chips
from dashboard.stats_view import RANGES, WINDOWS, StatsView, ceil, floor, instant, rfc3339
from dashboard.views import short_time


def span(view: StatsView, now: datetime | None = None) -> tuple[str, str]:
    """[since, until) to ask for, on window edges: a named range ends with the window that holds `now`; a
    custom one takes the typed times (ValueError names the one that is not a time) widened to whole
    windows, and an open end means now."""
    step = WINDOWS[view.window]
    now = now or datetime.now(UTC)
    if view.range == "custom":
        since_text, until_text = parse_time(view.since, "Since"), parse_time(view.until, "Until")
        if not since_text:
            raise ValueError("Since: a custom range needs a start, e.g. 2026-01-01T09:00Z")
        start, end = instant(since_text), instant(until_text) if until_text else now
        if end <= start:
            raise ValueError(f"Until ({until_text}) must come after Since ({since_text})")
    else:
        start, end = now - RANGES[view.range], now
    return rfc3339(floor(start, step)), rfc3339(ceil(end, step))


@dataclass
class StatsShown:
    """What the page shows for one view: each part is filled, or says why not."""

    charts: Any = None
    summary: list[Any] = field(default_factory=list)
    insights: Any = None
    message: Any = None
    range_info: str = ""
    failure: ApiError | None = None  # the first failed call (a 401 signs the browser out)


def load(client: ApiClient, token: str | None, view: StatsView, href: Href, now: datetime | None = None) -> StatsShown:
    """Everything the Stats page shows for `view`, fetched through the API. The charts and the insights
    fail apart: insights that cannot be read leave the charts up, and the other way round."""
    shown = StatsShown()
    try:
        since, until = span(view, now)
    except ValueError as exc:
        shown.message = views.error(str(exc))
        return shown
    shown.range_info = f"{short_time(since)} – {short_time(until)} UTC, by {WINDOW_LABELS[view.window]}"
    try:
        totals = client.stats(token, view.window, since=since, until=until)
        split = client.stats(token, view.window, since=since, until=until, by=view.by) if view.by else None
        summary = client.stats_summary(token, since=since, until=until)
    except ApiError as exc:
        shown.message, shown.failure = views.error(exc), exc
    else:
        if totals.get("buckets"):
            shown.charts = charts(figures(totals, split, view.by, since, until, view.window))
            shown.summary = summary_chips(summary)
        else:
            shown.charts = no_events(since, until)
    try:
        shown.insights = insights_panel(client.insights(token), href)
    except ApiError as exc:
        shown.insights = [views.error(f"Insights: {exc.message}")]
        shown.failure = shown.failure or exc
    return shown


def register_stats(app: dash.Dash, client: ApiClient) -> None:
    href = app.get_relative_path

    @app.callback(
        Output("stats-charts", "children"),
        Output("stats-summary", "children"),
        Output("stats-insights", "children"),
        Output("stats-message", "children"),
        Output("stats-range-info", "children"),
        SESSION_OUT,
        *URL_WRITE,
        Input("stats-window", "value"),
        Input("stats-range", "value"),
        Input("stats-by", "value"),
        Input("stats-since", "n_submit"),
        Input("stats-until", "n_submit"),
        Input("stats-refresh", "n_clicks"),
        State("stats-since", "value"),
        State("stats-until", "value"),
        State("session", "data"),
        State("url", "pathname"),
        State("url", "search"),
        prevent_initial_call="initial_duplicate",
    )
    def show_stats(*args: Any) -> tuple[Any, ...]:
        window, time_range, by = args[:3]
        since_text, until_text, session, pathname, search = args[6:]
        view = StatsView.from_dict(
            {"window": window, "range": time_range, "since": since_text, "until": until_text, "by": by}
        )
        shown = load(client, token_of(session), view, href)
        return (
            shown.charts,
            shown.summary,
            shown.insights,
            shown.message,
            shown.range_info,
            signed_out(session, shown.failure) if shown.failure else no_update,
            *url_write(search, pathname, view.search()),
        )

    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(range) { const off = range !== 'custom'; return [off, off]; }",
        Output("stats-since", "disabled"),
        Output("stats-until", "disabled"),
        Input("stats-range", "value"),
    )
