"""The Cypher console: a read-only query → a table, or the reason it failed."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from dashboard import views
from dashboard.callbacks.common import SESSION_OUT, fired_by_person, signed_out, token_of
from dashboard.client import ApiClient, ApiError, HttpError


def register_query(app: dash.Dash, client: ApiClient) -> None:
    @app.callback(
        Output("query-result", "children"),
        SESSION_OUT,
        Input("query-run", "n_clicks"),
        State("query-text", "value"),
        State("session", "data"),
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
