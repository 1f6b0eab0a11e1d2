"""The traces list: filters, a time range and cursor pages (Previous keeps the stack of cursors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dash
from dash import Input, Output, State, ctx, no_update

from dashboard import views
from dashboard.callbacks.common import SESSION_OUT, parse_time, signed_out, token_of
from dashboard.client import ApiClient, ApiError

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def register_traces_list(app: dash.Dash, client: ApiClient) -> None:
    href = app.get_relative_path

    @app.callback(
        Output("traces-table", "children"),
        Output("traces-pages", "data"),
        Output("traces-pageinfo", "children"),
        Output("traces-prev", "disabled"),
        Output("traces-next", "disabled"),
        SESSION_OUT,
        Input("traces-search", "n_clicks"),
        Input("traces-q", "n_submit"),
        Input("traces-user", "n_submit"),
        Input("traces-since", "n_submit"),
        Input("traces-until", "n_submit"),
        Input("traces-status", "value"),
        Input("traces-range", "value"),
        Input("traces-limit", "value"),
        Input("traces-next", "n_clicks"),
        Input("traces-prev", "n_clicks"),
        State("traces-q", "value"),
        State("traces-user", "value"),
        State("traces-since", "value"),
        State("traces-until", "value"),
        State("traces-pages", "data"),
        State("session", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def list_traces(*args: Any) -> tuple[Any, ...]:
        status, time_range, limit = args[5], args[6], int(args[7] or 25)
        q, user, since_text, until_text, pages, session = args[10:]
        cursors = page_cursors(ctx.triggered_id, pages)
        try:
            since, until = time_window(time_range, since_text, until_text)
        except ValueError as exc:
            return views.error(str(exc)), no_update, "", True, True, no_update
        try:
            answer = client.traces(
                token_of(session),
                q=(q or "").strip() or None,
                user=(user or "").strip() or None,
                status=status or None,
                since=since,
                until=until,
                limit=limit,
                cursor=cursors[-1],
            )
        except ApiError as exc:
            return views.error(exc), no_update, "", True, True, signed_out(session, exc)
        items = answer.get("items") or []
        filtered = bool(q or user or status or since or until)
        first = (len(cursors) - 1) * limit
        info = f"traces {first + 1}–{first + len(items)}" if items else ""
        return (
            views.traces_table(items, href, filtered),
            {"cursors": cursors, "next": answer.get("next_cursor")},
            info,
            len(cursors) <= 1,
            not answer.get("next_cursor"),
            no_update,
        )


def page_cursors(trigger: Any, pages: dict[str, Any] | None) -> list[str | None]:
    """The stack of cursors after a click: one more on Next, one fewer on Previous, else the first page."""
    cursors: list[str | None] = list((pages or {}).get("cursors") or [None])
    following = (pages or {}).get("next")
    if trigger == "traces-next" and following:
        cursors.append(following)
    elif trigger == "traces-prev" and len(cursors) > 1:
        cursors.pop()
    else:
        cursors = [None]
    return cursors


def time_window(
    time_range: str | None, since_text: str | None, until_text: str | None
) -> tuple[str | None, str | None]:
    """(since, until): a named range ends now; otherwise the typed times (ValueError if one is not a time)."""
    span = RANGES.get(time_range or "")
    if span is not None:
        return (datetime.now(UTC) - span).isoformat().replace("+00:00", "Z"), None
    return parse_time(since_text, "Since"), parse_time(until_text, "Until")
