"""The page shell (top bar, sign-in, router outlet) and one builder per page. Builders take data
already fetched; they never call the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import dash_cytoscape as cyto
from dash import dcc, html

from dashboard import views
from dashboard.elements import FANOUT_LIMIT, View
from dashboard.placement import with_layout
from dashboard.styles import STATUS_COLOURS, TRACE_COLOUR, cytoscape_stylesheet

Href = Callable[[str], str]  # app-relative path → URL under the dashboard's prefix

DEFAULT_QUERY = "MATCH (n:File) RETURN n.key AS key, n.status AS status, n.reason AS reason ORDER BY key LIMIT 25"


def shell(href: Href) -> html.Div:
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="session", storage_type="session"),
            html.Header(
                className="topbar",
                children=[
                    dcc.Link("file-telemetry", href=href("/"), className="brand"),
                    dcc.Link("Traces", href=href("/"), id="nav-traces"),
                    dcc.Link("Lineage", href=href("/lineage"), id="nav-lineage"),
                    dcc.Link("Cypher", href=href("/query"), id="nav-query"),
                    html.Div(
                        className="account",
                        children=[
                            html.Span(id="account-info"),
                            html.Button("Sign out", id="signout", n_clicks=0, style={"display": "none"}),
                        ],
                    ),
                ],
            ),
            html.Main([signin_card(), html.Div(id="page")]),
        ]
    )


def signin_card() -> html.Div:
    return html.Div(
        id="signin",
        className="card signin",
        style={"display": "none"},
        children=[
            html.H2("Sign in"),
            html.Div(id="signin-notice"),
            html.P("With the client credentials of an account that has the read role:", className="muted"),
            html.Div(
                className="row",
                children=[
                    dcc.Input(
                        id="signin-client-id",
                        placeholder="client id",
                        type="text",
                        autoComplete="username",
                        debounce=False,
                    ),
                    dcc.Input(
                        id="signin-secret",
                        placeholder="client secret",
                        type="password",
                        autoComplete="current-password",
                        n_submit=0,
                    ),
                    html.Button("Sign in", id="signin-submit", n_clicks=0, className="primary"),
                ],
            ),
            html.P("or paste an access token:", className="muted"),
            html.Div(
                className="row",
                children=[
                    dcc.Input(
                        id="signin-token", placeholder="access token (JWT)", type="password", style={"width": "420px"}
                    ),
                    html.Button("Use token", id="signin-use-token", n_clicks=0),
                ],
            ),
            html.Div(id="signin-error"),
        ],
    )


def signed_out_page() -> html.Div:
    return html.Div(
        className="empty",
        children="Sign in to see traces, lineage and queries. "
        "The dashboard reads everything through the REST API with your token.",
    )


def not_found_page(path: str, href: Href) -> html.Div:
    return html.Div(className="empty", children=[f"No page at {path!r}. ", dcc.Link("Back to traces", href=href("/"))])


# -- traces list ------------------------------------------------------------------------------

TIME_RANGES = [
    {"label": "any time", "value": ""},
    {"label": "last hour", "value": "1h"},
    {"label": "last 24 hours", "value": "24h"},
    {"label": "last 7 days", "value": "7d"},
    {"label": "last 30 days", "value": "30d"},
    {"label": "custom (since/until)", "value": "custom"},
]

STATUS_FILTER = [
    {"label": "any", "value": ""},
    {"label": "open", "value": "open"},
    {"label": "ended", "value": "ended"},
]


def traces_page() -> html.Div:
    return html.Div(
        [
            html.H2("Traces"),
            filters_card(traces_filters()),
            dcc.Store(id="traces-pages", data={"cursors": [None], "next": None}),
            dcc.Loading(html.Div(id="traces-table"), type="dot", delay_show=300),
            traces_pager(),
        ]
    )


def traces_filters() -> list[Any]:
    return [
        field("Search (key, user, name)", text_filter("traces-q", "e.g. A or nightly", "240px", kind="search")),
        field("User", text_filter("traces-user", "exact user id", "150px")),
        field("Status", choice("traces-status", STATUS_FILTER, "", "120px")),
        field("Time range", choice("traces-range", TIME_RANGES, "", "190px")),
        field("Since (RFC 3339, UTC)", text_filter("traces-since", "2026-01-01T00:00:00Z", "190px")),
        field("Until", text_filter("traces-until", "2026-01-02T00:00:00Z", "190px")),
        field("Per page", choice("traces-limit", [10, 25, 50, 100], 25, "80px")),
        html.Button("Search", id="traces-search", n_clicks=0, className="primary"),
    ]


def traces_pager() -> html.Div:
    return html.Div(
        className="pager",
        children=[
            html.Button("← Previous", id="traces-prev", n_clicks=0, disabled=True),
            html.Span(id="traces-pageinfo", className="muted"),
            html.Button("Next →", id="traces-next", n_clicks=0, disabled=True),
        ],
    )


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


# -- trace flow -------------------------------------------------------------------------------


def legend() -> html.Div:
    items: list[Any] = [html.Span([html.Span(className="swatch", style={"background": TRACE_COLOUR}), "trace"])]
    for status in ("received", "stored", "converted", "written", "dropped", "expired", "deleted"):
        items.append(html.Span([html.Span(className="swatch", style={"background": STATUS_COLOURS[status]}), status]))
    items += [
        html.Span(
            [
                html.Span(
                    className="swatch", style={"background": "#ffebee", "borderColor": STATUS_COLOURS["dropped"]}
                ),
                "drop (with reason)",
            ]
        ),
        html.Span(
            [
                html.Span(className="swatch", style={"background": "#eceff1", "borderStyle": "dashed"}),
                f"+N more (fan-outs over {FANOUT_LIMIT}; click to expand)",
            ]
        ),
        html.Span("shapes: rectangle = file, ellipse = data, barrel = sink, hexagon = trace; edge label = op"),
    ]
    return html.Div(className="legend", id="legend", children=items)


def graph_toolbar(prefix: str, extra: list[Any] | None = None) -> html.Div:
    return html.Div(
        className="toolbar",
        children=[
            html.Button("Fit", id=f"{prefix}-fit", n_clicks=0, title="fit the whole graph in view"),
            html.Button("Zoom +", id=f"{prefix}-zoom-in", n_clicks=0),
            html.Button("Zoom −", id=f"{prefix}-zoom-out", n_clicks=0),
            *(extra or []),
            dcc.Store(id=f"{prefix}-viewport"),
            dcc.Store(id=f"{prefix}-resized"),
        ],
    )


def flow_graph(graph_id: str, elements: list[dict[str, Any]], height: str = "640px") -> cyto.Cytoscape:
    """A left-to-right flow picture. Callbacks that change its elements send a new layout with them
    (placement.with_layout): the layout runs once per change, not again on every add/remove."""
    placed, layout = with_layout(elements)
    return cyto.Cytoscape(
        id=graph_id,
        elements=placed,
        layout=layout,
        stylesheet=cytoscape_stylesheet(),
        style={"width": "100%", "height": height},
        minZoom=0.02,
        maxZoom=1.8,
        boxSelectionEnabled=False,
        autoRefreshLayout=False,
    )


def trace_page(trace: dict[str, Any], view: View, expanded: list[str]) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="trace-key", data=trace["key"]),
            dcc.Store(id="trace-expanded", data=expanded),
            views.trace_header(trace),
            graph_toolbar(
                "trace",
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
                    html.Span(id="trace-view-info", className="muted", children=views.view_info(view)),
                ],
            ),
            legend(),
            html.Div(
                className="flow",
                children=[
                    html.Div(className="graph", children=flow_graph("trace-graph", view.elements)),
                    html.Div(className="side card", id="node-panel", children=views.panel_hint()),
                ],
            ),
            html.Details(
                [
                    html.Summary("Nodes in this view, as a list"),
                    html.Div(id="trace-node-list", children=views.node_list(view)),
                ]
            ),
        ]
    )


# -- lineage ----------------------------------------------------------------------------------


LINEAGE_DIRECTIONS = [
    {"label": "upstream (where it came from)", "value": "upstream"},
    {"label": "downstream (what it became)", "value": "downstream"},
    {"label": "both", "value": "both"},
]


def lineage_page(key: str, direction: str, depth: int) -> html.Div:
    return html.Div(
        [
            html.H2("Lineage explorer"),
            filters_card(lineage_filters(key, direction, depth)),
            dcc.Store(id="lineage-data"),
            html.Div(id="lineage-message"),
            graph_toolbar(
                "lineage",
                [html.Span("Click a node to expand it one more step and see its details.", className="muted")],
            ),
            legend(),
            html.Div(
                className="flow",
                children=[
                    html.Div(className="graph", children=flow_graph("lineage-graph", [], height="560px")),
                    html.Div(className="side card", id="lineage-panel", children=views.panel_hint()),
                ],
            ),
        ]
    )


def lineage_filters(key: str, direction: str, depth: int) -> list[Any]:
    key_input = dcc.Input(
        id="lineage-key", type="text", value=key, placeholder="e.g. File4", n_submit=0, style={"width": "240px"}
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


# -- Cypher -----------------------------------------------------------------------------------


def query_page() -> html.Div:
    return html.Div(
        [
            html.H2("Cypher console"),
            html.P(
                "Read-only queries on the lineage graph (Trace, File, Data, Sink; CONTAINS, FLOWS_TO). "
                "Writes are refused; rows and time are limited by the server.",
                className="muted",
            ),
            dcc.Textarea(id="query-text", value=DEFAULT_QUERY, className="cypher", rows=5),
            html.Div(
                className="toolbar", children=[html.Button("Run", id="query-run", n_clicks=0, className="primary")]
            ),
            dcc.Loading(html.Div(id="query-result"), type="dot", delay_show=300),
        ]
    )
