"""The dashboard's URLs and view state, without a browser: keys with '/' survive a trace URL, a list's
filters survive its query string, and the exports say what the tables show."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlsplit

import pytest
from dash import no_update

from dashboard.callbacks.common import route, url_write
from dashboard.callbacks.traces import time_window
from dashboard.links import key_path, search_path, trace_path
from dashboard.tables import is_key_column, query_csv, query_json, sorted_items, traces_csv
from dashboard.viewstate import TracesView, query_of

KEYS = ["s3://bucket/in/2026/12/01/orders.csv", "landing/partner-a/file with space.csv", "ünï/100%.csv", "a?b#c"]


@pytest.mark.parametrize("key", KEYS)
def test_a_key_with_slashes_comes_back_whole_from_its_trace_url(key: str) -> None:
    path = "/dashboard" + trace_path("nightly/2026-12-01", node=key)
    parts = urlsplit(path)  # what location.pathname / location.search hold
    assert route(parts.path, "/dashboard/") == ("traces", "nightly/2026-12-01")
    assert query_of(parts.query) == {"node": key}
    assert route("/dashboard" + key_path(key), "/dashboard/") == ("key", key)


def test_every_key_is_one_path_segment() -> None:
    assert trace_path("s3://b/x.csv") == "/traces/s3%3A%2F%2Fb%2Fx.csv"
    assert search_path("s3://b/") == "/search?q=s3%3A%2F%2Fb%2F"


def test_the_plain_list_has_no_query_string_and_a_filtered_one_round_trips() -> None:
    assert TracesView().search() == ""
    view = TracesView(q="nightly", has_drops="true", status="ended", limit=100, sort="dropped", desc=True)
    assert view.search() == "?q=nightly&status=ended&has_drops=true&limit=100&sort=dropped&dir=desc"
    assert TracesView.from_search(view.search()) == view
    later = TracesView(range="custom", since="2026-01-01T00:00:00Z", cursor="abc", page=3)
    assert TracesView.from_search(later.search()) == later
    idle = TracesView(status="idle-ended")  # traces the batch app found idle (no trace.ended)
    assert idle.search() == "?status=idle-ended" and TracesView.from_search(idle.search()) == idle


def test_a_link_with_times_means_a_custom_range_and_nonsense_falls_back_to_defaults() -> None:
    view = TracesView.from_search("?since=2026-01-01T00:00:00Z")
    assert view.range == "custom" and view.since == "2026-01-01T00:00:00Z"
    odd = TracesView.from_search("?limit=7&status=maybe&has_drops=yes&sort=secret&page=x&range=1y")
    assert odd == TracesView()
    # a named range ignores the times typed for a custom one, so the URL does not carry them
    assert TracesView(range="24h", since="2026-01-01").search() == "?range=24h"


def test_named_ranges_ignore_since_and_until_and_custom_ones_check_them() -> None:
    since, until = time_window("24h", "garbage", "garbage")
    assert since and until is None
    assert time_window("", "garbage", None) == (None, None)
    with pytest.raises(ValueError, match="Until: 'yesterday' is not a time"):
        time_window("custom", None, "yesterday")


def test_a_column_title_sorts_then_reverses_then_stops_sorting() -> None:
    view = TracesView()
    by_drops = view.sorted_by("dropped")
    assert (by_drops.sort, by_drops.desc) == ("dropped", True)  # counts: most first
    assert by_drops.sorted_by("dropped").desc is False
    assert by_drops.sorted_by("dropped").sorted_by("dropped").sort == ""
    assert view.sorted_by("key").desc is False  # text: A to Z first
    items = [
        {"key": "b", "summary": {"dropped": 1}},
        {"key": "a", "summary": {"dropped": 3}},
        {"key": "c", "summary": {}},
    ]
    assert [i["key"] for i in sorted_items(items, by_drops)] == ["a", "b", "c"]
    assert [i["key"] for i in sorted_items(items, TracesView(sort="name"))] == ["b", "a", "c"]  # blanks stay last


def test_writing_the_url_it_already_has_changes_nothing() -> None:
    assert url_write("?q=a", "/dashboard/", "?q=a") == (no_update, no_update)
    assert url_write("", "/dashboard/", "?q=a") == ("?q=a", {"pathname": "/dashboard/", "search": "?q=a"})


def test_key_columns_of_cypher_results() -> None:
    assert all(is_key_column(c) for c in ("key", "n.key", "trace", "source", "target", "file_key"))
    assert not any(is_key_column(c) for c in ("status", "reason", "n.name", "count"))


def test_exports_hold_the_rows_as_shown() -> None:
    result = {
        "query": "MATCH …",
        "columns": ["key", "n"],
        "rows": [["s3://b/x.csv", {"key": "s3://b/x.csv", "status": "dropped"}], [None, 3]],
    }
    assert list(csv.reader(io.StringIO(query_csv(result)))) == [
        ["key", "n"],
        ["s3://b/x.csv", '{"key":"s3://b/x.csv","status":"dropped"}'],
        ["", "3"],
    ]
    body = json.loads(query_json(result))
    assert body["rows"][0]["n"]["status"] == "dropped" and body["query"] == "MATCH …"
    trace = {"key": "t/1", "user": "u", "summary": {"dropped": 2, "drop_reasons": {"bad header": 2}}}
    rows = list(csv.DictReader(io.StringIO(traces_csv([trace]))))
    assert rows[0]["key"] == "t/1" and rows[0]["dropped"] == "2" and rows[0]["drop_reasons"] == "bad header x2"
