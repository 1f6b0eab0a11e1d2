"""Dash callbacks: each reads the token from the browser session, calls the REST API through
ApiClient, and turns the answer (or the failure) into components. A 401 signs the browser out
with a notice, so an expired token leads straight back to the sign-in form."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

import dash
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import layout, views
from dashboard.client import ApiClient, ApiError, AuthExpired, HttpError
from dashboard.elements import EXPAND_ALL, lineage_elements, merge_lineage, trace_elements
from dashboard.placement import with_layout

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
SESSION_OUT = Output("session", "data", allow_duplicate=True)


def token_of(session: dict[str, Any] | None) -> str | None:
    return (session or {}).get("token") or None


def signed_out(session: dict[str, Any] | None, exc: ApiError) -> Any:
    """The session to store after a failed call: cleared with a notice on 401, else unchanged."""
    if isinstance(exc, AuthExpired):
        return {"token": None, "notice": exc.message}
    return no_update


def parse_time(text: str | None, what: str) -> str | None:
    """An RFC 3339 time typed by a person → normalised UTC text; no zone means UTC."""
    if not text or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a time like 2026-01-01T09:00:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def next_run() -> int:
    """A fresh value for the layout's `run` key, so that cytoscape runs the layout again."""
    return time.monotonic_ns() // 1000


def fired_by_person() -> bool:
    """False when Dash runs a callback because its components just appeared (it does so for components
    a page callback inserts, prevent_initial_call or not): clicks are 0, taps empty."""
    return any(t.get("value") for t in ctx.triggered)


def route(pathname: str | None, prefix: str) -> tuple[str, str]:
    """('traces', 'A') for <prefix>traces/A; ('', '') for the home page."""
    path = pathname or prefix
    if path.startswith(prefix):
        path = path[len(prefix):]
    elif path + "/" == prefix:
        path = ""
    path = path.strip("/")
    head, _, rest = path.partition("/")
    return head, unquote(rest)


