"""The trace flow and lineage pictures in a real headless Chromium against a real `ftel serve`: a ~900-node
trace opens readable (labels measured through the cytoscape instance), find-in-graph and drops only, rows
and drop reasons that select nodes, a drop charged to the trace that reported it, keys with '/', the
lineage grouped by trace, the view kept in the URL, and PNG/SVG export. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.browser.chromium import CY, chromium, click_node, cy_nodes, missing
from tests.browser.test_dashboard import ARTIFACTS, by_id, settled, text_of, type_into, until
from tests.conftest import ADMIN, Api, Server, wait_for

pytestmark = pytest.mark.timeout(300)

BIG = "big/900"  # a trace key with a '/'
S3_KEY = "s3://bucket/in/2026/12/01/orders.csv"
ROWS, PARQUET, SINK = "orders/2026-12-01/rows", "s3://bucket/staged/2026/12/01/orders.parquet", "warehouse.orders"
MIN_LABEL_PX = 10.5


def big_trace(key: str = BIG) -> list[dict[str, Any]]:
    """50 files (5 dropped), 45 parsed into 6 data each, each derived into 2, 40 outputs: 900 nodes, no fan-out
    over 50, so all of it is drawn at once."""

    def file(k: str) -> dict[str, str]:
        return {"kind": "file", "key": f"{key}/{k}"}

    def data(k: str) -> dict[str, str]:
        return {"kind": "data", "key": f"{key}/{k}"}

    events: list[dict[str, Any]] = [{"type": "trace.started", "trace": key, "user": "big", "attrs": {"name": "900"}}]
    derived: list[str] = []
    for i in range(50):
        f = f"in-{i:03d}"
        events.append({"type": "file.received", "trace": key, "node": file(f)})
        if i % 10 == 3:
            events.append({"type": "file.dropped", "trace": key, "node": file(f), "reason": f"schema check {i % 4}"})
            continue
        parsed = [f"d-{i:03d}-{j}" for j in range(6)]
        events.append(
            {"type": "flow", "trace": key, "op": "parse", "inputs": [file(f)], "outputs": [data(d) for d in parsed]}
        )
        for d in parsed:
            pair = [f"{d}-{k}" for k in range(2)]
            derived += pair
            events.append(
                {"type": "flow", "trace": key, "op": "derive", "inputs": [data(d)], "outputs": [data(p) for p in pair]}
            )
    for n in range(40):
        chunk = derived[n * 13 : (n + 1) * 13]
        events.append(
            {
                "type": "flow",
                "trace": key,
                "op": "write",
                "inputs": [data(d) for d in chunk],
                "outputs": [file(f"out-{n:03d}")],
            }
        )
    return events


def cross_trace_drop() -> list[dict[str, Any]]:
    """Trace X writes shared/out.csv; trace Y picks it up and drops it."""
    return [
        {"type": "trace.started", "trace": "X", "user": "u", "attrs": {"name": "writer"}},
        {"type": "file.received", "trace": "X", "node": {"kind": "file", "key": "x/in.csv"}},
        {
            "type": "flow",
            "trace": "X",
            "op": "export",
            "inputs": [{"kind": "file", "key": "x/in.csv"}],
            "outputs": [{"kind": "file", "key": "shared/out.csv"}],
        },
        {"type": "log", "trace": "X", "level": "warn", "message": "export ran late"},
        {"type": "log", "trace": "X", "level": "info", "message": "export finished"},
        {"type": "trace.started", "trace": "Y", "user": "u", "attrs": {"name": "reader"}},
        {"type": "file.received", "trace": "Y", "node": {"kind": "file", "key": "shared/out.csv"}},
        {
            "type": "file.dropped",
            "trace": "Y",
            "node": {"kind": "file", "key": "shared/out.csv"},
            "reason": "stale file",
        },
    ]


def s3_lineage() -> list[dict[str, Any]]:
    """The orders CSV parsed and staged by trace IN, the staged file loaded by trace LOAD."""
    return [
        {"type": "trace.started", "trace": "IN", "user": "u", "attrs": {"name": "ingest orders"}},
        {"type": "file.received", "trace": "IN", "node": {"kind": "file", "key": S3_KEY}},
        {
            "type": "flow",
            "trace": "IN",
            "op": "parse",
            "inputs": [{"kind": "file", "key": S3_KEY}],
            "outputs": [{"kind": "data", "key": ROWS}],
        },
        {
            "type": "flow",
            "trace": "IN",
            "op": "stage",
            "inputs": [{"kind": "data", "key": ROWS}],
            "outputs": [{"kind": "file", "key": PARQUET}],
        },
        {"type": "trace.started", "trace": "LOAD", "user": "u", "attrs": {"name": "load warehouse"}},
        {
            "type": "flow",
            "trace": "LOAD",
            "op": "load",
            "inputs": [{"kind": "file", "key": PARQUET}],
            "outputs": [{"kind": "sink", "key": SINK}],
        },
    ]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(dict(ADMIN), "serve", tmp_path_factory.mktemp("graphs"))
    try:
        api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        for batch in (big_trace(), cross_trace_drop(), s3_lineage()):
            sent = api.post("/events", json=batch)
            assert sent.status_code == 202, sent.text
        assert wait_for(lambda: len(api.get(f"/traces/{quote(BIG, safe='')}/graph").json().get("nodes", [])) == 900)
        assert wait_for(lambda: api.get(f"/lineage/{quote(SINK, safe='')}?direction=upstream").status_code == 200)
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = missing()
    if reason:
        pytest.fail(reason, pytrace=False)
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as driver:
        downloads = tmp_path_factory.mktemp("downloads")
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.downloads = downloads
        yield driver


@pytest.fixture
def signed_in(browser: Any, app_server: Server) -> Any:
    base = app_server.base
    if "signed in as" not in text_of(browser, "account-info"):
        browser.get(f"{base}/dashboard/")
        until(
            browser,
            lambda: by_id(browser, "signin").is_displayed() or "signed in as" in text_of(browser, "account-info"),
            "the sign-in form",
        )
        if "signed in as" not in text_of(browser, "account-info"):
            type_into(browser, "signin-client-id", ADMIN["FT_ADMIN_CLIENT_ID"])
            type_into(browser, "signin-secret", ADMIN["FT_ADMIN_CLIENT_SECRET"])
            by_id(browser, "signin-submit").click()
            until(browser, lambda: "signed in as" in text_of(browser, "account-info"), "signed-in state")
    browser.base = base
    return browser


def open_page(driver: Any, path: str) -> None:
    driver.get(f"{driver.base}/dashboard{path}")


def view_of(driver: Any, graph_id: str) -> dict[str, Any] | None:
    """What the reader sees: zoom, the label size on screen, the drawn nodes inside the viewport."""
    seen: dict[str, Any] | None = driver.execute_script(
        CY + "if (!cy || !cy._ftelOpened) { return null; }"
        "const z = cy.zoom(), ext = cy.extent();"
        "const inside = cy.nodes().filter(n => n.visible() && !n.isParent() && n.position('x') >= ext.x1"
        " && n.position('x') <= ext.x2 && n.position('y') >= ext.y1 && n.position('y') <= ext.y2);"
        "const font = parseFloat(cy.nodes().filter(n => !n.isParent()).first().style('font-size'));"
        "return {zoom: z, labelPx: font * z, inside: inside.map(n => n.id()),"
        " selected: cy.nodes(':selected').map(n => n.id()), visible: cy.nodes().filter(n => n.visible()).map(n => n.id()),"
        " litEdges: cy.edges('.lit').length, count: cy.nodes().length};",
        graph_id,
    )
    return seen


def settled_view(driver: Any, graph_id: str, what: str, check: Any = None) -> dict[str, Any]:
    """The viewport once it stopped moving (and `check` holds)."""
    last: list[Any] = [None]

    def steady() -> Any:
        now = view_of(driver, graph_id)
        same = now is not None and now == last[0] and settled(driver)
        last[0] = now
        return now if same and (check is None or check(now)) else None

    return until(driver, steady, what, timeout=60)  # type: ignore[no-any-return]


def node(key: str) -> str:
    return f"n:{key}"


# -- a big trace opens readable -----------------------------------------------------------------


def test_a_900_node_trace_opens_readable_on_its_first_drop(signed_in: Any) -> None:
    driver = signed_in
    open_page(driver, f"/traces/{quote(BIG, safe='')}")
    view = settled_view(driver, "trace-graph", "the 900-node picture", lambda v: v["count"] > 900)
    assert "900 of 900 nodes drawn" in text_of(driver, "trace-view-info")
    assert view["labelPx"] >= MIN_LABEL_PX, view["labelPx"]
    first_drop = node(f"{BIG}/in-003")
    assert first_drop in view["inside"], "the first drop is on screen"
    assert 10 <= len(view["inside"]) < 300, len(view["inside"])  # a readable part, not a sliver of all
    driver.save_screenshot(str(ARTIFACTS / "trace-900-opening.png"))

    by_id(driver, "trace-fit").click()
    fitted = until(driver, lambda: (v := view_of(driver, "trace-graph")) and v["zoom"] < view["zoom"] and v, "Fit")
    assert len(fitted["inside"]) == len(fitted["visible"])  # Fit still shows everything


def test_find_selects_and_shows_matches_and_enter_goes_to_the_next(signed_in: Any) -> None:
    driver = signed_in
    open_page(driver, f"/traces/{quote(BIG, safe='')}")
    settled_view(driver, "trace-graph", "the picture", lambda v: v["count"] > 900)
    type_into(driver, "trace-find", "out-02")
    by_id(driver, "trace-find").send_keys("\n")
    until(driver, lambda: "10 matches" in text_of(driver, "trace-find-info"), "ten matches for out-02")
    view = settled_view(driver, "trace-graph", "the first match shown", lambda v: len(v["selected"]) == 10)
    assert set(view["selected"]) == {node(f"{BIG}/out-{n:03d}") for n in range(20, 30)}
    assert node(f"{BIG}/out-020") in view["inside"] and view["labelPx"] >= MIN_LABEL_PX
    by_id(driver, "trace-find-next").click()
    until(driver, lambda: "showing 2 of 10" in text_of(driver, "trace-find-info"), "the next match")
    assert node(f"{BIG}/out-021") in settled_view(driver, "trace-graph", "the second match")["inside"]
    type_into(driver, "trace-find", "no-such-node")
    by_id(driver, "trace-find").send_keys("\n")
    until(driver, lambda: "no node matches" in text_of(driver, "trace-find-info"), "no match")


def test_drops_only_keeps_this_traces_drops_and_what_led_to_them(signed_in: Any) -> None:
    driver = signed_in
    open_page(driver, f"/traces/{quote(BIG, safe='')}")
    settled_view(driver, "trace-graph", "the picture", lambda v: v["count"] > 900)
    driver.find_element("css selector", "#trace-drops-only input").click()
    until(driver, lambda: "5 drops of this trace shown" in text_of(driver, "trace-drops-info"), "drops only")
    view = settled_view(driver, "trace-graph", "the drops", lambda v: len(v["visible"]) < 20)
    drops = {f"{BIG}/in-{i:03d}" for i in range(50) if i % 10 == 3}
    assert set(view["visible"]) == {f"t:{BIG}"} | {node(k) for k in drops} | {f"x:{k}" for k in drops}
    assert set(view["inside"]) == set(view["visible"]) and view["labelPx"] >= MIN_LABEL_PX  # all of it, readable
    driver.find_element("css selector", "#trace-drops-only input").click()
    until(driver, lambda: len((view_of(driver, "trace-graph") or {}).get("visible", [])) > 900, "everything again")


def test_node_list_rows_and_drop_reasons_select_nodes_in_the_graph(signed_in: Any) -> None:
    driver = signed_in
    open_page(driver, f"/traces/{quote(BIG, safe='')}")
    settled_view(driver, "trace-graph", "the picture", lambda v: v["count"] > 900)
    reason = until(
        driver,
        lambda: driver.find_elements("xpath", "//div[@class='drop-reason'][contains(., 'schema check 3')]"),
        "a drop reason",
    )[0]
    reason.click()
    view = settled_view(driver, "trace-graph", "the files dropped for that reason", lambda v: len(v["selected"]) == 3)
    assert set(view["selected"]) == {node(f"{BIG}/in-{i:03d}") for i in (3, 23, 43)}  # i % 4 == 3 among the drops

    by_id(driver, "trace-node-details").find_element("tag name", "summary").click()
    until(driver, lambda: "300 of 900 nodes listed" in text_of(driver, "trace-node-list"), "the first 300 rows")
    by_id(driver, "trace-list-all").click()
    until(driver, lambda: "900 of 900 nodes listed" in text_of(driver, "trace-node-list"), "every row")
    wanted = f"{BIG}/d-047-4-1"
    row = driver.find_element("xpath", f"//tr[@data-select='{node(wanted)}']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.click()
    view = settled_view(driver, "trace-graph", "the row's node selected", lambda v: v["selected"] == [node(wanted)])
    assert node(wanted) in view["inside"] and view["litEdges"] >= 2  # its edges show their op
    until(driver, lambda: wanted in text_of(driver, "node-panel"), "the row's node in the panel")
    assert parse_qs(urlsplit(driver.current_url).query)["node"] == [wanted]
    events = by_id(driver, "panel-events")
    panel = by_id(driver, "node-panel")
    assert events.size["width"] <= panel.size["width"], "the events table does not overflow sideways"


def test_a_link_with_node_opens_it_selected_centred_and_in_the_panel(signed_in: Any) -> None:
    driver = signed_in
    wanted = f"{BIG}/out-029"
    open_page(driver, f"/traces/{quote(BIG, safe='')}?node={quote(wanted, safe='')}")
    view = settled_view(driver, "trace-graph", "the linked node", lambda v: v["selected"] == [node(wanted)])
    assert node(wanted) in view["inside"] and view["labelPx"] >= MIN_LABEL_PX
    until(driver, lambda: wanted in text_of(driver, "node-panel"), "its panel")


# -- drops belong to the trace that reported them -----------------------------------------------


def test_a_drop_is_shown_on_the_trace_that_reported_it_only(signed_in: Any) -> None:
    driver = signed_in
    open_page(driver, "/traces/Y")
    until(driver, lambda: "Dropped: stale file (×1)" in text_of(driver, "drop-reasons"), "Y's drop reason")
    nodes = until(driver, lambda: cy_nodes(driver, "trace-graph"), "Y's graph")
    assert any(n["id"] == "x:shared/out.csv" for n in nodes)
    assert "dropped 1" in text_of(driver, "page")

    open_page(driver, "/traces/X")
    until(driver, lambda: "Trace X" in text_of(driver, "page") and cy_nodes(driver, "trace-graph"), "X's page")
    nodes = {n["id"]: n for n in until(driver, lambda: cy_nodes(driver, "trace-graph"), "X's graph")}
    shared = nodes[node("shared/out.csv")]
    assert shared["status"] == "dropped" and "dropped by another trace" in shared["label"]
    assert "x:shared/out.csv" not in nodes and text_of(driver, "drop-reasons") == ""
    assert "dropped 0" in text_of(driver, "page")
    # X's own log lines, warn first opened
    log = until(driver, lambda: text_of(driver, "trace-log"), "X's trace log")
    assert "export ran late" in log and "export finished" in log
    colour = driver.execute_script("return getComputedStyle(document.querySelector('#trace-log tr.log-warn td')).color")
    assert colour == "rgb(179, 60, 0)"


# -- lineage --------------------------------------------------------------------------------------


def lineage_view(driver: Any) -> dict[str, Any] | None:
    nodes = cy_nodes(driver, "lineage-graph") or []
    if not nodes:
        return None
    parents = driver.execute_script(
        CY + "return cy.nodes().map(n => [n.id(), n.data('parent') || null]);", "lineage-graph"
    )
    return {"keys": {n["key"] for n in nodes if n["kind"] not in ("group", "drop")}, "parents": dict(parents)}


def test_lineage_of_an_s3_key_is_grouped_by_trace_and_its_url_reopens_the_same_view(signed_in: Any) -> None:
    driver = signed_in
    open_page(driver, f"/lineage?key={quote(S3_KEY, safe='')}&direction=downstream&depth=1")
    first = until(driver, lambda: (v := lineage_view(driver)) and v["keys"] == {S3_KEY, ROWS} and v, "one step")
    assert "More lies beyond this depth" in text_of(driver, "lineage-message")
    click_node(driver, "lineage-graph", node(ROWS))
    until(driver, lambda: (lineage_view(driver) or {}).get("keys") == {S3_KEY, ROWS, PARQUET}, "rows expanded")
    click_node(driver, "lineage-graph", node(PARQUET))
    grown = until(driver, lambda: (v := lineage_view(driver)) and SINK in v["keys"] and v, "the parquet expanded")
    assert first["parents"][node(S3_KEY)] == "g:IN"
    assert grown["parents"][node(ROWS)] == "g:IN" and grown["parents"][node(SINK)] == "g:LOAD"
    traces = text_of(driver, "lineage-traces")
    assert "trace IN" in traces and "trace LOAD" in traces
    settled_view(driver, "lineage-graph", "the lineage laid out")
    driver.save_screenshot(str(ARTIFACTS / "lineage-by-trace.png"))

    # the sink's neighbours are all drawn: expanding it says so, not "more lies beyond"
    click_node(driver, "lineage-graph", node(SINK))
    until(driver, lambda: "neighbours were all drawn already" in text_of(driver, "lineage-message"), "nothing new")
    assert "More lies beyond" not in text_of(driver, "lineage-message")
    query = parse_qs(urlsplit(driver.current_url).query)
    assert query["key"] == [S3_KEY] and query["open"] == [f"{ROWS}\n{PARQUET}\n{SINK}"]

    link = driver.current_url
    driver.get("about:blank")
    driver.get(link)
    again = until(driver, lambda: (v := lineage_view(driver)) and SINK in v["keys"] and v, "the same view again")
    assert again["keys"] == grown["keys"] and again["parents"] == grown["parents"]

    # the trace link of a node's panel opens its trace page on that node, every key percent-encoded
    click_node(driver, "lineage-graph", node(S3_KEY))
    link = until(driver, lambda: driver.find_elements("id", "panel-trace"), "the panel's trace link")[0]
    assert link.get_attribute("href").endswith(f"/traces/IN?node={quote(S3_KEY, safe='')}")
    link.click()
    view = settled_view(driver, "trace-graph", "IN with the CSV selected", lambda v: v["selected"] == [node(S3_KEY)])
    assert node(S3_KEY) in view["inside"]
    until(driver, lambda: S3_KEY in text_of(driver, "node-panel"), "the CSV's panel")


def test_a_new_lineage_search_puts_its_key_in_the_url(signed_in: Any) -> None:
    driver = signed_in
    open_page(driver, f"/lineage?key={quote(S3_KEY, safe='')}&direction=downstream&depth=5")
    until(driver, lambda: (lineage_view(driver) or {}).get("keys", set()) >= {S3_KEY, SINK}, "the lineage")
    type_into(driver, "lineage-key", SINK)
    by_id(driver, "lineage-run").click()
    until(driver, lambda: parse_qs(urlsplit(driver.current_url).query).get("key") == [SINK], "the new key in the URL")
    driver.back()
    until(driver, lambda: parse_qs(urlsplit(driver.current_url).query).get("key") == [S3_KEY], "back to the first")
    until(driver, lambda: lineage_shows(driver, S3_KEY, {S3_KEY, ROWS, PARQUET, SINK}), "the first search again")
    driver.forward()
    until(driver, lambda: lineage_shows(driver, SINK, {SINK}), "the second search again")
    assert parse_qs(urlsplit(driver.current_url).query)["direction"] == ["downstream"]


def lineage_shows(driver: Any, key: str, keys: set[str]) -> bool:
    """The explorer's form holds `key` and its picture exactly `keys` (none: no picture), Dash at rest."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        box = driver.find_elements("id", "lineage-key")
        shown = bool(box) and box[0].get_attribute("value") == key
    except StaleElementReferenceException:  # the page is being replaced
        return False
    return shown and (lineage_view(driver) or {}).get("keys", set()) == keys and settled(driver)


