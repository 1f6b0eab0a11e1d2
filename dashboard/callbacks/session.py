"""Sign-in, sign-out and keeping a session alive for a working day.

The access token lives in the tab (the `session` store, sessionStorage). Signing in with client
credentials also asks the API for a refresh token, which the dashboard's own server keeps in an
HttpOnly, SameSite=Lax cookie scoped to the dashboard's path: page scripts never see it. With it,
a tab renews its access token shortly before it expires, a new tab (a link opened elsewhere) starts
signed in, and a 401 is retried once with a fresh token. Sign-out deletes the cookie. A pasted token
has no refresh token: it lasts as long as it lasts.

Pages rebuild when `signed-in` changes (who is signed in), not on every renewed token.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import dash
import flask
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import views
from dashboard.callbacks.common import SESSION_OUT, fired_by_person, token_of
from dashboard.client import ApiClient, ApiError, AuthExpired, HttpError

REFRESH_COOKIE = "ftel_refresh"
WHO_COOKIE = "ftel_who"  # the client id signed in, to name the account in a resumed tab
RENEW_BEFORE_SECONDS = 120  # renew this long before the access token expires

SignInReply = tuple[Any, Any, Any, Any]  # session, error, secret field, token field


def register_session(app: dash.Dash, client: ApiClient) -> None:
    cookie_path = app.config.requests_pathname_prefix

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
            forget_refresh(cookie_path)
            return {"token": None, "notice": "Signed out."}, None, "", ""
        if trigger == "signin-use-token":
            return sign_in_with_token(client, pasted, cookie_path)
        return sign_in_with_secret(client, client_id, secret, cookie_path)

    @app.callback(
        SESSION_OUT,
        Input("session", "data"),
        Input("session-due", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def keep_session(session: dict[str, Any] | None, _due: Any) -> Any:
        """A new tab, a token about to expire, or a 401: renew with the refresh cookie if there is one."""
        refresh_token = flask.request.cookies.get(REFRESH_COOKIE)
        if session is None:  # a tab that has not decided yet: resume from the cookie, or ask to sign in
            return renewed(client, refresh_token, {}, cookie_path) if refresh_token else {"token": None}
        if token_of(session):
            due = ctx.triggered_id == "session-due" and session.get("refreshable") and expires_soon(session)
            if due and refresh_token:
                return renewed(client, refresh_token, session, cookie_path)
            raise PreventUpdate
        if session.get("expired") and refresh_token:
            return renewed(client, refresh_token, session, cookie_path)
        raise PreventUpdate

    app.clientside_callback(  # type: ignore[no-untyped-call]
        _SIGNED_IN_JS, Output("signed-in", "data"), Input("session", "data"), State("signed-in", "data")
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        _DUE_JS.replace("RENEW_BEFORE", str(RENEW_BEFORE_SECONDS)),
        Output("session-due", "data"),
        Input("session-timer", "n_intervals"),
        State("session", "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("account-info", "children"),
        Output("signout", "style"),
        Output("signin", "style"),
        Output("signin-notice", "children"),
        Input("session", "data"),
    )
    def show_account(session: dict[str, Any] | None) -> tuple[Any, Any, Any, Any]:
        hidden = {"display": "none"}
        if session is None:
            return "…", hidden, hidden, None
        if token_of(session):
            expires = session.get("expires_at")
            until = ""
            if expires:
                word = "renews itself before" if session.get("refreshable") else "valid until"
                until = f" · token {word} {datetime.fromtimestamp(expires, UTC):%H:%M} UTC"
            return f"signed in as {session.get('who')}{until}", {}, hidden, None
        notice = session.get("notice")
        return "not signed in", hidden, {}, html.Div(notice, className="notice") if notice else None


_SIGNED_IN_JS = """
function(session, current) {
    let now;
    if (session === null || session === undefined) { now = {state: 'pending'}; }
    else if (session.token) { now = {state: 'in', who: session.who || ''}; }
    else { now = {state: 'out'}; }
    if (current && current.state === now.state && current.who === now.who) {
        return window.dash_clientside.no_update;
    }
    return now;
}
"""

_DUE_JS = """
function(_n, session) {
    if (!session || !session.token || !session.refreshable || !session.expires_at) {
        return window.dash_clientside.no_update;
    }
    if (session.expires_at - Date.now() / 1000 > RENEW_BEFORE) { return window.dash_clientside.no_update; }
    return Date.now();
}
"""


def expires_soon(session: dict[str, Any]) -> bool:
    expires = session.get("expires_at")
    return isinstance(expires, (int, float)) and expires - time.time() <= RENEW_BEFORE_SECONDS


def signed_in_session(issued: dict[str, Any], who: str, refreshable: bool) -> dict[str, Any]:
    expires_at = time.time() + float(issued.get("expires_in") or 0)
    return {"token": issued["access_token"], "who": who, "expires_at": expires_at, "refreshable": refreshable}


def keep_refresh(issued: dict[str, Any], who: str, cookie_path: str) -> bool:
    """Put the refresh token of a sign-in or renewal in the HttpOnly cookie; False if there is none."""
    refresh_token = issued.get("refresh_token")
    if not refresh_token:
        return False
    lasts = int(issued.get("refresh_expires_in") or 0) or None
    for name, value in ((REFRESH_COOKIE, str(refresh_token)), (WHO_COOKIE, who)):
        ctx.response.set_cookie(
            name, value, max_age=lasts, path=cookie_path, secure=flask.request.is_secure, httponly=True, samesite="Lax"
        )
    return True


def forget_refresh(cookie_path: str) -> None:
    for name in (REFRESH_COOKIE, WHO_COOKIE):  # an expired, empty cookie is how a response deletes one
        ctx.response.set_cookie(
            name,
            "",
            max_age=0,
            expires=0,
            path=cookie_path,
            secure=flask.request.is_secure,
            httponly=True,
            samesite="Lax",
        )


def renewed(client: ApiClient, refresh_token: str, session: dict[str, Any], cookie_path: str) -> dict[str, Any]:
    """The session after using the refresh cookie: a new access token, or signed out with the reason."""
    try:
        issued = client.refresh(refresh_token)
    except AuthExpired:
        forget_refresh(cookie_path)
        return {"token": None, "notice": "Your session has ended. Sign in again."}
    except ApiError as exc:
        notice = session.get("notice") or f"Could not resume your session: {exc.message}"
        return {"token": None, "notice": notice}
    who = str(session.get("who") or flask.request.cookies.get(WHO_COOKIE) or "your account")
    keep_refresh(issued, who, cookie_path)
    return signed_in_session(issued, who, refreshable=True)


def sign_in_with_token(client: ApiClient, pasted: str | None, cookie_path: str) -> SignInReply:
    """A pasted access token is kept only if the API accepts it; it replaces any renewable session."""
    token = (pasted or "").strip()
    if not token:
        return no_update, views.error("Paste an access token first."), no_update, no_update
    try:
        client.traces(token, limit=1)
    except ApiError as exc:
        return no_update, views.error(f"That token does not work: {exc.message}"), no_update, ""
    forget_refresh(cookie_path)
    return {"token": token, "who": "pasted token", "expires_at": None}, None, "", ""


def sign_in_with_secret(client: ApiClient, client_id: str | None, secret: str | None, cookie_path: str) -> SignInReply:
    """Client credentials → an access token, with the time it expires, and the refresh cookie."""
    if not client_id or not secret:
        return no_update, views.error("Enter both the client id and the client secret."), no_update, no_update
    try:
        issued = client.sign_in(client_id.strip(), secret, refresh=True)
    except HttpError as exc:
        if exc.status in (400, 401, 403):
            return no_update, views.error("Sign-in failed: unknown client id or wrong secret."), "", no_update
        return no_update, views.error(exc), "", no_update
    except ApiError as exc:
        return no_update, views.error(exc), no_update, no_update
    refreshable = keep_refresh(issued, client_id.strip(), cookie_path)
    return signed_in_session(issued, client_id.strip(), refreshable), None, "", ""
