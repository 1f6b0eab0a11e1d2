"""The page shell (top bar with the key search and Copy link, sign-in, router outlet) and the pages that
are not pictures: the traces list, the Cypher console, search results, not found. Builders take data
already fetched (or view state parsed from the URL); they never call the API."""

from __future__ import annotations

from typing import Any, Literal

from dash import dcc, html

from dashboard.layout import choice, field, filters_card
from dashboard.links import Href, search_href
from dashboard.viewstate import PAGE_SIZES, TracesView

DEFAULT_QUERY = "MATCH (n:File) RETURN n.key AS key, n.status AS status, n.reason AS reason ORDER BY key LIMIT 25"
SESSION_CHECK_MS = 30_000  # how often a tab looks whether its access token is about to expire


def shell(href: Href) -> html.Div:
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="session", storage_type="session"),
            dcc.Store(id="signed-in"),  # who, derived from the session: pages rebuild when it changes
            dcc.Store(id="session-due"),
            dcc.Interval(id="session-timer", interval=SESSION_CHECK_MS),
            dcc.Store(id="url-written"),
            dcc.Store(id="nav-to"),
            dcc.Store(id="nav-done"),
            dcc.Store(id="jump-submit"),
            dcc.Store(id="query-history", storage_type="local"),
            topbar(href),
            html.Main([signin_card(), html.Div(id="page")]),
        ]
    )


def topbar(href: Href) -> html.Header:
    return html.Header(
        className="topbar",
        children=[
            dcc.Link("file-telemetry", href=href("/"), className="brand"),
            dcc.Link("Traces", href=href("/"), id="nav-traces"),
            dcc.Link("Lineage", href=href("/lineage"), id="nav-lineage"),
            dcc.Link("Cypher", href=href("/query"), id="nav-query"),
            dcc.Link("Stats", href=href("/stats"), id="nav-stats"),
            html.Div(
                className="jump",
                children=[
                    dcc.Input(
                        id="jump-q",
                        type="search",
                        placeholder="Go to a key: trace, file, data, sink…",
                        debounce=0.25,
                        n_submit=0,
                        autoComplete="off",
                        spellCheck=False,
                        style={"width": "340px"},
                    ),
                    html.Div(id="jump-suggestions", className="suggestions", role="listbox"),
                ],
            ),
            html.Button("Copy link", id="copy-link", n_clicks=0, title="copy the address of this view"),
            html.Span(id="copy-link-status", className="copied"),
            html.Div(
                className="account",
                children=[
                    html.Span(id="account-info"),
                    html.Button("Sign out", id="signout", n_clicks=0, style={"display": "none"}),
                ],
            ),
        ],
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
            html.P(
                "or paste an access token (it cannot be renewed: sign in again when it expires):", className="muted"
            ),
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


def restoring_page() -> html.Div:
    return html.Div("Resuming your session…", className="empty", id="restoring")


def not_found_page(path: str, href: Href) -> html.Div:
    return html.Div(className="empty", children=[f"No page at {path!r}. ", dcc.Link("Back to traces", href=href("/"))])


def missing_key_page(title: str, key: str, problem: Any, href: Href) -> html.Div:
    """A key that opens nothing: say which, why, and offer the way back and a search for similar keys."""
    return html.Div(
        id="not-found",
        children=[
            html.H2(title),
            problem,
            html.Div(
                className="toolbar",
                children=[
                    dcc.Link("← Back to traces", href=href("/")),
                    dcc.Link(f"Keys starting with {key[:40]!r}", href=search_href(href, key[:40])) if key else None,
                ],
            ),
        ],
    )


def opening_page(key: str) -> html.Div:
    return html.Div(f"Opening {key}…", className="muted", id="opening")


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
    {"label": "idle-ended", "value": "idle-ended"},
]
DROPS_FILTER = [
    {"label": "any", "value": ""},
    {"label": "with drops", "value": "true"},
    {"label": "without drops", "value": "false"},
]


