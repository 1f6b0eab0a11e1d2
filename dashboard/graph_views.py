"""HTML around the two graphs: the trace header (summary, this trace's drops, its own log), the node list
under the picture, the side panel of a clicked node, and the lineage's list of traces.

Rows and drop reasons that point into the graph carry `data-graph` and `data-select` (element ids, one a
line); the browser selects and shows those nodes on click (callbacks/viewport.py). Every link to a key
percent-encodes it as one path segment or query value, so keys with '/' or '%' go through intact.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dash import dcc, html

from dashboard.elements import View, drop_text
from dashboard.links import Href, lineage_href, trace_href
from dashboard.views import SUMMARY_COLUMNS, short_time, status_badge

NODE_LIST_PAGE = 300  # rows drawn at first; "Show all" draws the rest
LISTED_KINDS = ("file", "data", "sink", "external")


def selects(graph_id: str, ids: Iterable[str], *, tap: bool = False) -> dict[str, Any]:
    """Attributes that make an element select `ids` in the graph when clicked (and open the panel if `tap`)."""
    attrs: dict[str, Any] = {"data-graph": graph_id, "data-select": "\n".join(ids)}
    return {**attrs, "data-tap": "1"} if tap else attrs


# -- trace header -------------------------------------------------------------------------------


def trace_header(trace: dict[str, Any], view: View) -> html.Div:
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
            html.Div(id="drop-reasons", children=drop_reasons(s.get("drop_reasons") or {}, view)),
            trace_log(trace.get("log_messages") or []),
        ],
    )


def drop_reasons(reasons: dict[str, int], view: View) -> list[html.Div]:
    """One line per reason this trace's events gave; a click selects the files it dropped for that reason."""
    dropped: dict[str, list[str]] = {}
    for e in view.nodes():
        d = e["data"]
        if d.get("dropped_here") and d["kind"] != "drop":
            dropped.setdefault(str(d.get("drop_reason") or d.get("code") or "unknown"), []).append(d["id"])
    lines = []
    for reason, n in reasons.items():
        ids = dropped.get(reason, [])
        attrs = selects("trace-graph", ids) if ids else {}
        title = "select these nodes in the graph" if ids else "not drawn in this view"
        lines.append(html.Div(f"Dropped: {reason} (×{n})", className="drop-reason", title=title, **attrs))
    return lines


def trace_log(messages: list[dict[str, Any]]) -> html.Details | None:
    """The trace's own log lines (logs about no node), oldest first, coloured by level."""
    if not messages:
        return None
    levels = {m.get("level") for m in messages}
    rows = [
        html.Tr(
            [html.Td(short_time(m.get("time"))), html.Td(m.get("level") or ""), html.Td(m.get("message") or "")],
            className=f"log-{m.get('level') or 'info'}",
        )
        for m in messages
    ]
    return html.Details(
        [
            html.Summary(f"Trace log ({len(messages)} messages)"),
            html.Div(className="trace-logs", children=html.Table(html.Tbody(rows), className="grid")),
        ],
        id="trace-log",
        open=bool(levels & {"warn", "error"}),
    )


def view_info(view: View) -> str:
    text = f"{view.shown} of {view.total} nodes drawn"
    if view.groups:
        text += f"; {len(view.groups)} large fan-out(s) grouped — click a “+N more” node to expand it"
    return text


# -- the node list ------------------------------------------------------------------------------


def node_list(view: View, limit: int | None = NODE_LIST_PAGE) -> html.Div:
    """The drawn nodes as text (this trace's drops first); a click on a row selects the node in the graph."""
    nodes = [e["data"] for e in view.nodes() if e["data"]["kind"] in LISTED_KINDS]
    nodes.sort(key=lambda d: not d.get("dropped_here"))
    shown = nodes if limit is None else nodes[:limit]
    rows = [
        html.Tr(
            [
                html.Td(d.get("key") or ""),
                html.Td(d["kind"]),
                html.Td(d.get("status") or ""),
                html.Td(_drop_cell(d)),
            ],
            **selects("trace-graph", [d["id"]], tap=True),
        )
        for d in shown
    ]
    table = html.Table(
        [
            html.Thead(html.Tr([html.Th("Key"), html.Th("Kind"), html.Th("Status"), html.Th("Drop reason")])),
            html.Tbody(rows),
        ],
        className="grid",
        id="node-list-table",
    )
    more = len(nodes) - len(shown)
    footer: list[Any] = [html.Span(f"{len(shown)} of {len(nodes)} nodes listed. ", className="muted")]
    if more > 0:
        footer.append(html.Button(f"Show the other {more}", id="trace-list-all", n_clicks=0))
    return html.Div([html.Div(className="node-list", children=table), html.Div(footer)])


