"""API answers → HTML fragments: tables, the node panel, summaries, errors and empty states."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from dash import dcc, html

from dashboard.client import ApiError
from dashboard.elements import View, drop_text
from dashboard.styles import STATUS_COLOURS, TRACE_COLOUR

Href = Callable[[str], str]
SUMMARY_COLUMNS = ("files", "dropped", "unconverted", "data", "outputs")


def error(exc: ApiError | str) -> html.Div:
    message = exc.message if isinstance(exc, ApiError) else exc
    return html.Div(message, className="error", role="alert")


def empty(message: str | list[Any]) -> html.Div:
    return html.Div(message, className="empty")


def status_badge(status: str | None) -> html.Span:
    status = status or "unknown"
    colour = TRACE_COLOUR if status in ("open", "ended") else STATUS_COLOURS.get(status, STATUS_COLOURS["unknown"])
    return html.Span(status, className="status", style={"background": colour})


def short_time(value: str | None) -> str:
    """'2026-01-01T09:00:03.000000Z' → '2026-01-01 09:00:03'"""
    if not value:
        return ""
    return value.replace("T", " ").split(".")[0].rstrip("Z")


# -- links ------------------------------------------------------------------------------------


def quote_key(key: str) -> str:
    return quote(key, safe="")


# -- trace header and graph info --------------------------------------------------------------


def trace_header(trace: dict[str, Any]) -> html.Div:
    s = trace.get("summary") or {}
    chips = [
        html.Span(f"{c} {s.get(c, 0)}", className="chip" + (" bad" if c == "dropped" and s.get(c) else ""))
        for c in SUMMARY_COLUMNS
    ]
    logs = trace.get("logs") or {}
    chips.append(
        html.Span(
            "logs " + " · ".join(f"{lvl} {n}" for lvl, n in logs.items() if n) if any(logs.values()) else "no logs",
            className="chip",
        )
    )
    reasons = s.get("drop_reasons") or {}
    return html.Div(
        className="card",
        children=[
            html.H2(
                [
                    f"Trace {trace['key']} ",
                    status_badge(trace.get("status")),
                    html.Span(f"  {trace.get('name') or ''}", className="muted"),
                ]
            ),
            html.Div(
                className="muted",
                children=f"user {trace.get('user') or '—'} · first {short_time(trace.get('first_at'))} · "
                f"last {short_time(trace.get('last_at'))}",
            ),
            html.Div(className="chips", children=chips),
            html.Div(
                id="drop-reasons",
                children=[
                    html.Div(f"Dropped: {reason} (×{n})", className="drop-reason") for reason, n in reasons.items()
                ],
            ),
        ],
    )


def view_info(view: View) -> str:
    text = f"{view.shown} of {view.total} nodes drawn"
    if view.groups:
        text += f"; {len(view.groups)} large fan-out(s) grouped — click a “+N more” node to expand it"
    return text


NODE_LIST_MAX = 300  # rows; a longer HTML table costs more to render than the graph itself


def node_list(view: View) -> html.Div:
    """The drawn nodes as text (drops first), for reading and searching with the browser."""
    nodes = [e["data"] for e in view.nodes() if e["data"]["kind"] in ("file", "data", "sink", "external")]
    nodes.sort(key=lambda d: d.get("status") != "dropped")
    rows = [
        html.Tr(
            [
                html.Td(d.get("key") or ""),
                html.Td(d["kind"]),
                html.Td(d.get("status") or ""),
                html.Td(drop_text(d) if d.get("status") == "dropped" else ""),
            ]
        )
        for d in nodes[:NODE_LIST_MAX]
    ]
    table = html.Table(
        [
            html.Thead(html.Tr([html.Th("Key"), html.Th("Kind"), html.Th("Status"), html.Th("Drop reason")])),
            html.Tbody(rows),
        ],
        className="grid",
    )
    more = len(nodes) - NODE_LIST_MAX
    note = html.Div(f"… and {more} more: query them in the Cypher console.", className="muted") if more > 0 else None
    return html.Div([table, note])


# -- node panel -------------------------------------------------------------------------------


def panel_hint() -> html.Div:
    return html.Div("Click a node to see its attributes, events and logs.", className="muted")


def _kv(pairs: Iterable[tuple[str, Any]]) -> html.Dl:
    items: list[Any] = []
    for k, v in pairs:
        if v in (None, "", {}):
            continue
        items += [html.Dt(k), html.Dd(v if not isinstance(v, (dict, list)) else str(v))]
    return html.Dl(items, className="kv")


def node_panel(detail: dict[str, Any], href: Href) -> html.Div:
    node = detail["node"]
    logs = detail.get("logs") or []
    events = detail.get("events") or []
    log_counts = node.get("logs") or {}
    parts: list[Any] = [
        html.H3(
            [
                f"{node['key']} ",
                html.Span(f"({node.get('kind')})", className="muted"),
                " ",
                status_badge(node.get("status")),
            ]
        ),
    ]
    if node.get("status") == "dropped":
        parts.append(html.Div(f"Dropped: {drop_text(node)}", className="drop-reason", id="panel-drop-reason"))
    parts.append(
        _kv(
            [
                ("key", node.get("key")),
                ("kind", node.get("kind")),
                ("name", node.get("name")),
                ("status", node.get("status")),
                ("reason", node.get("reason")),
                ("code", node.get("code")),
                ("trace", node.get("trace")),
                ("user", node.get("user")),
                ("first", short_time(node.get("first_at"))),
                ("last", short_time(node.get("last_at"))),
                ("logs", " · ".join(f"{k} {v}" for k, v in log_counts.items() if v)),
            ]
        )
    )
    parts.append(
        dcc.Link("Explore its lineage →", href=href(f"/lineage?key={quote_key(str(node['key']))}&direction=both"))
    )
    parts.append(html.H3(f"Logs ({len(logs)})"))
    if logs:
        parts.append(
            html.Table(
                [
                    html.Tbody(
                        [
                            html.Tr(
                                [
                                    html.Td(short_time(lg.get("time"))),
                                    html.Td(lg.get("level") or ""),
                                    html.Td(lg.get("message") or ""),
                                ],
                                className=f"log-{lg.get('level') or 'info'}",
                            )
                            for lg in sorted(logs, key=lambda lg: lg.get("time") or "")
                        ]
                    )
                ],
                className="grid",
                id="panel-logs",
            )
        )
    else:
        parts.append(html.Div("No logs for this node.", className="muted"))
    parts.append(html.H3(f"Events ({len(events)})"))
    if events:
        parts.append(
            html.Table(
                [
                    html.Tbody(
                        [
                            html.Tr(
                                [
                                    html.Td(short_time(ev.get("time"))),
                                    html.Td(ev.get("type") or ""),
                                    html.Td(ev.get("role") or ""),
                                    html.Td(_event_summary(ev.get("event") or {})),
                                ]
                            )
                            for ev in sorted(events, key=lambda ev: ev.get("time") or "")
                        ]
                    )
                ],
                className="grid",
                id="panel-events",
            )
        )
    else:
        parts.append(html.Div("No events recorded for this node.", className="muted"))
    return html.Div(parts)


def _event_summary(event: dict[str, Any]) -> str:
    bits = []
    if event.get("op"):
        bits.append(f"op={event['op']}")
    for side in ("inputs", "outputs"):
        if event.get(side):
            bits.append(f"{side}=" + ",".join(str(n.get("key")) for n in event[side]))
    for name in ("reason", "code", "message"):
        if event.get(name):
            bits.append(f"{name}={event[name]}")
    return " ".join(bits)


def trace_panel(trace: dict[str, Any]) -> html.Div:
    s = trace.get("summary") or {}
    return html.Div(
        [
            html.H3([f"trace({trace['key']}) ", status_badge(trace.get("status"))]),
            _kv(
                [
                    ("key", trace.get("key")),
                    ("name", trace.get("name")),
                    ("user", trace.get("user")),
                    ("first", short_time(trace.get("first_at"))),
                    ("last", short_time(trace.get("last_at"))),
                    *[(c, str(s.get(c, 0))) for c in SUMMARY_COLUMNS],
                    ("logs", " · ".join(f"{k} {v}" for k, v in (trace.get("logs") or {}).items() if v)),
                ]
            ),
        ]
    )
