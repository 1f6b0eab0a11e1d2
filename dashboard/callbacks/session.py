"""Sign-in and sign-out: the form (client credentials or a pasted token) fills the session store; the
top bar shows who is signed in, or the sign-in card with the notice of why not."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import dash
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import views
from dashboard.callbacks.common import fired_by_person, token_of
from dashboard.client import ApiClient, ApiError, HttpError

SignInReply = tuple[Any, Any, Any, Any]  # session, error, secret field, token field


def register_session(app: dash.Dash, client: ApiClient) -> None:
    @app.callback(
        Output("session", "data"),
        Output("signin-error", "children"),
        Output("signin-secret", "value"),
        Output("signin-token", "value"),
        Input("signin-submit", "n_clicks"),
        Input("signin-secret", "n_submit"),
        Input("signin-use-token", "n_clicks"),
        Input("signout", "n_clicks"),
        State("signin-client-id", "value"),
        State("signin-secret", "value"),
        State("signin-token", "value"),
        prevent_initial_call=True,
    )
    def sign_in(
        _a: int, _b: int, _c: int, _d: int, client_id: str | None, secret: str | None, pasted: str | None
    ) -> SignInReply:
        trigger = ctx.triggered_id
        if not fired_by_person():
            raise PreventUpdate
        if trigger == "signout":
            return {"token": None, "notice": "Signed out."}, None, "", ""
        if trigger == "signin-use-token":
            return sign_in_with_token(client, pasted)
        return sign_in_with_secret(client, client_id, secret)

    @app.callback(
        Output("account-info", "children"),
        Output("signout", "style"),
        Output("signin", "style"),
        Output("signin-notice", "children"),
        Input("session", "data"),
    )
    def show_account(session: dict[str, Any] | None) -> tuple[Any, Any, Any, Any]:
        if token_of(session):
            assert session is not None
            expires = session.get("expires_at")
            until = f" · token valid until {datetime.fromtimestamp(expires, UTC):%H:%M} UTC" if expires else ""
            return f"signed in as {session.get('who')}{until}", {}, {"display": "none"}, None
        notice = (session or {}).get("notice")
        return "not signed in", {"display": "none"}, {}, html.Div(notice, className="notice") if notice else None


def sign_in_with_token(client: ApiClient, pasted: str | None) -> SignInReply:
    """A pasted access token is kept only if the API accepts it."""
    token = (pasted or "").strip()
    if not token:
        return no_update, views.error("Paste an access token first."), no_update, no_update
    try:
        client.traces(token, limit=1)
    except ApiError as exc:
        return no_update, views.error(f"That token does not work: {exc.message}"), no_update, ""
    return {"token": token, "who": "pasted token", "expires_at": None}, None, "", ""


def sign_in_with_secret(client: ApiClient, client_id: str | None, secret: str | None) -> SignInReply:
    """Client credentials → an access token, with the time it expires."""
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
