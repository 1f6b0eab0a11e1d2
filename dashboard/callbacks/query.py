"""The Cypher console: a read-only query → a table whose keys are links, or the reason it failed (in
monospace, so a caret under the query points at the right column). The query goes into the URL (?q=)
and into this browser's history (localStorage); results export as CSV or JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import views
from dashboard.callbacks.common import (
    SESSION_OUT,
    URL_WRITE,
    download,
    fired_by_person,
    signed_out,
    token_of,
    url_write,
)
from dashboard.client import ApiClient, ApiError, HttpError
from dashboard.tables import query_csv, query_json, query_table
from dashboard.viewstate import query_page_search

HISTORY_MAX = 20


def register_query(app: dash.Dash, client: ApiClient) -> None:
    href = app.get_relative_path

    @app.callback(
        Output("query-result", "children"),
        Output("query-data", "data"),
        Output("query-history", "data"),
        SESSION_OUT,
        *URL_WRITE,
        Input("query-run", "n_clicks"),
        Input("query-autorun", "data"),
        State("query-text", "value"),
        State("query-history", "data"),
        State("session", "data"),
        State("url", "pathname"),
        State("url", "search"),
        prevent_initial_call="initial_duplicate",
    )
    def run_query(
        _n: int,
        autorun: bool | None,
        text: str | None,
        history: list[dict[str, Any]] | None,
        session: dict[str, Any] | None,
        pathname: str | None,
        search: str | None,
    ) -> tuple[Any, ...]:
        # a person's click, or a page opened from a link with ?q= (it shows that query's result)
        if not fired_by_person() and not (ctx.triggered_id == "query-autorun" and autorun):
            raise PreventUpdate
        cypher = (text or "").strip()
        if not cypher:
            problem = views.error("Write a query first, e.g. MATCH (n:File) RETURN n.key LIMIT 10")
            return problem, None, no_update, no_update, no_update, no_update
        written = url_write(search, pathname, query_page_search(cypher))
        try:
            result = client.query(token_of(session), cypher)
        except HttpError as exc:
            if exc.status in (400, 422):
                return query_error(exc.message), None, no_update, no_update, *written
            return views.error(exc), None, no_update, signed_out(session, exc), *written
        except ApiError as exc:
            return views.error(exc), None, no_update, no_update, *written
        data = {**result, "query": cypher}
        return query_table(result, href), data, remembered(history, cypher), no_update, *written

    @app.callback(
        Output("query-csv", "disabled"),
        Output("query-json", "disabled"),
        Input("query-data", "data"),
    )
    def exportable(data: dict[str, Any] | None) -> tuple[bool, bool]:
        off = not (data and data.get("columns"))
        return off, off

    @app.callback(
        Output("query-download", "data"),
        Input("query-csv", "n_clicks"),
        Input("query-json", "n_clicks"),
        State("query-data", "data"),
        prevent_initial_call=True,
    )
    def export_rows(_csv: int, _json: int, data: dict[str, Any] | None) -> Any:
        if not fired_by_person() or not data:
            raise PreventUpdate
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        if ctx.triggered_id == "query-json":
            return download(query_json(data), f"cypher-{stamp}.json", "application/json")
        return download(query_csv(data), f"cypher-{stamp}.csv", "text/csv")

    @app.callback(
        Output("query-history-pick", "options"),
        Input("query-history", "data"),
        Input("query-history-pick", "id"),  # fires when the console appears
    )
    def history_options(history: list[dict[str, Any]] | None, _id: str) -> list[dict[str, str]]:
        return [
            {"label": f"{h.get('when', '')}  {one_line(h['query'])}", "value": h["query"]}
            for h in history or []
            if h.get("query")
        ]

    @app.callback(
        Output("query-text", "value"),
        Input("query-history-pick", "value"),
        prevent_initial_call=True,
    )
    def pick_from_history(picked: str | None) -> str:
        if not picked:
            raise PreventUpdate
        return picked


def query_error(message: str) -> html.Div:
    return html.Div(f"The query failed: {message}", className="error mono", role="alert")


def remembered(history: list[dict[str, Any]] | None, cypher: str) -> list[dict[str, Any]]:
    """The history with `cypher` first (once), at most HISTORY_MAX entries."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    kept = [h for h in history or [] if h.get("query") != cypher]
    return [{"query": cypher, "when": when}, *kept][:HISTORY_MAX]


def one_line(cypher: str, width: int = 90) -> str:
    flat = " ".join(cypher.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
