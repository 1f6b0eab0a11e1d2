"""Getting around: the key box in the top bar (suggestions while typing, Enter jumps), Copy link, and
the browser side of NAVIGATE (a history entry pushed or replaced, which dcc.Location then reads)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard.callbacks.common import NAVIGATE, SESSION_OUT, navigate, signed_out, token_of
from dashboard.client import ApiClient, ApiError
from dashboard.links import search_href
from dashboard.tables import item_href, kind_label

SUGGESTIONS = 10


def register_navigation(app: dash.Dash, client: ApiClient) -> None:
    href = app.get_relative_path

    @app.callback(
        Output("jump-suggestions", "children"),
        SESSION_OUT,
        Input("jump-q", "value"),
        State("session", "data"),
        prevent_initial_call=True,
    )
    def suggest(typed: str | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
        q = (typed or "").strip()
        if not q or not token_of(session):
            return [], no_update
        try:
            items = client.search(token_of(session), q, limit=SUGGESTIONS)
        except ApiError as exc:
            return html.Div(exc.message, className="suggestion muted"), signed_out(session, exc)
        if not items:
            return html.Div(f"No key starts with {q!r}", className="suggestion muted"), no_update
        links = [
            dcc.Link([html.Span(i["key"], className="key"), kind_label(i.get("kind"))], href=item_href(href, i))
            for i in items
        ]
        if len(items) == SUGGESTIONS:
            links.append(dcc.Link(f"All keys starting with {q!r} →", href=search_href(href, q), className="all"))
        return links, no_update

    # Enter may come before the debounced value: read what the box holds now
    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(n) { const box = document.getElementById('jump-q');"
        " return n && box ? {q: box.value, at: Date.now()} : window.dash_clientside.no_update; }",
        Output("jump-submit", "data"),
        Input("jump-q", "n_submit"),
        prevent_initial_call=True,
    )

    @app.callback(
        NAVIGATE,
        SESSION_OUT,
        Input("jump-submit", "data"),
        State("session", "data"),
        prevent_initial_call=True,
    )
    def jump(submitted: dict[str, Any] | None, session: dict[str, Any] | None) -> tuple[Any, Any]:
        """Enter: the key itself if it exists (or the only key starting so), else the list of matches."""
        q = str((submitted or {}).get("q") or "").strip()
        if not q:
            raise PreventUpdate
        try:
            items = client.search(token_of(session), q, limit=SUGGESTIONS)
        except ApiError as exc:
            return navigate(search_href(href, q)), signed_out(session, exc)
        exact = [i for i in items if i.get("key") == q]
        pick = exact[0] if exact else items[0] if len(items) == 1 else None
        return navigate(item_href(href, pick) if pick else search_href(href, q)), no_update

    app.clientside_callback(  # type: ignore[no-untyped-call]
        _NAVIGATE_JS, Output("nav-done", "data"), Input("nav-to", "data"), prevent_initial_call=True
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        _ARRIVED_JS,
        Output("copy-link-status", "children"),
        Input("url", "pathname"),
        Input("url", "search"),
        prevent_initial_call=True,
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        _COPY_JS,
        Output("copy-link-status", "children", allow_duplicate=True),
        Output("copy-link-status", "title"),
        Input("copy-link", "n_clicks"),
        prevent_initial_call=True,
    )


# popstate is what dcc.Location listens to for Back/Forward: it then reads the new address, and the
# router renders it. replaceState keeps a /key/… hop out of the history.
_NAVIGATE_JS = """
function(to) {
    if (!to || !to.href) { return window.dash_clientside.no_update; }
    if (to.replace) { window.history.replaceState({}, '', to.href); }
    else { window.history.pushState({}, '', to.href); }
    window.dispatchEvent(new PopStateEvent('popstate', {state: {}}));
    window.scrollTo(0, 0);
    return to.href;
}
"""

# The box keeps what was typed in its own state until it changes: clear it the way typing does.
_ARRIVED_JS = """
function(_p, _s) {
    const box = document.getElementById('jump-q');
    if (box && box.value) {
        const setValue = Object.getOwnPropertyDescriptor(window.HTMLInputElement.prototype, 'value').set;
        setValue.call(box, '');
        box.dispatchEvent(new Event('input', {bubbles: true}));
    }
    if (box && document.activeElement && box.closest('.jump').contains(document.activeElement)) {
        document.activeElement.blur();
    }
    return '';
}
"""

# navigator.clipboard needs a secure context (https or localhost); elsewhere the old copy command works.
_COPY_JS = """
function(n) {
    if (!n) { return window.dash_clientside.no_update; }
    const url = window.location.href;
    const fallback = () => {
        const area = document.createElement('textarea');
        area.value = url; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.top = '-1000px';
        document.body.appendChild(area); area.select();
        try { document.execCommand('copy'); } finally { document.body.removeChild(area); }
    };
    if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).catch(fallback);
    } else {
        fallback();
    }
    return ['Link copied', url];
}
"""
