"""The router: the URL (and who is signed in) → the page to show. Pages that need data fetch it here.

It listens to `signed-in`, not to the session itself, so a renewed token does not rebuild the page;
and it leaves a page alone when the URL it hears of is the one that page just wrote (URL_WRITE).
`/key/<key>` opens any key: it finds the trace (or the node's trace) and replaces itself with that
trace's page, the node selected.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update

from dashboard import pages, views
from dashboard.callbacks.common import NAVIGATE, SESSION_OUT, navigate, route, signed_out, token_of
from dashboard.callbacks.lineage import open_lineage_page
from dashboard.callbacks.trace_flow import open_trace_page
from dashboard.client import ApiClient, ApiError, HttpError
from dashboard.links import Href, lineage_path, trace_path
from dashboard.stats_page import stats_page
from dashboard.stats_view import StatsView
from dashboard.tables import search_results
from dashboard.viewstate import TracesView, query_of

SEARCH_PAGE_LIMIT = 100


def register_router(app: dash.Dash, client: ApiClient) -> None:
    prefix = app.config.requests_pathname_prefix
    href = app.get_relative_path

    @app.callback(
        Output("page", "children"),
        SESSION_OUT,
        NAVIGATE,
        Output("url-written", "data", allow_duplicate=True),
        Input("url", "pathname"),
        Input("url", "search"),
        Input("signed-in", "data"),
        State("session", "data"),
        State("url-written", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def render_page(
        pathname: str | None,
        search: str | None,
        signed_in: dict[str, Any] | None,
        session: dict[str, Any] | None,
        written: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        if ctx.triggered_id == "url" and written == {"pathname": pathname, "search": search or ""}:
            return no_update, no_update, no_update, None  # the page wrote this URL itself: it shows it already
        state = (signed_in or {}).get("state", "pending")
        token = token_of(session)
        if state == "pending":
            return pages.restoring_page(), no_update, no_update, None
        if state != "in" or not token:
            return pages.signed_out_page(), no_update, no_update, None
        page, rest = route(pathname, prefix)
        query = query_of(search)
        shown: tuple[Any, Any, Any]
        if page == "" and not rest:
            shown = pages.traces_page(TracesView.from_search(search)), no_update, no_update
        elif page == "traces" and rest:
            shown = (*open_trace_page(client, token, rest, query, session, href), no_update)
        elif page == "key" and rest:
            shown = open_key(client, token, rest, query.get("kind"), session, href)
        elif page == "search" and not rest:
            shown = (*open_search_page(client, token, query.get("q", ""), session, href), no_update)
        elif page == "lineage" and not rest:
            shown = open_lineage_page(query), no_update, no_update
        elif page == "query" and not rest:
            shown = pages.query_page(query.get("q")), no_update, no_update
        elif page == "stats" and not rest:
            shown = stats_page(StatsView.from_search(search)), no_update, no_update
        else:
            shown = pages.not_found_page(pathname or "", href), no_update, no_update
        return (*shown, None)


def open_key(
    client: ApiClient, token: str, key: str, kind: str | None, session: dict[str, Any] | None, href: Href
) -> tuple[Any, Any, Any]:
    """Any key → where it is seen: a trace's page, or the page of the node's trace with the node selected
    (a node in no trace: its lineage). The URL is replaced, so Back skips this hop."""
    lookups = ("node", "trace") if kind == "node" else ("trace", "node")
    try:
        for lookup in lookups:
            target = resolve(client, token, key, lookup)
            if target:
                return pages.opening_page(key), no_update, navigate(href(target), replace=True)
    except ApiError as exc:
        return html.Div([html.H2(key), views.error(exc)]), signed_out(session, exc), no_update
    problem = views.error(f"No trace, file, data or sink has the key {key!r}.")
    return pages.missing_key_page(f"Nothing at {key}", key, problem, href), no_update, no_update


def resolve(client: ApiClient, token: str, key: str, lookup: str) -> str | None:
    """The app path that shows `key` as a trace or as a node; None when it is not one (404)."""
    try:
        if lookup == "trace":
            return trace_path(client.trace(token, key)["key"])
        node = client.node(token, key)["node"]
    except HttpError as exc:
        if exc.status == 404:
            return None
        raise
    trace = node.get("trace")
    return trace_path(str(trace), node=key) if trace else lineage_path(key)


def open_search_page(
    client: ApiClient, token: str, q: str, session: dict[str, Any] | None, href: Href
) -> tuple[Any, Any]:
    """Every key starting with ?q=, linked to where it is seen (the key search's Enter lands here)."""
    if not q:
        return pages.search_page("", views.empty("Type the start of a key in the box at the top.")), no_update
    try:
        items = client.search(token, q, limit=SEARCH_PAGE_LIMIT)
    except ApiError as exc:
        return pages.search_page(q, views.error(exc)), signed_out(session, exc)
    return pages.search_page(q, search_results(items, href, SEARCH_PAGE_LIMIT)), no_update
