"""API answers → the tables of the traces list, the Cypher console and the key search, where every key
is a link to where it can be seen; and the same rows as CSV / JSON for export."""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson
from dash import dcc, html

from dashboard.links import Href, key_href, trace_href
from dashboard.views import empty, short_time, status_badge
from dashboard.viewstate import TracesView

SUMMARY_COLUMNS = ("files", "dropped", "unconverted", "data", "outputs")
TRACE_COLUMNS = (
    ("key", "Trace"),
    ("name", "Name"),
    ("user", "User"),
    ("status", "Status"),
    ("first_at", "First"),
    ("last_at", "Last"),
    *[(c, c.capitalize()) for c in SUMMARY_COLUMNS],
)
KEY_COLUMNS = {"key", "trace", "source", "target", "node", "file", "input", "output"}


# -- traces list ------------------------------------------------------------------------------


def sort_value(item: dict[str, Any], column: str) -> tuple[int, Any]:
    """A sort key that puts blanks last and compares numbers as numbers."""
    value = (item.get("summary") or {}).get(column, 0) if column in SUMMARY_COLUMNS else item.get(column)
    return (value is None or value == "", value if value is not None else "")


def sorted_items(items: list[dict[str, Any]], view: TracesView) -> list[dict[str, Any]]:
    if not view.sort:
        return items
    blanks = [i for i in items if sort_value(i, view.sort)[0]]
    rest = [i for i in items if not sort_value(i, view.sort)[0]]
    return sorted(rest, key=lambda i: sort_value(i, view.sort)[1], reverse=view.desc) + blanks


def traces_table(items: list[dict[str, Any]], view: TracesView, href: Href) -> html.Div | html.Table:
    if not items:
        if view.filtered():
            return empty("No trace matches these filters. Clear the search or widen the time range.")
        return empty(
            [
                "No traces yet. Send telemetry to POST /api/v1/events, or run ",
                html.Code("ftel demo"),
                " to send the seed scenario.",
            ]
        )
    head = html.Tr([_sort_header(column, title, view) for column, title in TRACE_COLUMNS] + [html.Th("Drop reasons")])
    return html.Table(
        [html.Thead(head), html.Tbody([_trace_row(t, href) for t in sorted_items(items, view)])],
        className="grid compact",
        id="traces-grid",
    )


def _sort_header(column: str, title: str, view: TracesView) -> html.Th:
    arrow = (" ▼" if view.desc else " ▲") if view.sort == column else ""
    return html.Th(
        html.Button(
            title + arrow,
            id={"type": "traces-sort", "col": column},
            n_clicks=0,
            className="sort",
            title=f"sort this page by {title.lower()}",
        ),
        className="num" if column in SUMMARY_COLUMNS else None,
    )


def _trace_row(t: dict[str, Any], href: Href) -> html.Tr:
    s = t.get("summary") or {}
    reasons = s.get("drop_reasons") or {}
    dropped = bool(s.get("dropped")) or bool(t.get("has_drops"))
    return html.Tr(
        [
            html.Td(dcc.Link(t["key"], href=trace_href(href, t["key"]), className="trace-link")),
            html.Td(t.get("name") or ""),
            html.Td(t.get("user") or ""),
            html.Td(status_badge(t.get("status"))),
            html.Td(short_time(t.get("first_at")), className="time"),
            html.Td(short_time(t.get("last_at")), className="time"),
            *[
                html.Td(str(s.get(c, 0)), className="num" + (" bad" if c == "dropped" and s.get(c) else ""))
                for c in SUMMARY_COLUMNS
            ],
            html.Td("; ".join(f"{r} ×{n}" for r, n in reasons.items()), className="reasons"),
        ],
        className="has-drops" if dropped else None,
    )


