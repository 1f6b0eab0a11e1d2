"""What every group of callbacks shares: the session output, the token, the sign-out on 401, and
small readers of what the browser sent (times, paths, who fired a callback)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from dash import Output, ctx, no_update

from dashboard.client import ApiError, AuthExpired

SESSION_OUT = Output("session", "data", allow_duplicate=True)

# A page that keeps its view state in the URL writes the query string with both outputs: the router
# sees that the URL it is told about is the one the page wrote, and leaves the page as it is. Written from
# the server (url_write) dcc.Location pushes the new address; the graph pages' clientside writers put it
# in the address bar first (replace or push, callbacks/viewport.py), and Location only takes note. Never
# change the address bar without telling Location: a later link to the address it last knew would
# change nothing it can see, and open nothing.
URL_WRITE = (Output("url", "search", allow_duplicate=True), Output("url-written", "data", allow_duplicate=True))

# Where a callback sends the browser: {"href", "replace"} → history push (or replace) in the browser.
NAVIGATE = Output("nav-to", "data", allow_duplicate=True)


def token_of(session: dict[str, Any] | None) -> str | None:
    return (session or {}).get("token") or None


def signed_out(session: dict[str, Any] | None, exc: ApiError) -> Any:
    """The session to store after a failed call: cleared with a notice on 401 (marked `expired`, so that a
    browser holding the refresh cookie gets a new token silently), else unchanged."""
    if isinstance(exc, AuthExpired):
        return {"token": None, "notice": exc.message, "expired": True}
    return no_update


def url_write(current: str | None, pathname: str | None, search: str) -> tuple[Any, Any]:
    """The URL_WRITE values that put `search` in the address bar of `pathname`; nothing when it is there."""
    if (current or "") == search:
        return no_update, no_update
    return search, {"pathname": pathname, "search": search}


def download(content: str, filename: str, mime: str) -> dict[str, Any]:
    """What a dcc.Download's `data` takes to save `content` as `filename` (dcc.send_string, typed)."""
    return {"content": content, "filename": filename, "type": mime, "base64": False}


def navigate(href: str, *, replace: bool = False) -> dict[str, Any]:
    """The NAVIGATE value that opens `href` (replace: instead of the current history entry)."""
    return {"href": href, "replace": replace, "at": time.time()}


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
        path = path[len(prefix) :]
    elif path + "/" == prefix:
        path = ""
    path = path.strip("/")
    head, _, rest = path.partition("/")
    return head, unquote(rest)