def traces_page(view: TracesView) -> html.Div:
    return html.Div(
        [
            html.Div(className="title-row", children=[html.H2("Traces"), html.Span(id="traces-total")]),
            filters_card(traces_filters(view)),
            dcc.Store(id="traces-state", data={"view": view.as_dict(), "stack": [], "next": None}),
            dcc.Store(id="traces-sort-click"),
            dcc.Download(id="traces-download"),
            html.Div(
                className="table-scroll",
                id="traces-scroll",
                children=dcc.Loading(html.Div(id="traces-table"), type="dot", delay_show=300),
            ),
            traces_pager(),
        ]
    )


def traces_filters(view: TracesView) -> list[Any]:
    custom = view.range == "custom"
    return [
        field("Search (key, user, name)", text_box("traces-q", view.q, "e.g. A or nightly", "220px", kind="search")),
        field("User", text_box("traces-user", view.user, "exact user id", "140px")),
        field("Status", choice("traces-status", STATUS_FILTER, view.status, "120px")),
        field("Drops", choice("traces-drops", DROPS_FILTER, view.has_drops, "140px")),
        field("Time range", choice("traces-range", TIME_RANGES, view.range, "190px")),
        field("Since (UTC, custom range)", time_box("traces-since", view.since, custom)),
        field("Until (UTC, custom range)", time_box("traces-until", view.until, custom)),
        field("Per page", choice("traces-limit", list(PAGE_SIZES), view.limit, "80px")),
        html.Button("Search", id="traces-search", n_clicks=0, className="primary"),
        html.Button("Export CSV", id="traces-export", n_clicks=0, title="every trace matching these filters"),
    ]


def traces_pager() -> html.Div:
    return html.Div(
        className="pager",
        children=[
            html.Button("← Previous", id="traces-prev", n_clicks=0, disabled=True),
            html.Span(id="traces-pageinfo", className="muted"),
            html.Button("Next →", id="traces-next", n_clicks=0, disabled=True),
            html.Span("Click a column title to sort this page.", className="muted hint"),
        ],
    )


def text_box(
    component_id: str, value: str, placeholder: str, width: str, kind: Literal["text", "search"] = "text"
) -> dcc.Input:
    """A text box that filters on Enter (n_submit)."""
    return dcc.Input(
        id=component_id, type=kind, value=value, placeholder=placeholder, n_submit=0, style={"width": width}
    )


def time_box(component_id: str, value: str, enabled: bool) -> dcc.Input:
    """Since/Until: only a custom range uses them, so they are disabled (and say so) under any other range."""
    return dcc.Input(
        id=component_id,
        type="text",
        value=value,
        placeholder="e.g. 2026-01-01T09:00Z",
        n_submit=0,
        disabled=not enabled,
        style={"width": "170px"},
    )


# -- Cypher -----------------------------------------------------------------------------------


def query_page(cypher: str | None) -> html.Div:
    return html.Div(
        [
            html.H2("Cypher console"),
            html.P(
                "Read-only queries on the lineage graph (Trace, File, Data, Sink; CONTAINS, FLOWS_TO). "
                "Writes are refused; rows and time are limited by the server. Ctrl+Enter runs the query.",
                className="muted",
            ),
            dcc.Textarea(id="query-text", value=cypher or DEFAULT_QUERY, className="cypher", rows=5, spellCheck=False),
            html.Div(
                className="toolbar",
                children=[
                    html.Button("Run", id="query-run", n_clicks=0, className="primary", title="Ctrl+Enter"),
                    html.Button("Export CSV", id="query-csv", n_clicks=0, disabled=True),
                    html.Button("Export JSON", id="query-json", n_clicks=0, disabled=True),
                    dcc.Dropdown(
                        id="query-history-pick",
                        placeholder="History (this browser)",
                        options=[],
                        clearable=True,
                        searchable=False,
                        style={"width": "460px"},
                    ),
                ],
            ),
            dcc.Store(id="query-autorun", data=bool(cypher)),
            dcc.Store(id="query-data"),
            dcc.Download(id="query-download"),
            dcc.Loading(html.Div(id="query-result"), type="dot", delay_show=300),
        ]
    )


# -- search -----------------------------------------------------------------------------------


def search_page(q: str, results: Any) -> html.Div:
    return html.Div([html.H2(f"Keys starting with {q!r}"), results])