def traces_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", "name", "user", "status", "first_at", "last_at", *SUMMARY_COLUMNS, "drop_reasons"])
    for t in items:
        s = t.get("summary") or {}
        reasons = "; ".join(f"{r} x{n}" for r, n in (s.get("drop_reasons") or {}).items())
        writer.writerow(
            [t.get("key"), t.get("name") or "", t.get("user") or "", t.get("status") or ""]
            + [t.get("first_at") or "", t.get("last_at") or ""]
            + [s.get(c, 0) for c in SUMMARY_COLUMNS]
            + [reasons]
        )
    return out.getvalue()


# -- Cypher -----------------------------------------------------------------------------------


def is_key_column(name: str) -> bool:
    """Columns whose values are keys: key, trace, source, target… and anything named *key / *_key."""
    last = name.rsplit(".", 1)[-1].lower()
    return last in KEY_COLUMNS or last.endswith("key")


def query_table(result: dict[str, Any], href: Href) -> html.Div:
    columns, rows = result.get("columns") or [], result.get("rows") or []
    note = f"{len(rows)} row(s)"
    if result.get("truncated"):
        note += f" — truncated at the server's limit of {result.get('row_limit')} rows"
    if not rows:
        return html.Div([html.Div(note, className="muted", id="query-note"), empty("The query returned no rows.")])
    keyed = [is_key_column(str(c)) for c in columns]
    table = html.Table(
        [
            html.Thead(html.Tr([html.Th(c) for c in columns])),
            html.Tbody([html.Tr([_cell(v, k, href) for v, k in zip(row, keyed, strict=False)]) for row in rows]),
        ],
        className="grid compact",
        id="query-table",
    )
    return html.Div([html.Div(note, className="muted", id="query-note"), html.Div(table, className="table-scroll")])


def _cell(value: Any, keyed: bool, href: Href) -> html.Td:
    if keyed and isinstance(value, str) and value:
        return html.Td(dcc.Link(value, href=key_href(href, value), className="key-link"))
    if isinstance(value, dict) and isinstance(value.get("key"), str):
        # a whole node: its key opens it, the rest stays readable as JSON
        return html.Td(
            [dcc.Link(value["key"], href=key_href(href, value["key"]), className="key-link"), " ", cell_text(value)]
        )
    return html.Td(cell_text(value))


def cell_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def query_csv(result: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(result.get("columns") or [])
    for row in result.get("rows") or []:
        writer.writerow(["" if v is None else v if isinstance(v, (str, int, float)) else cell_text(v) for v in row])
    return out.getvalue()


def query_json(result: dict[str, Any]) -> str:
    """The rows as a list of objects keyed by column, with the query that produced them."""
    columns = result.get("columns") or []
    rows = [dict(zip(columns, row, strict=False)) for row in result.get("rows") or []]
    body = {"query": result.get("query"), "columns": columns, "rows": rows, "truncated": bool(result.get("truncated"))}
    return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()


# -- key search -------------------------------------------------------------------------------


def kind_label(kind: str | None) -> html.Span:
    return html.Span(kind or "?", className=f"kind kind-{kind or 'unknown'}")


def search_results(items: list[dict[str, Any]], href: Href, limit: int) -> html.Div:
    if not items:
        return empty("No trace, file, data or sink key starts with that.")
    rows = [
        html.Tr(
            [
                html.Td(dcc.Link(i["key"], href=item_href(href, i), className="key-link")),
                html.Td(kind_label(i.get("kind"))),
            ]
        )
        for i in items
    ]
    more = html.Div(f"The first {limit} matches are shown: type more of the key.", className="muted")
    return html.Div(
        [
            html.Table(
                [html.Thead(html.Tr([html.Th("Key"), html.Th("Kind")])), html.Tbody(rows)],
                className="grid compact",
                id="search-results",
            ),
            more if len(items) >= limit else None,
        ]
    )


def item_href(href: Href, item: dict[str, Any]) -> str:
    """Where a search hit opens: a trace its page, a node its trace's page with it selected."""
    if item.get("kind") == "trace":
        return trace_href(href, item["key"])
    return key_href(href, item["key"], "node")
