"""The trace explorer: a Dash + dash-cytoscape app that reads the REST API only (never the stores).

`create_dash(api_base, url_base_pathname)` builds it; `mount(app, api_base)` serves it at /dashboard/
inside the all-in-one FastAPI app; `ftel dashboard` serves it on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dash
    from fastapi import FastAPI


def create_dash(api_base: str, url_base_pathname: str = "/") -> dash.Dash:
    from dashboard.app import create_dash as create

    return create(api_base, url_base_pathname)


def mount(app: FastAPI, api_base: str, **kw: Any) -> None:
    from dashboard.serving import mount as mount_dash

    mount_dash(app, api_base, **kw)
