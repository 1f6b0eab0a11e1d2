"""The traces list: filters, a time range, cursor pages (Previous keeps the stack of cursors), sorting
within the page and CSV export. Its whole view lives in the URL (viewstate.TracesView), so a copied
link opens the same list."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import views
from dashboard.callbacks.common import (
    SESSION_OUT,
    URL_WRITE,
    download,
    fired_by_person,
    parse_time,
    signed_out,
    token_of,
    url_write,
)
from dashboard.client import ApiClient, ApiError
from dashboard.tables import sorted_items, traces_csv, traces_table
from dashboard.viewstate import DEFAULT_PAGE_SIZE, TracesView

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
FILTER_TRIGGERS = {
    "traces-search",
    "traces-q",
    "traces-user",
    "traces-since",
    "traces-until",
    "traces-status",
    "traces-drops",
    "traces-range",
    "traces-limit",
}
EXPORT_PAGE, EXPORT_MAX = 500, 10_000


def register_traces_list(app: dash.Dash, client: ApiClient) -> None:
    href = app.get_relative_path

    @app.callback(
        Output("traces-table", "children"),
        Output("traces-state", "data"),
        Output("traces-total", "children"),
        Output("traces-pageinfo", "children"),
        Output("traces-prev", "disabled"),
        Output("traces-next", "disabled"),
        SESSION_OUT,
        *URL_WRITE,
        Input("traces-search", "n_clicks"),
        Input("traces-q", "n_submit"),
        Input("traces-user", "n_submit"),
        Input("traces-since", "n_submit"),
        Input("traces-until", "n_submit"),
        Input("traces-status", "value"),
        Input("traces-drops", "value"),
        Input("traces-range", "value"),
        Input("traces-limit", "value"),
        Input("traces-next", "n_clicks"),
        Input("traces-prev", "n_clicks"),
        Input("traces-sort-click", "data"),
        State("traces-q", "value"),
        State("traces-user", "value"),
        State("traces-since", "value"),
        State("traces-until", "value"),
        State("traces-state", "data"),
        State("session", "data"),
        State("url", "pathname"),
        State("url", "search"),
        prevent_initial_call="initial_duplicate",
    )
    def list_traces(*args: Any) -> tuple[Any, ...]:
        status, drops, time_range, limit, _next, _prev, sort_click = args[5:12]
        q, user, since_text, until_text, state, session, pathname, search = args[12:]
        state = state or {}
        typed = {
            "q": (q or "").strip(),
            "user": (user or "").strip(),
            "status": status or "",
            "has_drops": drops or "",
            "range": time_range or "",
            "since": (since_text or "").strip(),
            "until": (until_text or "").strip(),
            "limit": int(limit or DEFAULT_PAGE_SIZE),
        }
        view, stack = next_view(ctx.triggered_id, TracesView.from_dict(state.get("view")), typed, state, sort_click)
        try:
            since, until = time_window(view.range, view.since, view.until)
        except ValueError as exc:
            return views.error(str(exc)), no_update, "", "", True, True, no_update, no_update, no_update
        try:
            answer = client.traces(token_of(session), **api_filters(view, since, until), cursor=view.cursor or None)
        except ApiError as exc:
            failed = views.error(exc)
            return failed, no_update, "", "", True, True, signed_out(session, exc), no_update, no_update
        items = answer.get("items") or []
        first = (view.page - 1) * view.limit
        info = f"traces {first + 1}–{first + len(items)}" if items else ""
        total = answer.get("total")
        return (
            traces_table(items, view, href),
            {"view": view.as_dict(), "stack": stack, "next": answer.get("next_cursor")},
            f"{total} trace{'' if total == 1 else 's'}" if isinstance(total, int) else "",
            info,
            view.page <= 1,
            not answer.get("next_cursor"),
            no_update,
            *url_write(search, pathname, view.search()),
        )

    @app.callback(
        Output("traces-sort-click", "data"),
        Input({"type": "traces-sort", "col": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def sort_clicked(_clicks: list[int]) -> dict[str, Any]:
        # the header buttons are drawn again with every page: only a real click counts
        if not fired_by_person() or not isinstance(ctx.triggered_id, dict):
            raise PreventUpdate
        return {"col": ctx.triggered_id["col"], "at": time.time()}

    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(range) { const off = range !== 'custom'; return [off, off]; }",
        Output("traces-since", "disabled"),
        Output("traces-until", "disabled"),
        Input("traces-range", "value"),
    )

    @app.callback(
        Output("traces-download", "data"),
        SESSION_OUT,
        Input("traces-export", "n_clicks"),
        State("traces-state", "data"),
        State("session", "data"),
        prevent_initial_call=True,
    )
    def export_traces(_n: int, state: dict[str, Any] | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
        if not fired_by_person():
            raise PreventUpdate
        view = TracesView.from_dict((state or {}).get("view"))
        try:
            since, until = time_window(view.range, view.since, view.until)
            items = all_traces(client, token_of(session), view, since, until)
        except (ValueError, ApiError) as exc:
            if isinstance(exc, ApiError):
                return no_update, signed_out(session, exc)
            raise PreventUpdate from None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return download(traces_csv(sorted_items(items, view)), f"traces-{stamp}.csv", "text/csv"), no_update


def next_view(
    trigger: Any,
    current: TracesView,
    typed: dict[str, Any],
    state: dict[str, Any],
    sort_click: dict[str, Any] | None,
) -> tuple[TracesView, list[str]]:
    """The view after a click, and the cursors of the pages before it (for Previous)."""
    stack = list(state.get("stack") or [])
    if trigger in FILTER_TRIGGERS:
        return replace(current, **typed).first_page(), []
    if trigger == "traces-next" and state.get("next"):
        return replace(current, cursor=state["next"], page=current.page + 1), [*stack, current.cursor]
    if trigger == "traces-prev" and current.page > 1:
        if stack:
            previous = stack.pop()
            return replace(current, cursor=previous, page=max(current.page - 1, 1) if previous else 1), stack
        return current.first_page(), []  # opened from a link on a later page: the way back is the first page
    if trigger == "traces-sort-click" and sort_click:
        return current.sorted_by(str(sort_click.get("col"))), stack
    return current, stack  # the page just appeared: the view it was built with (from the URL)


def api_filters(view: TracesView, since: str | None, until: str | None) -> dict[str, Any]:
    return {
        "q": view.q or None,
        "user": view.user or None,
        "status": view.status or None,
        "has_drops": {"true": True, "false": False}.get(view.has_drops),
        "since": since,
        "until": until,
        "limit": view.limit,
    }


def all_traces(
    client: ApiClient, token: str | None, view: TracesView, since: str | None, until: str | None
) -> list[dict[str, Any]]:
    """Every trace matching the view's filters, page after page, up to EXPORT_MAX."""
    filters = {**api_filters(view, since, until), "limit": EXPORT_PAGE}
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(items) < EXPORT_MAX:
        answer = client.traces(token, **filters, cursor=cursor)
        items += answer.get("items") or []
        cursor = answer.get("next_cursor")
        if not cursor:
            break
    return items[:EXPORT_MAX]


def time_window(
    time_range: str | None, since_text: str | None, until_text: str | None
) -> tuple[str | None, str | None]:
    """(since, until): a named range ends now; a custom one uses the typed times (ValueError if one is not
    a time); any other range ignores them (the form disables them)."""
    span = RANGES.get(time_range or "")
    if span is not None:
        return (datetime.now(UTC) - span).isoformat().replace("+00:00", "Z"), None
    if time_range != "custom":
        return None, None
    return parse_time(since_text, "Since"), parse_time(until_text, "Until")
