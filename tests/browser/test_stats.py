"""The Stats page in a real headless Chromium against a real `ftel serve` whose batch jobs run every second:
the seed scenario and a few traces with drops are rolled up, and the page's charts hold what GET /stats
answers (read from each Plotly figure in the page), the insights link to their pages, the view (window,
range, split) lives in the URL, and an empty range or a bad time says what to do. Screenshot:
test-artifacts/stats-page.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from backend.demo import seed_events
from tests.browser.chromium import chromium, missing
from tests.browser.test_dashboard import ARTIFACTS, by_id, choose, settled, text_of, type_into, until
from tests.conftest import ADMIN, Api, Server, wait_for

pytestmark = pytest.mark.timeout(300)

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
SEED_AT = NOW - timedelta(hours=2)  # the seed scenario, 2 h ago: inside the last 6 hours
DROPS_AT = NOW - timedelta(minutes=70)
DROP_TRACES = ("D1", "D2", "D3")
SCHEMA = "schema mismatch: column qty missing"
SEED_REASONS = {"header row missing (see log)": 1, "checksum mismatch (see log)": 1}
STUCK_TRACE, STUCK_FILE = "S", "s3://bucket/in/stuck.csv"
RECEIVED = 3 + 2 * len(DROP_TRACES) + 1  # A's three, two per D trace, the stuck one
STORED = 3 + len(DROP_TRACES)
GRAPHS = ("stats-files", "stats-drops", "stats-unconverted", "stats-lag")

# What a Plotly figure in the page holds: each trace's name, x and y, the title and any annotation.
FIGURE_JS = """
const el = document.getElementById(arguments[0]);
const plot = el && (el.classList.contains('js-plotly-plot') ? el : el.querySelector('.js-plotly-plot'));
if (!plot || !plot.data || !plot.layout) { return null; }
return {title: plot.layout.title && plot.layout.title.text,
        annotations: (plot.layout.annotations || []).map(a => a.text),
        data: plot.data.map(t => ({name: t.name, type: t.type, x: t.x, y: t.y}))};
"""


def at(moment: datetime, seconds: int = 0) -> str:
    return (moment + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def drop_trace(key: str) -> list[dict[str, Any]]:
    """A trace of etl-user: one file stored and parsed, one dropped for SCHEMA."""
    ok, bad = {"kind": "file", "key": f"{key}-ok.csv"}, {"kind": "file", "key": f"{key}-bad.csv"}
    events = [
        {"type": "trace.started", "user": "etl-user", "attrs": {"name": f"import {key}"}},
        {"type": "file.received", "node": ok},
        {"type": "file.stored", "node": ok},
        {"type": "flow", "op": "parse", "inputs": [ok], "outputs": [{"kind": "data", "key": f"{key}-rows"}]},
        {"type": "file.received", "node": bad},
        {"type": "file.dropped", "node": bad, "reason": SCHEMA, "code": "E_SCHEMA"},
        {"type": "trace.ended"},
    ]
    return [{**e, "trace": key, "time": at(DROPS_AT, n)} for n, e in enumerate(events)]


def stuck_trace() -> list[dict[str, Any]]:
    """A file received 90 minutes ago that never moved on, in a trace that never ended."""
    return [
        {"type": "trace.started", "trace": STUCK_TRACE, "user": "etl-user", "time": at(NOW - timedelta(minutes=90))},
        {
            "type": "file.received",
            "trace": STUCK_TRACE,
            "node": {"kind": "file", "key": STUCK_FILE},
            "time": at(NOW - timedelta(minutes=90), 1),
        },
    ]


@pytest.fixture(scope="module")
def stats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, Any]]]:
    """The all-in-one server, its batch jobs every second, with the traces above rolled up; and GET /stats
    as the page will ask for it (15-minute windows over the last 6 hours)."""
    env = {
        **ADMIN,
        "FT_BATCH_INTERVAL_SECONDS": "1",
        "FT_STATS_UNCONVERTED_GRACE_SECONDS": "1",
        "FT_STUCK_MINUTES": "30",  # the stuck file waits 90 minutes; every other file moved on
    }
    srv = Server(env, "serve", tmp_path_factory.mktemp("stats"))
    try:
        api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        events = seed_events("A", start=SEED_AT) + [e for k in DROP_TRACES for e in drop_trace(k)] + stuck_trace()
        sent = api.post("/events", json=events)
        assert sent.status_code == 202, sent.text

        def rolled_up() -> dict[str, Any] | None:
            answer = api.get("/stats/summary", params={"since": at(NOW - timedelta(hours=6))})
            if answer.status_code != 200:
                return None
            files = answer.json()["files"]
            return answer.json() if files["received"] == RECEIVED and files["dropped"] == 5 else None

        assert wait_for(rolled_up, timeout=60), f"not rolled up: {api.get('/stats/summary').text}\n{srv.log()}"
        yield srv, rolled_up() or {}
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = missing()
    if reason:
        pytest.fail(reason, pytrace=False)
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as driver:
        yield driver


@pytest.fixture
def signed_in(browser: Any, stats_server: tuple[Server, dict[str, Any]]) -> Any:
    base = stats_server[0].base
    if "signed in as" not in text_of(browser, "account-info"):
        browser.get(f"{base}/dashboard/")
        until(browser, lambda: by_id(browser, "signin").is_displayed(), "the sign-in form")
        type_into(browser, "signin-client-id", ADMIN["FT_ADMIN_CLIENT_ID"])
        type_into(browser, "signin-secret", ADMIN["FT_ADMIN_CLIENT_SECRET"])
        by_id(browser, "signin-submit").click()
        until(browser, lambda: "signed in as test-admin" in text_of(browser, "account-info"), "signed-in state")
    return browser


def figure(driver: Any, graph_id: str) -> dict[str, Any] | None:
    return driver.execute_script(FIGURE_JS, graph_id)  # type: ignore[no-any-return]


def figures(driver: Any) -> dict[str, dict[str, Any]] | None:
    """Every chart of the page once all are drawn and no callback is running; None before."""
    found = {g: figure(driver, g) for g in GRAPHS}
    if not settled(driver) or any(f is None for f in found.values()):
        return None
    return found  # type: ignore[return-value]


def totals(fig: dict[str, Any]) -> dict[str, float]:
    """Each series' sum over the range."""
    return {t["name"]: sum(v for v in t["y"] if v is not None) for t in fig["data"]}


