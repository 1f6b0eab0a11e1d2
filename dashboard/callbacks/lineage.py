"""The lineage explorer: Explore draws a node's lineage to a depth; clicking a node goes one step
further from it (merged into the picture) and shows its details; "+N more" draws a fan-out in full.

Everything that makes the picture is in the URL (?key=&direction=&depth=&open=&groups=, written by
callbacks/viewport.py through URL_WRITE): a link reopens the same view, the nodes expanded one step redone
in order."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import graph_views, layout, views
from dashboard.callbacks.common import SESSION_OUT, fired_by_person, next_run, signed_out, token_of
from dashboard.client import ApiClient, ApiError
from dashboard.elements import lineage_elements, merge_lineage
from dashboard.links import Href
from dashboard.placement import with_layout

DIRECTIONS = ("upstream", "downstream", "both")
LINE = "\n"
EXPANDABLE = ("file", "data", "sink", "external", "drop")


def open_lineage_page(query: dict[str, str]) -> html.Div:
    """The lineage explorer as its URL asks; the form and the expansions are replayed by `explore`."""
    depth = query.get("depth", "5")
    direction = query.get("direction", "upstream")
    return layout.lineage_page(
        query.get("key", ""),
        direction if direction in DIRECTIONS else "upstream",
        int(depth) if depth.isdigit() else 5,
        opened=[k for k in (query.get("open") or "").split(LINE) if k],
        groups=[g for g in (query.get("groups") or "").split(LINE) if g],
    )


def register_lineage(app: dash.Dash, client: ApiClient) -> None:
    href = app.get_relative_path

    @app.callback(
        Output("lineage-graph", "elements"),
        Output("lineage-graph", "layout"),
        Output("lineage-data", "data"),
        Output("lineage-message", "children"),
        Output("lineage-panel", "children"),
        Output("lineage-traces", "children"),
        SESSION_OUT,
        Input("lineage-run", "n_clicks"),
        Input("lineage-key", "n_submit"),
        Input("lineage-graph", "tapNodeData"),
        State("lineage-key", "value"),
        State("lineage-direction", "value"),
        State("lineage-depth", "value"),
        State("lineage-data", "data"),
        State("lineage-restore", "data"),
        State("session", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def explore(
        _run: int,
        _submit: int,
        tapped: dict[str, Any] | None,
        key: str | None,
        direction: str | None,
        depth: int | None,
        data: dict[str, Any] | None,
        restore: dict[str, Any] | None,
        session: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        search = Search(client, href, session)
        if ctx.triggered_id == "lineage-graph":
            if not tapped or not data or not fired_by_person():
                raise PreventUpdate
            return search.tapped(tapped, data)
        # the page just opened (from its URL): redo its expansions; a person's Explore starts afresh
        again = None if fired_by_person() else restore
        return search.start((key or "").strip(), direction or "upstream", int(depth or 5), again)


class Search:
    """One answer of the explorer: the picture, its state (kept in lineage-data and the URL), the message."""

    def __init__(self, client: ApiClient, href: Href, session: dict[str, Any] | None) -> None:
        self.client, self.href, self.session = client, href, session

    def start(self, key: str, direction: str, depth: int, restore: dict[str, Any] | None) -> tuple[Any, ...]:
        """A fresh picture: `key`'s lineage in `direction` to `depth`, then the URL's expansions."""
        if not key:
            hint = views.empty("Enter a node key (a file, data or sink key) and choose a direction.")
            return [], no_update, None, hint, graph_views.panel_hint(), None, no_update
        token = token_of(self.session)
        try:
            answer = self.client.lineage(token, key, direction, depth)
            graph = merge_lineage(None, answer)
            opened: list[str] = []
            for more_key in (restore or {}).get("opened") or []:
                graph = merge_lineage(graph, self.client.lineage(token, more_key, direction, 1))
                opened.append(more_key)
        except ApiError as exc:
            return [], no_update, None, views.error(exc), graph_views.panel_hint(), None, signed_out(self.session, exc)
        state = {
            "key": key,
            "direction": direction,
            "depth": depth,
            "graph": graph,
            "opened": opened,
            "expanded": list((restore or {}).get("expanded") or []),
            "new_search": restore is None,  # a person's: a new history entry (callbacks/viewport.py)
        }
        message = start_message(graph, answer) if not opened else expand_message(graph, opened[-1], None)
        elements, drawn, state, traces = self.draw(state)
        return elements, drawn, state, message, graph_views.panel_hint(), traces, no_update

    def tapped(self, tapped: dict[str, Any], data: dict[str, Any]) -> tuple[Any, ...]:
        """After a click: a trace's box shows its link, "+N more" draws the fan-out in full, a node goes one
        step further from it and shows its details."""
        kind = tapped.get("kind")
        if kind == "group":
            return (no_update,) * 4 + (graph_views.group_panel(tapped, self.href),) + (no_update,) * 2
        if kind == "more":
            elements, drawn, state, traces = self.draw(
                {**data, "expanded": [*data.get("expanded", []), tapped["group_of"]]}
            )
            return elements, drawn, state, no_update, no_update, traces, no_update
        if kind not in EXPANDABLE:
            raise PreventUpdate
        token = token_of(self.session)
        key = str(tapped["key"])
        try:
            more = self.client.lineage(token, key, data["direction"], 1)
            panel = graph_views.node_panel(self.client.node(token, key), self.href)
        except ApiError as exc:
            return (no_update,) * 3 + (views.error(exc), no_update, no_update, signed_out(self.session, exc))
        before = {str(n["key"]) for n in data["graph"].get("nodes", [])}
        graph = merge_lineage(data["graph"], more)
        opened = data.get("opened", []) + ([key] if key not in data.get("opened", []) else [])
        added = len({str(n["key"]) for n in graph["nodes"]} - before)
        elements, drawn, state, traces = self.draw({**data, "graph": graph, "opened": opened})
        return elements, drawn, state, expand_message(graph, key, more, added), panel, traces, no_update

    def draw(self, state: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any], Any]:
        """Elements, layout, the state to keep, and the list of traces the picture crosses."""
        view = lineage_elements(state["graph"], expanded=state.get("expanded") or [])
        elements, drawn = with_layout(view.elements, next_run(), focus=view.focus)
        return elements, drawn, state, graph_views.lineage_traces(view, self.href).children


def start_message(graph: dict[str, Any], answer: dict[str, Any]) -> Any:
    n, flows = len(graph.get("nodes") or []), len(graph.get("edges") or [])
    direction = answer.get("direction", "")
    if n <= 1:
        way = {"upstream": "nothing flows into it", "downstream": "nothing flows out of it"}.get(
            direction, "nothing flows into or out of it"
        )
        return views.empty(f"{graph.get('root')} has no {direction} lineage: {way}.")
    text = f"{n} nodes, {flows} flows."
    if answer.get("truncated"):
        text += " More lies beyond this depth: click a node at the edge to go further."
    return html.Div(text, className="muted", id="lineage-info")


def expand_message(graph: dict[str, Any], key: str, more: dict[str, Any] | None, added: int = 0) -> Any:
    """After a node went one step further: what it added, and "more beyond" only when it added something
    that itself leads further (an expansion of a node whose neighbours are all drawn adds nothing)."""
    text = f"{len(graph.get('nodes') or [])} nodes, {len(graph.get('edges') or [])} flows."
    if more is not None:
        if added:
            text += f" {key}: {added} more node{'s' if added != 1 else ''} drawn."
            if more.get("truncated"):
                text += " More lies beyond: click a node at the edge to go further."
        else:
            text += f" {key}'s neighbours were all drawn already."
    return html.Div(text, className="muted", id="lineage-info")
