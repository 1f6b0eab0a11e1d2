"""Serving the Dash (Flask, WSGI) app: mounted inside the all-in-one FastAPI app, or on its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from a2wsgi import WSGIMiddleware
from fastapi import FastAPI

from dashboard.app import create_dash

MOUNT_PATH = "/dashboard"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _with_full_path(wsgi: WSGIApp) -> WSGIApp:
    """Starlette's Mount moves "/dashboard" into SCRIPT_NAME; Dash routes on the full path, so put it back
    (one prefix setting then serves both the mounted and the stand-alone app)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["PATH_INFO"] = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        environ["SCRIPT_NAME"] = ""
        return wsgi(environ, start_response)

    return app


def mount(app: FastAPI, api_base: str, path: str = MOUNT_PATH) -> None:
    """Serve the dashboard at `path`/ inside `app`; it reads the API at `api_base` like any client."""
    dash_app = create_dash(api_base, f"{path}/")
    app.mount(path, WSGIMiddleware(_with_full_path(dash_app.server)), name="dashboard")  # type: ignore[arg-type]


def local_api_base(host: str, port: int) -> str:
    """The URL a process uses to reach its own API: a wildcard bind address is reached on loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def standalone(api_base: str, url_base_pathname: str = "/") -> WSGIMiddleware:
    """The dashboard alone as an ASGI app (for uvicorn)."""
    return WSGIMiddleware(create_dash(api_base, url_base_pathname).server)
