"""API answers → HTML fragments: tables, summaries, errors and empty states (the graphs' panels and lists are
in graph_views.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from dash import html

from dashboard.client import ApiError
from dashboard.styles import LIGHT_TEXT, STATUS_COLOURS, STATUS_TEXT, TRACE_COLOUR

Href = Callable[[str], str]
SUMMARY_COLUMNS = ("files", "dropped", "unconverted", "data", "outputs")


def error(exc: ApiError | str) -> html.Div:
    message = exc.message if isinstance(exc, ApiError) else exc
    return html.Div(message, className="error", role="alert")


def empty(message: str | list[Any]) -> html.Div:
    return html.Div(message, className="empty")


def status_badge(status: str | None) -> html.Span:
    status = status or "unknown"
    if status in ("open", "ended"):
        return html.Span(status, className="status", style={"background": TRACE_COLOUR, "color": LIGHT_TEXT})
    known = status if status in STATUS_COLOURS else "unknown"
    return html.Span(
        status, className="status", style={"background": STATUS_COLOURS[known], "color": STATUS_TEXT[known]}
    )


def short_time(value: str | None) -> str:
    """'2026-01-01T09:00:03.000000Z' → '2026-01-01 09:00:03'"""
    if not value:
        return ""
    return value.replace("T", " ").split(".")[0].rstrip("Z")


# -- links ------------------------------------------------------------------------------------


def quote_key(key: str) -> str:
    return quote(key, safe="")