def open_stats(driver: Any, base: str, search: str = "") -> dict[str, dict[str, Any]]:
    driver.get(f"{base}/dashboard/stats{search}")
    return until(driver, lambda: figures(driver), f"the Stats charts of {search or 'the default view'}")  # type: ignore[no-any-return]


def query(driver: Any) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(driver.current_url).query).items()}


# -- the charts ---------------------------------------------------------------------------------


def test_the_charts_hold_the_rollups_per_window(signed_in: Any, stats_server: tuple[Server, dict[str, Any]]) -> None:
    driver, (srv, summary) = signed_in, stats_server
    api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    by_id(driver, "nav-stats").click()  # from the top bar
    until(driver, lambda: urlsplit(driver.current_url).path == "/dashboard/stats", "the Stats page")
    figs = open_stats(driver, srv.base, "?window=15m&range=6h")

    files = totals(figs["stats-files"])
    assert files == {"received": RECEIVED, "stored": STORED}, files
    drops = totals(figs["stats-drops"])
    assert drops == {SCHEMA: len(DROP_TRACES), **SEED_REASONS}, drops
    assert totals(figs["stats-unconverted"]) == {"unconverted": summary["files"]["unconverted"]}
    assert summary["files"]["unconverted"] >= 1  # the stuck file
    lag = {t["name"]: [v for v in t["y"] if v is not None] for t in figs["stats-lag"]["data"]}
    assert set(lag) == {"p50", "p95", "max"} and all(lag.values()), lag

    # one point per 15 minutes over the 6 hours (25 windows: the range ends with the current one), and
    # each window's bars are what GET /stats answers for it
    x = figs["stats-files"]["data"][0]["x"]
    assert len(x) == 25, x
    answer = api.get("/stats", params={"window": "15m", "since": at(NOW - timedelta(hours=6))}).json()
    per_window = {b["start"][:16].replace("T", " "): b["files"]["received"] for b in answer["buckets"]}
    drawn = dict(zip((s[:16] for s in x), figs["stats-files"]["data"][0]["y"], strict=True))
    assert {k: v for k, v in drawn.items() if v} == per_window

    chips = text_of(driver, "stats-summary")
    assert f"received {RECEIVED}" in chips and "dropped 5" in chips, chips


