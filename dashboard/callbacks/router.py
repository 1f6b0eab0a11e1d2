"""The router: the URL (and the session) → the page to show. Pages that need data fetch it here."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import dash
from dash import Input, Output, html, no_update

from dashboard import layout, views
from dashboard.callbacks.common import SESSION_OUT, route, signed_out, token_of
from dashboard.client import ApiClient, ApiError
from dashboard.elements import EXPAND_ALL, trace_elements


def register_router(app: dash.Dash, client: ApiClient) -> None:
    prefix = app.config.requests_pathname_prefix
    href = app.get_relative_path

    @app.callback(
        Output("page", "children"),
        SESSION_OUT,
        Input("url", "pathname"),
        Input("url", "search"),
        Input("session", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def render_page(pathname: str | None, search: str | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
        token = token_of(session)
        if not token:
            return layout.signed_out_page(), no_update
        page, rest = route(pathname, prefix)
        query = {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}
        if page == "" and not rest:
            return layout.traces_page(), no_update
        if page == "traces" and rest:
            return open_trace_page(client, token, rest, query, session)
        if page == "lineage" and not rest:
            return open_lineage_page(query), no_update
        if page == "query" and not rest:
            return layout.query_page(), no_update
        return layout.not_found_page(pathname or "", href), no_update


def open_trace_page(
    client: ApiClient, token: str, key: str, query: dict[str, str], session: dict[str, Any] | None
) -> tuple[Any, Any]:
    """The flow of one trace; ?expand=all draws every fan-out in full."""
    expanded = [EXPAND_ALL] if query.get("expand") == "all" else []
    try:
        trace = client.trace(token, key)
        graph = client.trace_graph(token, key)
    except ApiError as exc:
        return html.Div([html.H2(f"Trace {key}"), views.error(exc)]), signed_out(session, exc)
    view = trace_elements(trace, graph, expanded=expanded)
    if not graph.get("nodes"):
        return html.Div(
            [layout.trace_page(trace, view, expanded), views.empty("This trace has no files or data yet.")]
        ), no_update
    return layout.trace_page(trace, view, expanded), no_update


def open_lineage_page(query: dict[str, str]) -> html.Div:
    """The lineage explorer, its form filled from ?key=&direction=&depth=."""
    depth = query.get("depth", "5")
    return layout.lineage_page(
        query.get("key", ""), query.get("direction", "upstream"), int(depth) if depth.isdigit() else 5
    )