def test_links_to_the_url_a_graph_page_rewrote_open_what_they_say(signed_in: Any) -> None:
    """The lineage and trace pages rewrite the address as their view changes (a new search, a selected
    node); the top bar, the key box and Back/Forward still open the page their URL names."""
    driver = signed_in
    open_page(driver, "/")
    until(driver, lambda: text_of(driver, "traces-grid"), "the traces list")
    by_id(driver, "nav-lineage").click()
    until(driver, lambda: lineage_shows(driver, "", set()), "an empty lineage explorer")
    type_into(driver, "lineage-key", SINK)
    by_id(driver, "lineage-run").click()
    until(driver, lambda: lineage_shows(driver, SINK, {S3_KEY, ROWS, PARQUET, SINK}), "the sink's lineage")
    assert parse_qs(urlsplit(driver.current_url).query)["key"] == [SINK]

    # the top bar's Lineage names the address this page was opened at: an empty explorer again
    by_id(driver, "nav-lineage").click()
    until(driver, lambda: lineage_shows(driver, "", set()), "the empty explorer of the top bar's link")
    assert urlsplit(driver.current_url).query == ""

    type_into(driver, "lineage-key", PARQUET)
    by_id(driver, "lineage-key").send_keys("\n")
    until(driver, lambda: lineage_shows(driver, PARQUET, {S3_KEY, ROWS, PARQUET}), "the parquet's lineage")
    driver.back()
    until(driver, lambda: lineage_shows(driver, "", set()), "Back: the empty explorer")
    driver.forward()
    until(driver, lambda: lineage_shows(driver, PARQUET, {S3_KEY, ROWS, PARQUET}), "Forward: the parquet again")

    # a trace page whose node selection rewrote its address, then a link to the address it had
    driver.find_element("link text", "trace IN").click()
    until(driver, lambda: "Trace IN" in text_of(driver, "page") and cy_nodes(driver, "trace-graph"), "IN's page")
    settled_view(driver, "trace-graph", "IN's picture")
    click_node(driver, "trace-graph", node(S3_KEY))
    until(driver, lambda: parse_qs(urlsplit(driver.current_url).query).get("node") == [S3_KEY], "?node= in the URL")
    until(driver, lambda: S3_KEY in text_of(driver, "node-panel"), "the CSV's panel")
    by_id(driver, "jump-q").send_keys("IN\n")
    view = settled_view(driver, "trace-graph", "IN with nothing selected", lambda v: v["selected"] == [])
    assert urlsplit(driver.current_url).path.endswith("/traces/IN") and urlsplit(driver.current_url).query == ""
    assert S3_KEY not in text_of(driver, "node-panel") and view["count"] > 0

    by_id(driver, "nav-traces").click()
    until(
        driver,
        lambda: text_of(driver, "traces-grid") and urlsplit(driver.current_url).path == "/dashboard/",
        "the traces list from the top bar",
    )
    driver.back()
    until(driver, lambda: "Trace IN" in text_of(driver, "page") and settled(driver), "Back: IN's page")
    assert S3_KEY not in text_of(driver, "node-panel")


# -- export ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_the_trace_graph_exports_as_an_image(signed_in: Any, kind: str) -> None:
    driver = signed_in
    open_page(driver, "/traces/Y")
    until(driver, lambda: cy_nodes(driver, "trace-graph") and settled(driver), "Y's graph")
    folder: Path = driver.downloads
    by_id(driver, f"trace-{kind}").click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not list(folder.glob(f"trace-Y*.{kind}")):
        time.sleep(0.2)
    files = list(folder.glob(f"trace-Y*.{kind}"))
    assert files, f"no {kind} downloaded: {list(folder.iterdir())}"
    head = files[0].read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if kind == "png" else b"<svg" in head