def test_window_range_and_split_live_in_the_url(signed_in: Any, stats_server: tuple[Server, dict[str, Any]]) -> None:
    driver, (srv, _) = signed_in, stats_server
    open_stats(driver, srv.base, "?window=15m&range=6h")
    choose(driver, "stats-window", "1 hour")
    until(driver, lambda: "window" not in query(driver), "the default window (1 h) in the URL: none said")
    figs = until(driver, lambda: figures(driver), "the hourly charts")
    assert len(figs["stats-files"]["data"][0]["x"]) == 7  # 6 h, and the hour now running
    assert totals(figs["stats-files"])["received"] == RECEIVED  # the same files, in bigger windows

    choose(driver, "stats-by", "user")
    until(driver, lambda: query(driver).get("by") == "user", "by=user in the URL")
    split = until(
        driver,
        lambda: (f := figures(driver)) and "by user" in (f["stats-files"]["title"] or "") and f,
        "the charts split by user",
    )
    received = totals(split["stats-files"])
    assert received["demo-user"] == 3 and received["etl-user"] == 2 * len(DROP_TRACES) + 1, received
    assert totals(split["stats-drops"]) == {"demo-user": 2, "etl-user": len(DROP_TRACES)}
    assert query(driver) == {"range": "6h", "by": "user"}

    # the copied address opens the same view
    driver.get(driver.current_url)
    again = until(driver, lambda: figures(driver), "the same view from its URL")
    assert totals(again["stats-files"]) == received
    assert "user" in text_of(driver, "stats-by") and "1 hour" in text_of(driver, "stats-window")


def test_an_empty_range_and_a_bad_time_say_what_to_do(
    signed_in: Any, stats_server: tuple[Server, dict[str, Any]]
) -> None:
    driver, (srv, _) = signed_in, stats_server
    driver.get(f"{srv.base}/dashboard/stats?range=custom&since=2020-01-01T00:00Z&until=2020-01-02T00:00Z")
    until(driver, lambda: "No events in this range" in text_of(driver, "stats-charts"), "the empty range")
    assert "POST /api/v1/events" in text_of(driver, "stats-charts")
    assert not by_id(driver, "stats-since").get_attribute("disabled")

    type_into(driver, "stats-until", "yesterday-ish")
    by_id(driver, "stats-refresh").click()
    until(driver, lambda: "Until: 'yesterday-ish' is not a time" in text_of(driver, "stats-message"), "the error")

    choose(driver, "stats-range", "last 24 hours")
    until(driver, lambda: by_id(driver, "stats-since").get_attribute("disabled"), "since disabled again")
    until(driver, lambda: figures(driver) and not text_of(driver, "stats-message"), "the charts back")
    assert "since" not in query(driver) and query(driver).get("range") is None  # 24 h is the default


# -- the insights -------------------------------------------------------------------------------


def test_insights_link_to_the_traces_files_and_drops_they_name(
    signed_in: Any, stats_server: tuple[Server, dict[str, Any]]
) -> None:
    from selenium.webdriver.common.by import By

    driver, (srv, _) = signed_in, stats_server
    open_stats(driver, srv.base, "?range=6h")
    reasons = until(driver, lambda: text_of(driver, "insight-reasons"), "the top drop reasons")
    assert f"{SCHEMA} {len(DROP_TRACES)}" in reasons, reasons
    assert all(f"{reason} {n}" in reasons for reason, n in SEED_REASONS.items()), reasons
    stuck = text_of(driver, "insight-stuck")
    assert STUCK_FILE in stuck and STUCK_TRACE in stuck.split(), stuck
    assert not any(f"{k}-ok.csv" in stuck for k in DROP_TRACES)
    slowest = text_of(driver, "insight-slowest").splitlines()
    assert slowest[2].startswith("A "), slowest  # under its title and header: the seed trace, 19 s; the others 6 s
    assert "No size limit is set" in text_of(driver, "insight-retention")
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "stats-page.png"))

    # a reason opens the Cypher console on the files dropped for it
    driver.find_element(By.LINK_TEXT, SCHEMA).click()
    table = until(driver, lambda: text_of(driver, "query-table"), "the files dropped for the reason")
    assert {f"{k}-bad.csv" for k in DROP_TRACES} <= set(table.split()), table

    # a stuck file opens selected on its trace's page
    open_stats(driver, srv.base, "?range=6h")
    until(driver, lambda: text_of(driver, "insight-stuck"), "the stuck files")
    by_id(driver, "insight-stuck").find_element(By.LINK_TEXT, STUCK_FILE).click()
    until(
        driver,
        lambda: (
            urlsplit(driver.current_url).path == f"/dashboard/traces/{STUCK_TRACE}"
            and query(driver).get("node") == STUCK_FILE
        ),
        "the stuck file selected on its trace",
    )

    # a slow trace opens its page
    open_stats(driver, srv.base, "?range=6h")
    until(driver, lambda: text_of(driver, "insight-slowest"), "the slowest traces")
    by_id(driver, "insight-slowest").find_element(By.LINK_TEXT, "A").click()
    until(driver, lambda: urlsplit(driver.current_url).path == "/dashboard/traces/A", "trace A's page")
