"""Where each thing lives in the dashboard: the app-relative URL of a trace, a node, any key, a search.

A key is one path segment however many '/' it holds: quoted with nothing safe, so `s3://b/in/x.csv`
becomes `s3%3A%2F%2Fb%2Fin%2Fx.csv`. The browser keeps that encoding in `location.pathname`, and
`route()` (callbacks/common.py) unquotes it once, so the key comes back intact.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

Href = Callable[[str], str]  # app-relative path → URL under the dashboard's prefix

NODE_KINDS = ("file", "data", "sink", "external")


def quote_key(key: str) -> str:
    return quote(key, safe="")


def trace_path(trace_key: str, node: str | None = None) -> str:
    """/traces/<key>, with ?node=<key> to open it with that node selected."""
    path = f"/traces/{quote_key(trace_key)}"
    return f"{path}?{urlencode({'node': node})}" if node else path


def key_path(key: str, kind: str | None = None) -> str:
    """/key/<key>: any key, resolved by the router to its trace page (a node opens selected there).
    `kind` ("trace" or "node") says which to look up first when a trace and a node share the key."""
    path = f"/key/{quote_key(key)}"
    return f"{path}?{urlencode({'kind': kind})}" if kind else path


def search_path(q: str) -> str:
    return f"/search?{urlencode({'q': q})}"


def lineage_path(key: str, direction: str = "both") -> str:
    return f"/lineage?{urlencode({'key': key, 'direction': direction})}"


def trace_href(href: Href, trace_key: str, node: str | None = None) -> str:
    return href(trace_path(trace_key, node))


def key_href(href: Href, key: str, kind: str | None = None) -> str:
    return href(key_path(key, kind))


def search_href(href: Href, q: str) -> str:
    return href(search_path(q))


def lineage_href(href: Href, key: str, direction: str = "both") -> str:
    return href(lineage_path(key, direction))