def register(app: dash.Dash, client: ApiClient) -> None:
    prefix = app.config.requests_pathname_prefix
    href = app.get_relative_path

    # -- session ------------------------------------------------------------------------------

    @app.callback(
        Output("session", "data"), Output("signin-error", "children"), Output("signin-secret", "value"),
        Output("signin-token", "value"),
        Input("signin-submit", "n_clicks"), Input("signin-secret", "n_submit"), Input("signin-use-token", "n_clicks"),
        Input("signout", "n_clicks"),
        State("signin-client-id", "value"), State("signin-secret", "value"), State("signin-token", "value"),
        prevent_initial_call=True,
    )
    def sign_in(_a: int, _b: int, _c: int, _d: int, client_id: str | None, secret: str | None,
                pasted: str | None) -> tuple[Any, Any, Any, Any]:
        trigger = ctx.triggered_id
        if not fired_by_person():
            raise PreventUpdate
        if trigger == "signout":
            return {"token": None, "notice": "Signed out."}, None, "", ""
        if trigger == "signin-use-token":
            token = (pasted or "").strip()
            if not token:
                return no_update, views.error("Paste an access token first."), no_update, no_update
            try:
                client.traces(token, limit=1)
            except ApiError as exc:
                return no_update, views.error(f"That token does not work: {exc.message}"), no_update, ""
            return {"token": token, "who": "pasted token", "expires_at": None}, None, "", ""
        if not client_id or not secret:
            return no_update, views.error("Enter both the client id and the client secret."), no_update, no_update
        try:
            issued = client.sign_in(client_id.strip(), secret)
        except HttpError as exc:
            if exc.status in (400, 401, 403):
                return no_update, views.error("Sign-in failed: unknown client id or wrong secret."), "", no_update
            return no_update, views.error(exc), "", no_update
        except ApiError as exc:
            return no_update, views.error(exc), no_update, no_update
        expires_at = time.time() + float(issued.get("expires_in") or 0)
        return {"token": issued["access_token"], "who": client_id.strip(), "expires_at": expires_at}, None, "", ""

    @app.callback(
        Output("account-info", "children"), Output("signout", "style"), Output("signin", "style"),
        Output("signin-notice", "children"),
        Input("session", "data"),
    )
    def show_account(session: dict[str, Any] | None) -> tuple[Any, Any, Any, Any]:
        if token_of(session):
            assert session is not None
            expires = session.get("expires_at")
            until = (f" · token valid until {datetime.fromtimestamp(expires, UTC):%H:%M} UTC" if expires else "")
            return f"signed in as {session.get('who')}{until}", {}, {"display": "none"}, None
        notice = (session or {}).get("notice")
        return "not signed in", {"display": "none"}, {}, html.Div(notice, className="notice") if notice else None

    # -- router -------------------------------------------------------------------------------

    @app.callback(
        Output("page", "children"), SESSION_OUT,
        Input("url", "pathname"), Input("url", "search"), Input("session", "data"),
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
            expanded = [EXPAND_ALL] if query.get("expand") == "all" else []
            try:
                trace = client.trace(token, rest)
                graph = client.trace_graph(token, rest)
            except ApiError as exc:
                return html.Div([html.H2(f"Trace {rest}"), views.error(exc)]), signed_out(session, exc)
            view = trace_elements(trace, graph, expanded=expanded)
            if not graph.get("nodes"):
                return html.Div([layout.trace_page(trace, view, expanded),
                                 views.empty("This trace has no files or data yet.")]), no_update
            return layout.trace_page(trace, view, expanded), no_update
        if page == "lineage" and not rest:
            depth = query.get("depth", "5")
            return layout.lineage_page(query.get("key", ""), query.get("direction", "upstream"),
                                       int(depth) if depth.isdigit() else 5), no_update
        if page == "query" and not rest:
            return layout.query_page(), no_update
        return layout.not_found_page(pathname or "", href), no_update

    # -- traces list --------------------------------------------------------------------------

    @app.callback(
        Output("traces-table", "children"), Output("traces-pages", "data"), Output("traces-pageinfo", "children"),
        Output("traces-prev", "disabled"), Output("traces-next", "disabled"), SESSION_OUT,
        Input("traces-search", "n_clicks"), Input("traces-q", "n_submit"), Input("traces-user", "n_submit"),
        Input("traces-since", "n_submit"), Input("traces-until", "n_submit"), Input("traces-status", "value"),
        Input("traces-range", "value"), Input("traces-limit", "value"), Input("traces-next", "n_clicks"),
        Input("traces-prev", "n_clicks"),
        State("traces-q", "value"), State("traces-user", "value"), State("traces-since", "value"),
        State("traces-until", "value"), State("traces-pages", "data"), State("session", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def list_traces(*args: Any) -> tuple[Any, ...]:
        status, time_range, limit = args[5], args[6], int(args[7] or 25)
        q, user, since_text, until_text, pages, session = args[10:]
        cursors: list[str | None] = list((pages or {}).get("cursors") or [None])
        trigger = ctx.triggered_id
        if trigger == "traces-next" and (pages or {}).get("next"):
            cursors.append(pages["next"])
        elif trigger == "traces-prev" and len(cursors) > 1:
            cursors.pop()
        else:
            cursors = [None]
        since: str | None
        until: str | None
        try:
            if time_range in RANGES:
                since, until = (datetime.now(UTC) - RANGES[time_range]).isoformat().replace("+00:00", "Z"), None
            else:
                since, until = parse_time(since_text, "Since"), parse_time(until_text, "Until")
        except ValueError as exc:
            return views.error(str(exc)), no_update, "", True, True, no_update
        try:
            answer = client.traces(token_of(session), q=(q or "").strip() or None, user=(user or "").strip() or None,
                                   status=status or None, since=since, until=until, limit=limit, cursor=cursors[-1])
        except ApiError as exc:
            return views.error(exc), no_update, "", True, True, signed_out(session, exc)
        items = answer.get("items") or []
        filtered = bool(q or user or status or since or until)
        first = (len(cursors) - 1) * limit
        info = f"traces {first + 1}–{first + len(items)}" if items else ""
        return (views.traces_table(items, href, filtered), {"cursors": cursors, "next": answer.get("next_cursor")}, info,
                len(cursors) <= 1, not answer.get("next_cursor"), no_update)

    # -- trace flow ---------------------------------------------------------------------------

    @app.callback(
        Output("trace-graph", "elements"), Output("trace-graph", "layout"), Output("trace-expanded", "data"), Output("trace-view-info", "children"),
        Output("trace-node-list", "children"), SESSION_OUT,
        Input("trace-graph", "tapNodeData"), Input("trace-expand-all", "n_clicks"), Input("trace-collapse-all", "n_clicks"),
        State("trace-expanded", "data"), State("trace-key", "data"), State("session", "data"),
        prevent_initial_call=True,
    )
    def regroup(tapped: dict[str, Any] | None, _all: int, _none: int, expanded: list[str] | None, key: str,
                session: dict[str, Any] | None) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        if not fired_by_person():
            raise PreventUpdate
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
        try:
            trace = client.trace(token_of(session), key)
            graph = client.trace_graph(token_of(session), key)
        except ApiError as exc:
            return no_update, no_update, no_update, views.error(exc), no_update, signed_out(session, exc)
        view = trace_elements(trace, graph, expanded=now)
        return *with_layout(view.elements, next_run()), now, views.view_info(view), views.node_list(view), no_update

    @app.callback(
        Output("node-panel", "children"), SESSION_OUT,
        Input("trace-graph", "tapNodeData"), State("session", "data"),
        prevent_initial_call=True,
    )
    def show_node(tapped: dict[str, Any] | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
        return node_panel(tapped, session)

    def node_panel(tapped: dict[str, Any] | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
        if not tapped:
            raise PreventUpdate
        kind = tapped.get("kind")
        if kind == "more":
            return html.Div(f"{tapped.get('count')} more children of {tapped.get('group_of', '')[2:]} are drawn now.",
                            className="muted"), no_update
        try:
            if kind == "trace":
                return views.trace_panel(client.trace(token_of(session), tapped["key"])), no_update
            return views.node_panel(client.node(token_of(session), tapped["key"]), href), no_update
        except ApiError as exc:
            return views.error(exc), signed_out(session, exc)

    # -- lineage ------------------------------------------------------------------------------

    @app.callback(
        Output("lineage-graph", "elements"), Output("lineage-graph", "layout"), Output("lineage-data", "data"), Output("lineage-message", "children"),
        Output("lineage-panel", "children"), SESSION_OUT,
        Input("lineage-run", "n_clicks"), Input("lineage-key", "n_submit"), Input("lineage-graph", "tapNodeData"),
        State("lineage-key", "value"), State("lineage-direction", "value"), State("lineage-depth", "value"),
        State("lineage-data", "data"), State("session", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def explore(_run: int, _submit: int, tapped: dict[str, Any] | None, key: str | None, direction: str,
                depth: int | None, data: dict[str, Any] | None, session: dict[str, Any] | None) -> tuple[Any, ...]:
        token = token_of(session)
        if ctx.triggered_id == "lineage-graph":
            if not tapped or not data or not fired_by_person():
                raise PreventUpdate
            return expand_lineage(tapped, direction, data, session)
        key = (key or "").strip()
        if not key:
            return [], no_update, None, views.empty("Enter a node key (a file, data or sink key) and choose a direction."), \
                views.panel_hint(), no_update
        try:
            answer = client.lineage(token, key, direction or "both", int(depth or 5))
        except ApiError as exc:
            return [], no_update, None, views.error(exc), views.panel_hint(), signed_out(session, exc)
        graph = merge_lineage(None, answer)
        return (*with_layout(lineage_elements(graph).elements, next_run()), {"graph": graph, "expanded": []},
                lineage_message(graph, answer), views.panel_hint(), no_update)

    def expand_lineage(tapped: dict[str, Any], direction: str, data: dict[str, Any],
                       session: dict[str, Any] | None) -> tuple[Any, ...]:
        expanded = list(data.get("expanded") or [])
        graph = data["graph"]
        if tapped.get("kind") == "more":
            expanded.append(tapped["group_of"])
            view = lineage_elements(graph, expanded=expanded)
            return *with_layout(view.elements, next_run()), {"graph": graph, "expanded": expanded}, no_update, no_update, \
                no_update
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
        return (*with_layout(view.elements, next_run()), {"graph": graph, "expanded": expanded},
                lineage_message(graph, more), panel, no_update)

    def lineage_message(graph: dict[str, Any], last: dict[str, Any]) -> Any:
        n = len(graph.get("nodes") or [])
        if n <= 1:
            return views.empty(f"{graph.get('root')} has no {last.get('direction', '')} lineage: nothing flows "
                               f"{'into' if last.get('direction') == 'upstream' else 'out of'} it.")
        text = f"{n} nodes, {len(graph.get('edges') or [])} flows."
        if last.get("truncated"):
            text += " More lies beyond this depth: click a node at the edge to go further."
        return html.Div(text, className="muted", id="lineage-info")

    # -- Cypher -------------------------------------------------------------------------------

    @app.callback(
        Output("query-result", "children"), SESSION_OUT,
        Input("query-run", "n_clicks"), State("query-text", "value"), State("session", "data"),
        prevent_initial_call=True,
    )
    def run_query(_n: int, text: str | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
        if not fired_by_person():
            raise PreventUpdate
        if not (text or "").strip():
            return views.error("Write a query first, e.g. MATCH (n:File) RETURN n.key LIMIT 10"), no_update
        try:
            return views.query_table(client.query(token_of(session), text or "")), no_update
        except HttpError as exc:
            if exc.status in (400, 422):
                return views.error(f"The query failed: {exc.message}"), no_update
            return views.error(exc), signed_out(session, exc)
        except ApiError as exc:
            return views.error(exc), no_update

    # -- viewport (in the browser) ------------------------------------------------------------

    # Cytoscape caches where its canvas is on the page: when text above it changes height, clicks
    # would land off target until it is told (cy.resize()).
    for graph_prefix, above in (("trace", "trace-view-info"), ("lineage", "lineage-message")):
        app.clientside_callback(  # type: ignore[no-untyped-call]
            _RESIZE_JS.replace("GRAPH_ID", f"{graph_prefix}-graph"),
            Output(f"{graph_prefix}-resized", "data"), Input(above, "children"),
            prevent_initial_call=True,
        )
    for graph_prefix in ("trace", "lineage"):
        app.clientside_callback(  # type: ignore[no-untyped-call]
            _VIEWPORT_JS.replace("GRAPH_ID", f"{graph_prefix}-graph").replace("PREFIX", graph_prefix),
            Output(f"{graph_prefix}-viewport", "data"),
            Input(f"{graph_prefix}-fit", "n_clicks"), Input(f"{graph_prefix}-zoom-in", "n_clicks"),
            Input(f"{graph_prefix}-zoom-out", "n_clicks"),
            prevent_initial_call=True,
        )


_RESIZE_JS = """
function(_) {
    window.requestAnimationFrame(() => {
        const el = document.getElementById('GRAPH_ID');
        if (el && el._cyreg && el._cyreg.cy) { el._cyreg.cy.resize(); }
    });
    return Date.now();
}
"""

_VIEWPORT_JS = """
function(fit, zoomIn, zoomOut) {
    const el = document.getElementById('GRAPH_ID');
    const cy = el && el._cyreg && el._cyreg.cy;
    if (!cy) { return window.dash_clientside.no_update; }
    const ctx = window.dash_clientside.callback_context;
    if (!ctx.triggered.some(t => t.value)) { return window.dash_clientside.no_update; }
    const trigger = ctx.triggered_id;
    if (trigger === 'PREFIX-fit') {
        cy.fit(undefined, 24);
    } else {
        const factor = trigger === 'PREFIX-zoom-in' ? 1.25 : 0.8;
        cy.zoom({level: cy.zoom() * factor, renderedPosition: {x: cy.width() / 2, y: cy.height() / 2}});
    }
    return {zoom: cy.zoom(), at: Date.now()};
}
"""