def _drop_cell(d: dict[str, Any]) -> str:
    if d.get("dropped_here"):
        return drop_text(d)
    return "dropped by another trace" if d.get("status") == "dropped" else ""


# -- the side panel -----------------------------------------------------------------------------


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
    key = str(node["key"])
    logs = detail.get("logs") or []
    events = detail.get("events") or []
    log_counts = node.get("logs") or {}
    trace = node.get("trace")
    parts: list[Any] = [
        html.H3(
            [f"{key} ", html.Span(f"({node.get('kind')})", className="muted"), " ", status_badge(node.get("status"))]
        ),
    ]
    if node.get("status") == "dropped":
        parts.append(html.Div(f"Dropped: {drop_text(node)}", className="drop-reason", id="panel-drop-reason"))
    parts.append(
        _kv(
            [
                ("key", key),
                ("kind", node.get("kind")),
                ("name", node.get("name")),
                ("status", node.get("status")),
                ("reason", node.get("reason")),
                ("code", node.get("code")),
                (
                    "trace",
                    dcc.Link(str(trace), href=trace_href(href, str(trace), key), id="panel-trace") if trace else None,
                ),
                ("user", node.get("user")),
                ("first", short_time(node.get("first_at"))),
                ("last", short_time(node.get("last_at"))),
                ("logs", " · ".join(f"{k} {v}" for k, v in log_counts.items() if v)),
            ]
        )
    )
    parts.append(dcc.Link("Explore its lineage →", href=lineage_href(href, key), id="panel-lineage"))
    parts.append(html.H3(f"Logs ({len(logs)})"))
    if logs:
        rows = [
            html.Tr(
                [html.Td(short_time(lg.get("time"))), html.Td(lg.get("level") or ""), html.Td(lg.get("message") or "")],
                className=f"log-{lg.get('level') or 'info'}",
            )
            for lg in sorted(logs, key=lambda lg: lg.get("time") or "")
        ]
        parts.append(html.Table([html.Tbody(rows)], className="grid", id="panel-logs"))
    else:
        parts.append(html.Div("No logs for this node.", className="muted"))
    parts.append(html.H3(f"Events ({len(events)})"))
    if events:
        rows = [
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
        parts.append(html.Table([html.Tbody(rows)], className="grid", id="panel-events"))
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


def group_panel(group: dict[str, Any], href: Href) -> html.Div:
    """The panel of a lineage box: which trace it is, and the way to its page."""
    trace = str(group["key"])
    return html.Div(
        [
            html.H3(f"trace {trace}"),
            dcc.Link(f"Open trace {trace} →", href=trace_href(href, trace), id="panel-trace"),
        ]
    )


# -- lineage ------------------------------------------------------------------------------------


def lineage_traces(view: View, href: Href) -> html.Div:
    """The traces the lineage crosses, each with its box's tint and a link to its page."""
    groups = [e["data"] for e in view.nodes() if e["data"]["kind"] == "group"]
    count: dict[str, int] = {}
    for e in view.nodes():
        parent = e["data"].get("parent")
        if parent and e["data"]["kind"] != "drop":
            count[parent] = count.get(parent, 0) + 1
    items: list[Any] = [html.Span("Traces:", className="muted")] if groups else []
    for g in groups:
        n = count.get(g["id"], 0)
        items.append(
            html.Span(
                [
                    html.Span(className="swatch", style={"background": g["tint"]}),
                    dcc.Link(f"trace {g['key']}", href=trace_href(href, str(g["key"]))),
                    html.Span(f" ({n} node{'s' if n != 1 else ''})", className="muted"),
                ]
            )
        )
    return html.Div(items, className="trace-groups", id="lineage-traces")
