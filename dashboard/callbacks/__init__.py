"""Dash callbacks: each reads the token from the browser session, calls the REST API through
ApiClient, and turns the answer (or the failure) into components. A 401 renews the token with the
refresh cookie when the browser has one, else signs the browser out with a notice, so an expired
token leads straight back to the sign-in form.

One module per feature, each with a `register_*(app, client)`; `register` calls them all, once."""

from __future__ import annotations

import dash

from dashboard.callbacks.common import (
    SESSION_OUT,
    fired_by_person,
    next_run,
    parse_time,
    route,
    signed_out,
    token_of,
)
from dashboard.callbacks.lineage import register_lineage
from dashboard.callbacks.navigation import register_navigation
from dashboard.callbacks.query import register_query
from dashboard.callbacks.router import register_router
from dashboard.callbacks.session import register_session
from dashboard.callbacks.stats import register_stats
from dashboard.callbacks.trace_flow import register_node_panel, register_trace_flow
from dashboard.callbacks.traces import RANGES, register_traces_list
from dashboard.callbacks.viewport import register_viewport
from dashboard.client import ApiClient

__all__ = [
    "RANGES",
    "SESSION_OUT",
    "fired_by_person",
    "next_run",
    "parse_time",
    "register",
    "route",
    "signed_out",
    "token_of",
]


def register(app: dash.Dash, client: ApiClient) -> None:
    """Every callback of the dashboard on `app`, reading the API through `client`. Dash takes each
    output once (later ones only with allow_duplicate), so this runs once per app."""
    register_session(app, client)
    register_router(app, client)
    register_navigation(app, client)
    register_traces_list(app, client)
    register_trace_flow(app, client)
    register_node_panel(app, client)
    register_lineage(app, client)
    register_query(app, client)
    register_stats(app, client)
    register_viewport(app)
