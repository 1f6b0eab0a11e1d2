"""One trace's flow: the page as a link opens it (?node=, ?expand=), regrouping fan-outs (a "+N more" node,
Expand all, Collapse), the full node list, and the panel that shows the node a person clicked."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import graph_views, layout, pages, views
from dashboard.callbacks.common import SESSION_OUT, fired_by_person, next_run, signed_out, token_of
from dashboard.client import ApiClient, ApiError, HttpError
from dashboard.elements import EXPAND_ALL, node_id, reveal, trace_elements
from dashboard.links import Href
from dashboard.placement import with_layout

LINE = "\n"  # separates ids in a URL value: keys cannot hold control characters


def expanded_of(query: dict[str, str]) -> list[str]:
    """?expand=all, or the grouped parents' element ids one a line."""
    value = query.get("expand") or ""
    if value == "all":
        return [EXPAND_ALL]
    return [v for v in value.split(LINE) if v]


def open_trace_page(
    client: ApiClient, token: str, key: str, query: dict[str, str], session: dict[str, Any] | None, href: Href
) -> tuple[Any, Any]:
    """The flow of one trace as its URL asks: ?expand= the fan-outs drawn in full, ?node=<key> the node
    selected, centred and shown in the panel (its fan-out expanded if it was grouped away)."""
    expanded = expanded_of(query)
    wanted = query.get("node") or None
    try:
        trace = client.trace(token, key)
        graph = client.trace_graph(token, key)
    except ApiError as exc:
        if isinstance(exc, HttpError) and exc.status == 404:  # name the key, offer the way back
            return pages.missing_key_page(f"Trace {key}", key, views.error(exc), href), no_update
        return html.Div([html.H2(f"Trace {key}"), views.error(exc)]), signed_out(session, exc)
    panel: Any = None
    if wanted:
        try:
            panel = graph_views.node_panel(client.node(token, wanted), href)
        except ApiError as exc:
            panel = views.error(exc)
    if wanted:
        view, expanded = reveal(trace, graph, expanded, wanted)
    else:
        view = trace_elements(trace, graph, expanded=expanded)
    page = layout.trace_page(trace, view, expanded, select=node_id(wanted) if wanted else None, panel=panel)
    if not graph.get("nodes"):
        return html.Div([page, views.empty("This trace has no files or data yet.")]), no_update
    return page, no_update


def register_trace_flow(app: dash.Dash, client: ApiClient) -> None:
    @app.callback(
        Output("trace-graph", "elements"),
        Output("trace-graph", "layout"),
        Output("trace-expanded", "data"),
        Output("trace-view-info", "children"),
        Output("trace-node-list", "children"),
        SESSION_OUT,
        Input("trace-graph", "tapNodeData"),
        Input("trace-expand-all", "n_clicks"),
        Input("trace-collapse-all", "n_clicks"),
        State("trace-expanded", "data"),
        State("trace-key", "data"),
        State("session", "data"),
        prevent_initial_call=True,
    )
    def regroup(
        tapped: dict[str, Any] | None,
        _all: int,
        _none: int,
        expanded: list[str] | None,
        key: str,
        session: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        if not fired_by_person():
            raise PreventUpdate
        now = regrouped(trigger, tapped, expanded)
        try:
            trace = client.trace(token_of(session), key)
            graph = client.trace_graph(token_of(session), key)
        except ApiError as exc:
            return no_update, no_update, no_update, views.error(exc), no_update, signed_out(session, exc)
        view = trace_elements(trace, graph, expanded=now)
        return (
            *with_layout(view.elements, next_run(), focus=view.focus),
            now,
            graph_views.view_info(view),
            graph_views.node_list(view),
            no_update,
        )

    @app.callback(
        Output("trace-node-list", "children", allow_duplicate=True),
        SESSION_OUT,
        Input("trace-list-all", "n_clicks"),
        State("trace-expanded", "data"),
        State("trace-key", "data"),
        State("session", "data"),
        prevent_initial_call=True,
    )
    def list_all(clicks: int, expanded: list[str] | None, key: str, session: dict[str, Any] | None) -> tuple[Any, Any]:
        if not clicks:
            raise PreventUpdate
        try:
            trace = client.trace(token_of(session), key)
            graph = client.trace_graph(token_of(session), key)
        except ApiError as exc:
            return views.error(exc), signed_out(session, exc)
        return graph_views.node_list(trace_elements(trace, graph, expanded=expanded or []), limit=None), no_update


def regrouped(trigger: Any, tapped: dict[str, Any] | None, expanded: list[str] | None) -> list[str]:
    """The fan-outs drawn in full after a click: all, none, or one more; PreventUpdate if that changes nothing."""
    now = list(expanded or [])
    if trigger == "trace-expand-all":
        now = [EXPAND_ALL]
    elif trigger == "trace-collapse-all":
        now = []
    elif tapped and tapped.get("kind") == "more" and tapped.get("group_of") not in now:
        now.append(tapped["group_of"])
    else:
        raise PreventUpdate
    if now == (expanded or []):
        raise PreventUpdate
    return now


def register_node_panel(app: dash.Dash, client: ApiClient) -> None:
    href = app.get_relative_path

    @app.callback(
        Output("node-panel", "children"),
        SESSION_OUT,
        Input("trace-graph", "tapNodeData"),
        State("session", "data"),
        prevent_initial_call=True,
    )
    def show_node(tapped: dict[str, Any] | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
        return node_panel(client, href, tapped, session)


def node_panel(
    client: ApiClient, href: Href, tapped: dict[str, Any] | None, session: dict[str, Any] | None
) -> tuple[Any, Any]:
    """The side panel for a clicked node: the trace, a file/data/sink with its log, or a note on a "+N more"."""
    if not tapped:
        raise PreventUpdate
    kind = tapped.get("kind")
    if kind == "more":
        return html.Div(
            f"{tapped.get('count')} more children of {tapped.get('group_of', '')[2:]} are drawn now.",
            className="muted",
        ), no_update
    if kind == "group":
        return graph_views.group_panel(tapped, href), no_update
    try:
        if kind == "trace":
            return graph_views.trace_panel(client.trace(token_of(session), tapped["key"])), no_update
        return graph_views.node_panel(client.node(token_of(session), tapped["key"]), href), no_update
    except ApiError as exc:
        return views.error(exc), signed_out(session, exc)
