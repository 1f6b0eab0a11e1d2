"""One trace's flow: regrouping fan-outs (a "+N more" node, Expand all, Collapse) and the panel that
shows the node a person clicked."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import views
from dashboard.callbacks.common import SESSION_OUT, fired_by_person, next_run, signed_out, token_of
from dashboard.client import ApiClient, ApiError
from dashboard.elements import EXPAND_ALL, trace_elements
from dashboard.placement import with_layout
from dashboard.views import Href


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
        return *with_layout(view.elements, next_run()), now, views.view_info(view), views.node_list(view), no_update


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
    try:
        if kind == "trace":
            return views.trace_panel(client.trace(token_of(session), tapped["key"])), no_update
        return views.node_panel(client.node(token_of(session), tapped["key"]), href), no_update
    except ApiError as exc:
        return views.error(exc), signed_out(session, exc)
