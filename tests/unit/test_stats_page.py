"""The Stats page without a browser: its view state survives the URL, a range becomes whole UTC windows,
fixed answers of GET /stats, /stats/summary and /insights (the API contract of #13) become the charts'
figures, the chips and the insights with their links, and failures become the page's error states."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import plotly.graph_objects as go
import pytest
from dash import dcc, html

from dashboard.callbacks.common import signed_out
from dashboard.callbacks.stats import load, span
from dashboard.client import ApiClient, AuthExpired
from dashboard.stats_charts import MAX_SERIES, OTHER, figures
from dashboard.stats_page import insights_panel, retention, summary_chips
from dashboard.stats_view import StatsView, window_starts

NOW = datetime(2026, 12, 1, 16, 37, 12, tzinfo=UTC)
SINCE, UNTIL = "2026-12-01T13:00:00Z", "2026-12-01T17:00:00Z"


def href(path: str) -> str:
    return "/dashboard" + path


def bucket(start: str, key: str | None = None, **measures: Any) -> dict[str, Any]:
    """A bucket of the contract: zeros except what `measures` gives (files=…, drops=…, lag_ms=…)."""
    b: dict[str, Any] = {
        "start": start,
        "end": start,  # not read by the page
        "key": key,
        "events": {},
        "files": {"received": 0, "stored": 0, "dropped": 0, "expired": 0, "deleted": 0, "unconverted": 0},
        "data_produced": 0,
        "outputs": 0,
        "drops": {},
        "logs": {"debug": 0, "info": 0, "warn": 0, "error": 0},
        "bytes": {"uploaded": 0, "stored": 0},
        "active": {"traces": 0, "users": 0},
        "duplicates": 0,
        "lag_ms": {"p50": None, "p95": None, "max": None},
    }
    for name, value in measures.items():
        b[name] = {**b[name], **value} if isinstance(value, dict) and name != "drops" else value
    return b


def answer(buckets: list[dict[str, Any]], by: str | None = None) -> dict[str, Any]:
    return {
        "window": "1h",
        "since": "2026-12-01T13:00:00.000000Z",
        "until": "2026-12-01T17:00:00.000000Z",
        "by": by,
        "buckets": buckets,
    }


TOTALS = answer(
    [
        bucket(
            "2026-12-01T13:00:00.000000Z",
            files={"received": 10, "stored": 9, "dropped": 3, "unconverted": 1},
            drops={"header row missing": 2, "checksum mismatch": 1},
            lag_ms={"p50": 120.0, "p95": 900.0, "max": 2500.0},
        ),
        # 14:00 had no events: the API leaves it out
        bucket(
            "2026-12-01T15:00:00.000000Z",
            files={"received": 4, "stored": 4, "dropped": 1},
            drops={"header row missing": 1},
            lag_ms={"p50": 80.0, "p95": 300.0, "max": 400.0},
        ),
    ]
)
BY_USER = answer(
    [
        bucket("2026-12-01T13:00:00Z", "team-7", files={"received": 7, "dropped": 3, "unconverted": 1}),
        bucket("2026-12-01T13:00:00Z", "etl", files={"received": 3}, lag_ms={"p50": 1.0, "p95": 2.0, "max": 3.0}),
        bucket("2026-12-01T15:00:00Z", "etl", files={"received": 4, "dropped": 1}),
    ],
    by="user",
)
SUMMARY = {
    "since": SINCE,
    "until": UNTIL,
    **{
        k: v
        for k, v in bucket("x", files={"received": 14, "stored": 13, "dropped": 4, "unconverted": 1}).items()
        if k not in ("start", "end", "key")
    },
    "lag_ms": {"p50": 100.0, "p95": 90_000.0, "max": 100_000.0},
    "active": {"traces": 3, "users": 2},
    "bytes": {"uploaded": 3 * 1024 * 1024, "stored": 1024},
}
INSIGHTS = {
    "stuck_files": [{"key": "s3://b/in/x.csv", "trace": "nightly/1", "since": "2026-12-01T15:00:00Z", "minutes": 97}],
    "drop_rate_anomalies": [
        {"by": "user", "key": "team-7", "rate": 0.5, "baseline": 0.05, "window_start": "2026-12-01T13:00:00Z"},
        {"by": "reason", "key": "checksum mismatch", "rate": 0.2, "baseline": 0.0, "window_start": SINCE},
    ],
    "top_drop_reasons": [{"reason": "header row missing", "count": 3}, {"reason": "it's 'quoted'", "count": 1}],
    "slowest_traces": [{"key": "A", "seconds": 4000.0, "status": "idle-ended"}],
    "retention_forecast": {
        "bytes": 1024**3,
        "limit_bytes": 10 * 1024**3,
        "bytes_per_day": 512 * 1024**2,
        "days_left": 18.0,
    },
}


def traces_of(figure: dict[str, Any]) -> dict[str, list[Any]]:
    return {t["name"]: t["y"] for t in figure["data"]}


# -- view state and ranges --------------------------------------------------------------------


def test_the_plain_page_has_no_query_string_and_a_chosen_view_round_trips() -> None:
    assert StatsView().search() == ""
    view = StatsView(window="15m", range="7d", by="user")
    assert view.search() == "?window=15m&range=7d&by=user"
    assert StatsView.from_search(view.search()) == view
    custom = StatsView(range="custom", since="2026-12-01T09:00Z", until="2026-12-01T12:00Z", by="reason")
    assert StatsView.from_search(custom.search()) == custom


def test_a_link_with_times_means_a_custom_range_and_nonsense_falls_back_to_defaults() -> None:
    assert StatsView.from_search("?since=2026-12-01T09:00Z") == StatsView(range="custom", since="2026-12-01T09:00Z")
    assert StatsView.from_search("?window=2h&range=1y&by=colour") == StatsView()
    # a named range ignores times typed for a custom one, so the URL does not carry them
    assert StatsView(range="6h", since="2026-12-01").search() == "?range=6h"


def test_a_named_range_is_whole_windows_ending_with_the_one_that_holds_now() -> None:
    assert span(StatsView(window="1h", range="6h"), NOW) == ("2026-12-01T10:00:00Z", "2026-12-01T17:00:00Z")
    assert span(StatsView(window="15m", range="24h"), NOW) == ("2026-11-30T16:30:00Z", "2026-12-01T16:45:00Z")
    assert span(StatsView(window="12h", range="7d"), NOW) == ("2026-11-24T12:00:00Z", "2026-12-02T00:00:00Z")


def test_a_custom_range_is_widened_to_whole_windows_and_checked() -> None:
    view = StatsView(window="30m", range="custom", since="2026-12-01T09:10Z", until="2026-12-01 10:05")
    assert span(view, NOW) == ("2026-12-01T09:00:00Z", "2026-12-01T10:30:00Z")
    open_end = StatsView(window="3h", range="custom", since="2026-12-01T00:00:00Z")
    assert span(open_end, NOW) == ("2026-12-01T00:00:00Z", "2026-12-01T18:00:00Z")
    with pytest.raises(ValueError, match="Until: 'yesterday' is not a time"):
        span(StatsView(range="custom", since="2026-12-01", until="yesterday"), NOW)
    with pytest.raises(ValueError, match="must come after"):
        span(StatsView(range="custom", since="2026-12-02", until="2026-12-01"), NOW)
    with pytest.raises(ValueError, match="needs a start"):
        span(StatsView(range="custom", until="2026-12-01"), NOW)


def test_every_window_of_a_range_is_on_the_axis_unless_there_are_too_many() -> None:
    assert window_starts(SINCE, UNTIL, "1h") == [f"2026-12-01T{h}:00:00Z" for h in (13, 14, 15, 16)]
    assert window_starts("2026-12-01T13:20:00Z", "2026-12-01T14:00:00Z", "30m") == [
        "2026-12-01T13:00:00Z",
        "2026-12-01T13:30:00Z",
    ]
    assert window_starts("2020-01-01T00:00:00Z", UNTIL, "15m") == []


# -- charts -----------------------------------------------------------------------------------


def test_files_drops_unconverted_and_lag_per_window_with_quiet_windows_as_zero_or_gaps() -> None:
    figs = figures(TOTALS, None, "", SINCE, UNTIL, "1h")
    assert list(figs) == ["stats-files", "stats-drops", "stats-unconverted", "stats-lag"]
    for fig in figs.values():
        go.Figure(fig)  # Plotly accepts every property as it is
        assert fig["data"][0]["x"] == [f"2026-12-01 {h}:00:00" for h in (13, 14, 15, 16)]
    assert traces_of(figs["stats-files"]) == {"received": [10, 0, 4, 0], "stored": [9, 0, 4, 0]}
    drops = figs["stats-drops"]
    assert drops["layout"]["barmode"] == "stack"
    assert traces_of(drops) == {"header row missing": [2, 0, 1, 0], "checksum mismatch": [1, 0, 0, 0]}
    assert traces_of(figs["stats-unconverted"]) == {"unconverted": [1, 0, 0, 0]}
    # lag in seconds; a window without events is a gap (percentiles are not 0 there)
    assert traces_of(figs["stats-lag"]) == {
        "p50": [0.12, None, 0.08, None],
        "p95": [0.9, None, 0.3, None],
        "max": [2.5, None, 0.4, None],
    }
    assert "annotations" not in drops["layout"]
    # every chart on the same axis, whole windows; small counts tick by whole numbers
    assert {tuple(f["layout"]["xaxis"]["range"]) for f in figs.values()} == {
        ("2026-12-01 13:00:00", "2026-12-01 17:00:00")
    }
    assert {f["layout"]["xaxis"]["dtick"] for f in figs.values()} == {3_600_000}  # 4 windows: a tick an hour
    assert figs["stats-unconverted"]["layout"]["yaxis"]["dtick"] == 1 and drops["layout"]["yaxis"]["dtick"] == 1
    assert "dtick" not in figs["stats-files"]["layout"]["yaxis"] and "dtick" not in figs["stats-lag"]["layout"]["yaxis"]


def test_a_split_by_user_stacks_each_chart_by_user_and_keeps_stored_as_the_total() -> None:
    figs = figures(TOTALS, BY_USER, "user", SINCE, UNTIL, "1h")
    files = figs["stats-files"]
    assert files["layout"]["title"]["text"] == "Files received, by user"
    assert traces_of(files) == {"team-7": [7, 0, 0, 0], "etl": [3, 0, 4, 0], "stored (all)": [9, 0, 4, 0]}
    assert traces_of(figs["stats-drops"]) == {"team-7": [3, 0, 0, 0], "etl": [0, 0, 1, 0]}
    assert traces_of(figs["stats-unconverted"]) == {"team-7": [1, 0, 0, 0], "etl": [0, 0, 0, 0]}
    assert traces_of(figs["stats-lag"]) == {"team-7": [None] * 4, "etl": [0.002, None, None, None]}


def test_a_user_has_one_colour_in_every_chart() -> None:
    figs = figures(TOTALS, BY_USER, "user", SINCE, UNTIL, "1h")

    def colours(graph_id: str) -> dict[str, str]:
        return {
            t["name"]: (t.get("marker") if t["type"] == "bar" else t["line"])["color"] for t in figs[graph_id]["data"]
        }

    files = colours("stats-files")
    assert files["team-7"] != files["etl"]
    for graph_id in ("stats-drops", "stats-unconverted", "stats-lag"):
        assert colours(graph_id) == {"team-7": files["team-7"], "etl": files["etl"]}, graph_id


def test_a_split_by_reason_draws_the_drops_from_the_reason_rollups() -> None:
    by_reason = answer(
        [bucket("2026-12-01T16:00:00Z", "E_SCHEMA", files={"dropped": 5}, drops={"E_SCHEMA": 5})], by="reason"
    )
    figs = figures(TOTALS, by_reason, "reason", SINCE, UNTIL, "1h")
    assert traces_of(figs["stats-drops"]) == {"E_SCHEMA": [0, 0, 0, 5]}
    assert traces_of(figs["stats-files"]) == {"received": [10, 0, 4, 0], "stored": [9, 0, 4, 0]}


def test_many_keys_keep_the_busiest_and_sum_the_rest_into_other() -> None:
    split = answer(
        [bucket(SINCE, f"user-{n:02d}", files={"received": n + 1}) for n in range(MAX_SERIES + 3)], by="user"
    )
    files = traces_of(figures(TOTALS, split, "user", SINCE, UNTIL, "1h")["stats-files"])
    assert list(files)[:2] == [f"user-{MAX_SERIES + 2:02d}", f"user-{MAX_SERIES + 1:02d}"]
    assert files[OTHER] == [1 + 2 + 3, 0, 0, 0]
    assert len(files) == MAX_SERIES + 2  # the busiest, other, and stored (all)


def test_lag_reads_in_minutes_or_hours_once_it_is_that_long() -> None:
    slow = answer([bucket(SINCE, lag_ms={"p50": 90_000.0, "p95": 150_000.0, "max": 300_000.0})])
    lag = figures(slow, None, "", SINCE, UNTIL, "1h")["stats-lag"]
    assert lag["layout"]["yaxis"]["title"]["text"] == "minutes"
    assert traces_of(lag)["p95"] == [2.5, None, None, None]
    late = answer([bucket(SINCE, lag_ms={"p50": 7_200_000.0, "p95": 9_000_000.0, "max": 9_000_000.0})])
    assert traces_of(figures(late, None, "", SINCE, UNTIL, "1h")["stats-lag"])["p95"] == [2.5, None, None, None]


def test_charts_without_drops_or_lag_say_so() -> None:
    quiet = answer([bucket(SINCE, files={"received": 2, "stored": 2})])
    figs = figures(quiet, None, "", SINCE, UNTIL, "1h")
    assert figs["stats-drops"]["layout"]["annotations"][0]["text"] == "no drops in this range"
    assert figs["stats-lag"]["layout"]["annotations"][0]["text"] == "no lag measured in this range"


# -- chips and insights -----------------------------------------------------------------------


def texts(component: Any) -> list[str]:
    """Every string in a component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [t for c in component for t in texts(c)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def links(component: Any) -> dict[str, str]:
    """{link text: href} of every dcc.Link in a component tree."""
    found: dict[str, str] = {}
    if isinstance(component, (list, tuple)):
        for c in component:
            found.update(links(c))
    elif isinstance(component, dcc.Link):
        found[str(component.children)] = str(component.href)
    elif getattr(component, "children", None) is not None:
        found.update(links(component.children))
    return found


def test_the_range_totals_become_chips_with_drops_marked() -> None:
    chips = {c.children: c.className for c in summary_chips(SUMMARY)}
    assert chips["received 14"] == "chip" and chips["dropped 4"] == "chip bad"
    assert {"unconverted 1", "traces 3", "users 2", "uploaded 3.0 MiB", "lag p50 0.1 s", "lag p95 1.5 min"} <= set(
        chips
    )


def test_insights_link_every_key_to_where_it_is_seen() -> None:
    panel = insights_panel(INSIGHTS, href)
    found = links(panel)
    assert found["s3://b/in/x.csv"] == "/dashboard/key/s3%3A%2F%2Fb%2Fin%2Fx.csv?kind=node"
    assert found["nightly/1"] == "/dashboard/traces/nightly%2F1?node=s3%3A%2F%2Fb%2Fin%2Fx.csv"
    assert found["A"] == "/dashboard/traces/A"
    user = urlsplit(found["team-7"])
    assert user.path == "/dashboard/" and parse_qs(user.query) == {
        "user": ["team-7"],
        "has_drops": ["true"],
        "range": ["24h"],
    }
    # a reason opens the Cypher console on the files dropped for it; one with a quote stays text
    cypher = parse_qs(urlsplit(found["header row missing"]).query)["q"][0]
    assert urlsplit(found["header row missing"]).path == "/dashboard/query"
    assert "n.reason = 'header row missing'" in cypher and "n.key AS key" in cypher
    assert "checksum mismatch" in found and "it's 'quoted'" not in found
    words = " ".join(texts(panel))
    assert "97 min" in words and "1.1 h" in words and "idle-ended" in words and "50.0 % (usually 5.0 %)" in words
    assert "about 18.0 days" in words


def test_empty_insights_say_there_is_nothing_to_worry_about() -> None:
    words = " ".join(texts(insights_panel({}, href)))
    assert "every file received has moved on" in words and "No drops." in words and "No forecast yet." in words
    no_limit = " ".join(texts(retention({"bytes": 10, "limit_bytes": None, "bytes_per_day": 1, "days_left": None})))
    assert "No size limit is set (FT_RETENTION_MAX_BYTES)" in no_limit


# -- the page's loads through the API ---------------------------------------------------------


def api(routes: dict[str, Any], seen: list[httpx.Request] | None = None) -> ApiClient:
    """An ApiClient whose API answers `routes` (path → JSON, or an int status with an error body)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        path = unquote(request.url.path).removeprefix("/api/v1")
        found = routes.get(path, 404)
        if isinstance(found, int):
            error = {"error": {"code": "not_found" if found == 404 else "unauthorized", "message": f"{path} said no"}}
            return httpx.Response(found, json=error)
        if callable(found):
            found = found(request)
        return httpx.Response(200, content=json.dumps(found))

    return ApiClient("http://api.test", transport=httpx.MockTransport(handle))


def graphs(shown_charts: Any) -> dict[str, dict[str, Any]]:
    return {g.id: g.figure for g in shown_charts if isinstance(g, dcc.Graph)}


def test_a_view_loads_whole_service_and_split_rollups_the_summary_and_the_insights() -> None:
    seen: list[httpx.Request] = []

    def stats(request: httpx.Request) -> dict[str, Any]:
        return BY_USER if request.url.params.get("by") == "user" else TOTALS

    client = api({"/stats": stats, "/stats/summary": SUMMARY, "/insights": INSIGHTS}, seen)
    shown = load(client, "tok", StatsView(window="1h", range="6h", by="user"), href, NOW)
    assert shown.failure is None and shown.message is None
    assert set(graphs(shown.charts)) == {"stats-files", "stats-drops", "stats-unconverted", "stats-lag"}
    assert "team-7" in traces_of(graphs(shown.charts)["stats-files"])
    assert any(c.children == "dropped 4" for c in shown.summary)
    assert "Stuck files" in texts(shown.insights)
    assert shown.range_info == "2026-12-01 10:00:00 – 2026-12-01 17:00:00 UTC, by 1 hour"
    asked = [(r.url.path, dict(r.url.params)) for r in seen]
    window = {"window": "1h", "since": "2026-12-01T10:00:00Z", "until": "2026-12-01T17:00:00Z"}
    assert asked == [
        ("/api/v1/stats", window),
        ("/api/v1/stats", {**window, "by": "user"}),
        ("/api/v1/stats/summary", {"since": window["since"], "until": window["until"]}),
        ("/api/v1/insights", {}),
    ]
    assert all(r.headers["Authorization"] == "Bearer tok" for r in seen)


def test_a_range_without_events_says_what_to_do() -> None:
    client = api({"/stats": answer([]), "/stats/summary": SUMMARY, "/insights": {}})
    shown = load(client, "tok", StatsView(), href, NOW)
    words = " ".join(texts(shown.charts))
    assert isinstance(shown.charts, html.Div) and shown.charts.id == "stats-empty"
    assert "No events in this range (2026-11-30 16:00:00 – 2026-12-01 17:00:00 UTC)" in words
    assert "POST /api/v1/events" in words and "ftel demo" in words
    assert shown.summary == []


def test_a_failed_call_shows_as_the_other_pages_show_errors_and_the_rest_still_loads() -> None:
    shown = load(api({"/insights": INSIGHTS}), "tok", StatsView(), href, NOW)
    assert shown.message.className == "error" and "/stats said no" in shown.message.children
    assert shown.charts is None and "Stuck files" in texts(shown.insights)
    no_insights = load(api({"/stats": TOTALS, "/stats/summary": SUMMARY}), "tok", StatsView(), href, NOW)
    assert no_insights.message is None and len(graphs(no_insights.charts)) == 4
    assert texts(no_insights.insights) == ["Insights: /insights said no"]


def test_an_expired_token_signs_the_browser_out_and_a_bad_time_asks_for_a_good_one() -> None:
    shown = load(api({"/stats": 401, "/insights": 401}), "tok", StatsView(), href, NOW)
    assert isinstance(shown.failure, AuthExpired)
    assert signed_out({"token": "tok"}, shown.failure)["expired"] is True
    typo = load(api({}), "tok", StatsView(range="custom", since="noon"), href, NOW)
    assert typo.message.className == "error" and "Since: 'noon' is not a time" in typo.message.children
    assert typo.charts is None and typo.failure is None
