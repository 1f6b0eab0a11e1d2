"""The lineage explorer: Explore draws a node's lineage to a depth; clicking a node goes one step
further from it (merged into the picture) and shows its details; "+N more" draws a fan-out in full."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import views
from dashboard.callbacks.common import SESSION_OUT, fired_by_person, next_run, signed_out, token_of
from dashboard.client import ApiClient, ApiError
from dashboard.elements import lineage_elements, merge_lineage
from dashboard.placement import with_layout
from dashboard.views import Href


def register_lineage(app: dash.Dash, client: ApiClient) -> None:
    href = app.get_relative_path

    @app.callback(
        Output("lineage-graph", "elements"),
        Output("lineage-graph", "layout"),
        Output("lineage-data", "data"),
        Output("lineage-message", "children"),
        Output("lineage-panel", "children"),
        SESSION_OUT,
        Input("lineage-run", "n_clicks"),
        Input("lineage-key", "n_submit"),
        Input("lineage-graph", "tapNodeData"),
        State("lineage-key", "value"),
        State("lineage-direction", "value"),
        State("lineage-depth", "value"),
        State("lineage-data", "data"),
        State("session", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def explore(
        _run: int,
        _submit: int,
        tapped: dict[str, Any] | None,
        key: str | None,
        direction: str,
        depth: int | None,
        data: dict[str, Any] | None,
        session: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        if ctx.triggered_id == "lineage-graph":
            if not tapped or not data or not fired_by_person():
                raise PreventUpdate
            return expand_lineage(client, href, tapped, direction, data, session)
        return start_lineage(client, (key or "").strip(), direction, depth, session)


def start_lineage(
    client: ApiClient, key: str, direction: str, depth: int | None, session: dict[str, Any] | None
) -> tuple[Any, ...]:
    """A fresh picture: `key`'s lineage in `direction` to `depth`."""
    if not key:
        return (
            [],
            no_update,
            None,
            views.empty("Enter a node key (a file, data or sink key) and choose a direction."),
            views.panel_hint(),
            no_update,
        )
    try:
        answer = client.lineage(token_of(session), key, direction or "both", int(depth or 5))
    except ApiError as exc:
        return [], no_update, None, views.error(exc), views.panel_hint(), signed_out(session, exc)
    graph = merge_lineage(None, answer)
    return (
        *with_layout(lineage_elements(graph).elements, next_run()),
        {"graph": graph, "expanded": []},
        lineage_message(graph, answer),
        views.panel_hint(),
        no_update,
    )


def expand_lineage(
    client: ApiClient,
    href: Href,
    tapped: dict[str, Any],
    direction: str,
    data: dict[str, Any],
    session: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """The picture after a click on a node: a fan-out drawn in full, or one more step from the node."""
    expanded = list(data.get("expanded") or [])
    graph = data["graph"]
    if tapped.get("kind") == "more":
        expanded.append(tapped["group_of"])
        view = lineage_elements(graph, expanded=expanded)
        return (
            *with_layout(view.elements, next_run()),
            {"graph": graph, "expanded": expanded},
            no_update,
            no_update,
            no_update,
        )
    if tapped.get("kind") not in ("file", "data", "sink", "external", "drop"):
        raise PreventUpdate
    token = token_of(session)
    try:
        more = client.lineage(token, tapped["key"], direction or "both", 1)
        panel = views.node_panel(client.node(token, tapped["key"]), href)
    except ApiError as exc:
        return no_update, no_update, no_update, views.error(exc), no_update, signed_out(session, exc)
    graph = merge_lineage(graph, more)
    view = lineage_elements(graph, expanded=expanded)
    return (
        *with_layout(view.elements, next_run()),
        {"graph": graph, "expanded": expanded},
        lineage_message(graph, more),
        panel,
        no_update,
    )


def lineage_message(graph: dict[str, Any], last: dict[str, Any]) -> Any:
    n = len(graph.get("nodes") or [])
    if n <= 1:
        return views.empty(
            f"{graph.get('root')} has no {last.get('direction', '')} lineage: nothing flows "
            f"{'into' if last.get('direction') == 'upstream' else 'out of'} it."
        )
    text = f"{n} nodes, {len(graph.get('edges') or [])} flows."
    if last.get("truncated"):
        text += " More lies beyond this depth: click a node at the edge to go further."
    return html.Div(text, className="muted", id="lineage-info")
