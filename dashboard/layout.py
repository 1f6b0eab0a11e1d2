"""The builders of the pictures' pages (a trace's flow, the lineage explorer) and the form parts every
page uses; the shell and the other pages are in pages.py. Builders take data already fetched; they
never call the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import dash_cytoscape as cyto
from dash import dcc, html

from dashboard import graph_views
from dashboard.elements import FANOUT_LIMIT, STATUSES, View
from dashboard.placement import with_layout
from dashboard.styles import DROP_FILL, STATUS_COLOURS, TRACE_COLOUR, cytoscape_stylesheet

Href = Callable[[str], str]  # app-relative path → URL under the dashboard's prefix


# -- form parts shared by the pages -----------------------------------------------------------


def filters_card(children: list[Any]) -> html.Div:
    return html.Div(className="card", children=html.Div(className="filters", children=children))


def field(label: str, component: Any) -> html.Label:
    return html.Label([label, component])


def text_filter(component_id: str, placeholder: str, width: str, kind: Literal["text", "search"] = "text") -> dcc.Input:
    """A text box that filters on Enter (n_submit)."""
    return dcc.Input(id=component_id, type=kind, placeholder=placeholder, n_submit=0, style={"width": width})


def choice(component_id: str, options: list[Any], value: Any, width: str) -> dcc.Dropdown:
    """A dropdown that always has a value and takes no typing."""
    return dcc.Dropdown(
        id=component_id, options=options, value=value, clearable=False, searchable=False, style={"width": width}
    )


# -- trace flow and lineage ----------------------------------------------------------------------


def legend() -> html.Div:
    items: list[Any] = [html.Span([html.Span(className="swatch", style={"background": TRACE_COLOUR}), "trace"])]
    for status in STATUSES:
        items.append(html.Span([html.Span(className="swatch", style={"background": STATUS_COLOURS[status]}), status]))
    items += [
        html.Span(
            [
                html.Span(
                    className="swatch", style={"background": DROP_FILL, "borderColor": STATUS_COLOURS["dropped"]}
                ),
                "drop (with reason)",
            ]
        ),
        html.Span(
            [
                html.Span(className="swatch", style={"background": STATUS_COLOURS["dropped"], "borderStyle": "dashed"}),
                "dropped by another trace",
            ]
        ),
        html.Span(
            [
                html.Span(className="swatch", style={"background": "#eceff1", "borderStyle": "dashed"}),
                f"+N more (fan-outs over {FANOUT_LIMIT}; click to expand)",
            ]
        ),
        html.Span(
            "shapes: rectangle = file, ellipse = data, barrel = sink, hexagon = trace; "
            "edge label = op (hover an edge, select a node or zoom in)"
        ),
    ]
    return html.Div(className="legend", id="legend", children=items)


def graph_toolbar(prefix: str, image_name: str, extra: list[Any] | None = None) -> html.Div:
    """Fit / Zoom, find-in-graph, PNG and SVG export, and the stores the browser-side callbacks write."""
    return html.Div(
        className="toolbar",
        children=[
            html.Button("Fit", id=f"{prefix}-fit", n_clicks=0, title="fit the whole graph in view"),
            html.Button("Zoom +", id=f"{prefix}-zoom-in", n_clicks=0),
            html.Button("Zoom −", id=f"{prefix}-zoom-out", n_clicks=0),
            html.Span(
                className="find",
                children=[
                    dcc.Input(
                        id=f"{prefix}-find",
                        type="search",
                        placeholder="find a node (key or name)",
                        n_submit=0,
                        debounce=True,
                        style={"width": "220px"},
                    ),
                    html.Button("Find", id=f"{prefix}-find-next", n_clicks=0, title="select matches; again: next one"),
                    html.Span(id=f"{prefix}-find-info", className="muted", role="status"),
                ],
            ),
            *(extra or []),
            html.Button("PNG", id=f"{prefix}-png", n_clicks=0, title="download the whole graph as a PNG image"),
            html.Button("SVG", id=f"{prefix}-svg", n_clicks=0, title="download the whole graph as an SVG image"),
            dcc.Store(id=f"{prefix}-image-name", data=image_name),
            dcc.Store(id=f"{prefix}-viewport"),
            dcc.Store(id=f"{prefix}-resized"),
            dcc.Store(id=f"{prefix}-opened"),
        ],
    )


def image_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:80] or "graph"


def flow_graph(graph_id: str, view: View | None, height: str = "640px", *, select: str | None = None) -> cyto.Cytoscape:
    """A left-to-right flow picture. Callbacks that change its elements send a new layout with them
    (placement.with_layout): the layout runs once per change, not again on every add/remove."""
    placed, layout = with_layout(view.elements if view else [], focus=view.focus if view else [], select=select)
    return cyto.Cytoscape(
        id=graph_id,
        elements=placed,
        layout=layout,
        stylesheet=cytoscape_stylesheet(),
        style={"width": "100%", "height": height},
        minZoom=0.02,
        maxZoom=2.5,
        boxSelectionEnabled=False,
        autoRefreshLayout=False,
    )


def trace_page(
    trace: dict[str, Any], view: View, expanded: list[str], *, select: str | None = None, panel: Any = None
) -> html.Div:
    """The flow of one trace; `select` (an element id) opens it on that node, with `panel` showing it."""
    return html.Div(
        [
            dcc.Store(id="trace-key", data=trace["key"]),
            dcc.Store(id="trace-expanded", data=expanded),
            graph_views.trace_header(trace, view),
            graph_toolbar(
                "trace",
                f"trace-{image_name(str(trace['key']))}",
                [
                    html.Button(
                        "Expand all", id="trace-expand-all", n_clicks=0, title="draw every node, even in large fan-outs"
                    ),
                    html.Button(
                        "Collapse",
                        id="trace-collapse-all",
                        n_clicks=0,
                        title=f"group fan-outs over {FANOUT_LIMIT} children again",
                    ),
                    dcc.Checklist(
                        id="trace-drops-only",
                        options=[{"label": " drops only", "value": "on"}],
                        value=[],
                        inline=True,
                    ),
                    html.Span(id="trace-drops-info", className="muted"),
                ],
            ),
            html.Div(id="trace-view-info", className="muted", children=graph_views.view_info(view)),
            legend(),
            html.Div(
                className="flow",
                children=[
                    html.Div(className="graph", children=flow_graph("trace-graph", view, select=select)),
                    html.Div(className="side card", id="node-panel", children=panel or graph_views.panel_hint()),
                ],
            ),
            html.Details(
                [
                    html.Summary("Nodes in this view, as a list (click a row to show it in the graph)"),
                    html.Div(id="trace-node-list", children=graph_views.node_list(view)),
                ],
                id="trace-node-details",
            ),
        ]
    )


LINEAGE_DIRECTIONS = [
    {"label": "upstream (where it came from)", "value": "upstream"},
    {"label": "downstream (what it became)", "value": "downstream"},
    {"label": "both", "value": "both"},
]


def lineage_page(
    key: str, direction: str, depth: int, opened: list[str] | None = None, groups: list[str] | None = None
) -> html.Div:
    """The lineage explorer, filled from the URL: the search, the nodes expanded one step (`opened`) and
    the "+N more" groups drawn in full (`groups`) are redrawn as they were."""
    return html.Div(
        [
            html.H2("Lineage explorer"),
            filters_card(lineage_filters(key, direction, depth)),
            dcc.Store(id="lineage-data"),
            dcc.Store(id="lineage-restore", data={"opened": opened or [], "expanded": groups or []}),
            html.Div(id="lineage-message"),
            html.Div(id="lineage-traces", className="trace-groups"),
            graph_toolbar(
                "lineage",
                f"lineage-{image_name(key)}",
                [html.Span("Click a node to expand it one more step and see its details.", className="muted")],
            ),
            legend(),
            html.Div(
                className="flow",
                children=[
                    html.Div(className="graph", children=flow_graph("lineage-graph", None, height="560px")),
                    html.Div(className="side card", id="lineage-panel", children=graph_views.panel_hint()),
                ],
            ),
        ]
    )


def lineage_filters(key: str, direction: str, depth: int) -> list[Any]:
    key_input = dcc.Input(
        id="lineage-key", type="text", value=key, placeholder="e.g. File4", n_submit=0, style={"width": "320px"}
    )
    depth_input = dcc.Input(
        id="lineage-depth", type="number", min=1, max=50, step=1, value=depth, style={"width": "80px"}
    )
    return [
        field("Node key", key_input),
        field("Direction", choice("lineage-direction", LINEAGE_DIRECTIONS, direction, "250px")),
        field("Depth", depth_input),
        html.Button("Explore", id="lineage-run", n_clicks=0, className="primary"),
    ]
