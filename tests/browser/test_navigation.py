"""Getting around the dashboard at work, in a real headless Chromium against a real `ftel serve`: the key
box in the top bar, S3-style keys with '/' in every URL, view state in the URL and Copy link, links
opened in a new tab (the refresh cookie) or a new browser (sign in, then the same view), silent token
renewal, and the traces list's triage tools. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from backend.demo import seed_events
from tests.browser.chromium import chromium, click_node, missing
from tests.browser.test_dashboard import ARTIFACTS, by_id, choose, settled, text_of, type_into, until
from tests.conftest import ADMIN, Api, Server, wait_for

pytestmark = pytest.mark.timeout(300)

TRACE_S3 = "nightly/2026-12-01"  # a trace key with '/'
ORDERS = "s3://bucket/in/2026/12/01/orders.csv"
CUSTOMERS = "s3://bucket/in/2026/12/01/customers.csv"
ROWS = "s3://bucket/staging/2026/12/01/customers.parquet"
ORDERS_DROP = "schema mismatch: column qty missing"
CLEAN_TRACES = [f"C{n:03d}" for n in range(110)]  # no drops; enough for a page of 100
REFRESH_COOKIE = "ftel_refresh"
TOTAL = 1 + 3 + len(CLEAN_TRACES)  # A, the three of s3_events(), the clean ones


def s3_events() -> list[dict[str, Any]]:
    def file(key: str) -> dict[str, str]:
        return {"kind": "file", "key": key}

    t = TRACE_S3
    return [
        {"type": "trace.started", "trace": t, "user": "etl-user", "attrs": {"name": "s3 nightly import"}},
        {"type": "file.received", "trace": t, "node": file(ORDERS)},
        {"type": "file.stored", "trace": t, "node": file(ORDERS)},
        {"type": "log", "trace": t, "node": file(ORDERS), "level": "error", "message": "no column qty in header"},
        {"type": "file.dropped", "trace": t, "node": file(ORDERS), "reason": ORDERS_DROP, "code": "E_SCHEMA"},
        {"type": "file.received", "trace": t, "node": file(CUSTOMERS)},
        {
            "type": "flow",
            "trace": t,
            "op": "parse",
            "inputs": [file(CUSTOMERS)],
            "outputs": [{"kind": "data", "key": ROWS}],
        },
        # a trace whose name matches the search but that dropped nothing: the drops filter leaves it out
        {"type": "trace.started", "trace": "nightly-clean", "user": "etl-user", "attrs": {"name": "nightly, no drops"}},
        {"type": "file.received", "trace": "nightly-clean", "node": file("s3://bucket/in/clean.csv")},
        # a trace with a drop that the search leaves out
        {"type": "trace.started", "trace": "W-1", "user": "etl-user", "attrs": {"name": "weekly export"}},
        {"type": "file.received", "trace": "W-1", "node": file("s3://bucket/out/weekly.csv")},
        {"type": "file.dropped", "trace": "W-1", "node": file("s3://bucket/out/weekly.csv"), "reason": "empty file"},
    ]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The all-in-one server with the seed trace A (two drops), an S3-style trace and W-1 with a drop each,
    and 111 traces without drops."""
    srv = Server(dict(ADMIN), "serve", tmp_path_factory.mktemp("navigation"))
    try:
        api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        events = seed_events("A") + s3_events()
        for key in CLEAN_TRACES:
            events += [
                {"type": "trace.started", "trace": key, "user": "clean-user", "attrs": {"name": f"clean {key}"}},
                {"type": "file.received", "trace": key, "node": {"kind": "file", "key": f"{key}-in"}},
            ]
        sent = api.post("/events", json=events)
        assert sent.status_code == 202, sent.text
        graph = f"/traces/{quote(TRACE_S3, safe='')}/graph"
        assert wait_for(lambda: len(api.get(graph).json().get("nodes", [])) == 3)
        assert wait_for(lambda: api.get("/traces", params={"limit": 1}).json().get("total") == TOTAL)
        yield srv
    finally:
        srv.stop()


@contextmanager
def open_browser(downloads: Path, base: str) -> Iterator[Any]:
    """A fresh Chromium (its own profile: no cookie, no storage) that may use the clipboard and saves
    downloads to `downloads`."""
    with chromium() as driver:
        downloads.mkdir(parents=True, exist_ok=True)
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )
        yield driver


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(app_server: Server, downloads: Path) -> Iterator[Any]:
    reason = missing()
    if reason:
        pytest.fail(reason, pytrace=False)
    ARTIFACTS.mkdir(exist_ok=True)
    with open_browser(downloads, app_server.base) as driver:
        yield driver


def sign_in_form(driver: Any) -> None:
    """Sign in through the form that is on the page now."""
    until(driver, lambda: by_id(driver, "signin").is_displayed(), "the sign-in form")
    type_into(driver, "signin-client-id", ADMIN["FT_ADMIN_CLIENT_ID"])
    type_into(driver, "signin-secret", ADMIN["FT_ADMIN_CLIENT_SECRET"])
    by_id(driver, "signin-submit").click()
    until(driver, lambda: "signed in as test-admin" in text_of(driver, "account-info"), "signed-in state")


@pytest.fixture
def signed_in(browser: Any, app_server: Server) -> Any:
    browser.get(f"{app_server.base}/dashboard/")
    until(
        browser,
        lambda: by_id(browser, "signin").is_displayed() or "signed in as" in text_of(browser, "account-info"),
        "the sign-in form or the signed-in top bar",
    )
    if "signed in as" not in text_of(browser, "account-info"):
        sign_in_form(browser)
    until(browser, lambda: text_of(browser, "traces-grid") and settled(browser), "the traces list")
    return browser


def rows(driver: Any) -> list[str]:
    """The traces list's rows as text (without the header)."""
    return text_of(driver, "traces-grid").splitlines()[1:]


def row_keys(driver: Any) -> list[str]:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#traces-grid a.trace-link")]
    except StaleElementReferenceException:
        return []


def query_params(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def copy_link(driver: Any) -> str:
    """Click Copy link and read what the clipboard holds."""
    by_id(driver, "copy-link").click()
    until(driver, lambda: text_of(driver, "copy-link-status") == "Link copied", "the copied notice")
    copied = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('clipboard error: ' + e));"
    )
    assert copied == driver.current_url, (copied, driver.current_url)
    return str(copied)


def trace_url(base: str, trace: str) -> str:
    return f"{base}/dashboard/traces/{quote(trace, safe='')}"


def node_panel_shows(driver: Any, key: str) -> bool:
    return key in text_of(driver, "node-panel")


# -- keys: the search box, keys with '/', not found ---------------------------------------------------


def test_a_file_key_with_slashes_is_found_from_the_search_box_and_opens_selected_on_its_trace(
    signed_in: Any, app_server: Server
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = signed_in
    by_id(driver, "jump-q").send_keys("s3://bucket/in/2026/12/01/o")
    hit = until(
        driver,
        lambda: [a for a in driver.find_elements(By.CSS_SELECTOR, "#jump-suggestions a") if ORDERS in a.text],
        "the orders file among the suggestions",
    )[0]
    assert "file" in hit.text
    hit.click()
    until(driver, lambda: f"Trace {TRACE_S3}" in text_of(driver, "page"), "the trace of the orders file")
    until(driver, lambda: node_panel_shows(driver, ORDERS), "the orders file in the node panel")
    assert urlsplit(driver.current_url).path == f"/dashboard/traces/{quote(TRACE_S3, safe='')}"
    assert query_params(driver.current_url)["node"] == ORDERS
    assert "/key/" not in driver.execute_script("return window.location.href")  # the hop was replaced
    assert ORDERS_DROP in text_of(driver, "node-panel")
    assert by_id(driver, "jump-q").get_attribute("value") == ""

    # Enter on a whole trace key opens the trace itself
    box = by_id(driver, "jump-q")
    box.send_keys(TRACE_S3, Keys.ENTER)
    until(
        driver,
        lambda: (
            urlsplit(driver.current_url).path.endswith(quote(TRACE_S3, safe=""))
            and "node" not in query_params(driver.current_url)
            and "Click a node" in text_of(driver, "node-panel")
        ),
        "the trace page without a node selected",
    )

    # Enter on the start of several keys lists them, each a link to where it is seen
    box = by_id(driver, "jump-q")
    box.send_keys("s3://bucket/in/2026", Keys.ENTER)
    until(driver, lambda: CUSTOMERS in text_of(driver, "search-results"), "the list of matching keys")
    assert ORDERS in text_of(driver, "search-results") and "s3://bucket/in/clean.csv" not in text_of(
        driver, "search-results"
    )
    driver.find_element(By.LINK_TEXT, CUSTOMERS).click()
    until(driver, lambda: node_panel_shows(driver, CUSTOMERS), "the customers file on its trace")
    assert query_params(driver.current_url)["node"] == CUSTOMERS


def test_the_trace_page_and_node_panel_of_a_key_with_slashes_open_from_their_urls(
    signed_in: Any, app_server: Server
) -> None:
    driver = signed_in
    driver.get(trace_url(app_server.base, TRACE_S3))
    until(driver, lambda: f"Trace {TRACE_S3}" in text_of(driver, "page") and settled(driver), "the trace page")
    assert urlsplit(driver.current_url).path == f"/dashboard/traces/{quote(TRACE_S3, safe='')}"
    click_node(driver, "trace-graph", f"n:{ORDERS}")
    until(driver, lambda: node_panel_shows(driver, ORDERS), "the orders file's panel")
    assert ORDERS_DROP in text_of(driver, "node-panel")

    # any key has a URL: /key/<key> lands on where it is seen
    driver.get(f"{app_server.base}/dashboard/key/{quote(ROWS, safe='')}")
    until(driver, lambda: node_panel_shows(driver, ROWS), "the data node on its trace")
    assert query_params(driver.current_url)["node"] == ROWS


def test_missing_keys_are_named_with_a_way_back(signed_in: Any, app_server: Server) -> None:
    from selenium.webdriver.common.by import By

    driver = signed_in
    gone = "nightly/2026-12-02"
    driver.get(trace_url(app_server.base, gone))
    until(driver, lambda: f"no trace '{gone}'" in text_of(driver, "page"), "the missing trace's message")
    assert f"Trace {gone}" in text_of(driver, "page")
    driver.find_element(By.LINK_TEXT, f"Keys starting with {gone!r}").click()
    until(driver, lambda: "No trace, file, data or sink key starts with that." in text_of(driver, "page"), "no match")

    nope = "s3://bucket/nope.csv"
    driver.get(f"{app_server.base}/dashboard/key/{quote(nope, safe='')}")
    until(driver, lambda: f"Nothing at {nope}" in text_of(driver, "page"), "the missing key's page")
    driver.find_element(By.LINK_TEXT, "← Back to traces").click()
    until(driver, lambda: text_of(driver, "traces-grid"), "the traces list again")


# -- view state in the URL, Copy link, new tab, new browser -----------------------------------------


@pytest.fixture(scope="module")
def copied(browser: Any, app_server: Server) -> dict[str, str]:
    """Links copied with Copy link: the traces list filtered to drops and 'nightly', and a Cypher view."""
    driver = browser
    driver.get(f"{app_server.base}/dashboard/")
    until(
        driver,
        lambda: by_id(driver, "signin").is_displayed() or text_of(driver, "traces-grid"),
        "the dashboard",
    )
    if by_id(driver, "signin").is_displayed():
        sign_in_form(driver)
    until(driver, lambda: text_of(driver, "traces-grid") and settled(driver), "the traces list")
    choose(driver, "traces-drops", "with drops")
    until(driver, lambda: sorted(row_keys(driver)) == ["A", "W-1", TRACE_S3], "the traces with drops")
    type_into(driver, "traces-q", "nightly")
    by_id(driver, "traces-search").click()
    until(driver, lambda: sorted(row_keys(driver)) == ["A", TRACE_S3], "only the nightly traces with drops")
    until(driver, lambda: text_of(driver, "traces-total") == "2 traces", "the total")
    params = query_params(driver.current_url)
    assert params["has_drops"] == "true" and params["q"] == "nightly", driver.current_url
    driver.save_screenshot(str(ARTIFACTS / "traces-drops-filter.png"))
    listing = copy_link(driver)

    by_id(driver, "nav-query").click()
    until(driver, lambda: by_id(driver, "query-text") and settled(driver), "the Cypher console")
    type_into(driver, "query-text", CYPHER)
    from selenium.webdriver.common.keys import Keys

    by_id(driver, "query-text").send_keys(Keys.CONTROL, Keys.ENTER)
    until(driver, lambda: ORDERS in text_of(driver, "query-table"), "the query's rows after Ctrl+Enter")
    assert query_params(driver.current_url)["q"] == CYPHER
    return {"list": listing, "query": copy_link(driver)}


CYPHER = (
    "MATCH (n:File) WHERE n.key STARTS WITH 's3://bucket/in/2026' RETURN n.key AS key, n.status AS status ORDER BY key"
)


def assert_filtered_list(driver: Any) -> None:
    until(driver, lambda: sorted(row_keys(driver)) == ["A", TRACE_S3] and settled(driver), "the same filtered list")
    assert text_of(driver, "traces-total") == "2 traces"
    assert by_id(driver, "traces-q").get_attribute("value") == "nightly"
    assert "with drops" in text_of(driver, "traces-drops")


def assert_query_view(driver: Any) -> None:
    until(driver, lambda: ORDERS in text_of(driver, "query-table"), "the same query's rows")
    assert by_id(driver, "query-text").get_attribute("value") == CYPHER
    lines = text_of(driver, "query-table").splitlines()
    assert lines == ["key status", f"{CUSTOMERS} converted", f"{ORDERS} dropped"], lines


def test_copied_links_open_the_same_view_in_a_new_tab_without_signing_in(
    browser: Any, app_server: Server, copied: dict[str, str]
) -> None:
    driver = browser
    first = driver.current_window_handle
    try:
        driver.switch_to.new_window("tab")  # a new tab: its own (empty) sessionStorage, the same cookies
        driver.get(copied["list"])
        assert_filtered_list(driver)
        assert "signed in as test-admin" in text_of(driver, "account-info")
        assert not by_id(driver, "signin").is_displayed()
        assert session_token(driver)  # its own token, from the refresh cookie

        driver.get(copied["query"])
        assert_query_view(driver)
    finally:
        driver.close()
        driver.switch_to.window(first)


def test_copied_links_open_the_same_view_after_sign_in_in_a_new_browser(
    app_server: Server, copied: dict[str, str], tmp_path: Path
) -> None:
    with open_browser(tmp_path, app_server.base) as driver:  # a new profile: no cookie, no storage
        driver.get(copied["list"])
        until(driver, lambda: "Sign in to see traces" in text_of(driver, "page"), "the signed-out page")
        sign_in_form(driver)
        assert_filtered_list(driver)
        assert driver.current_url == copied["list"]

        driver.execute_script("window.sessionStorage.clear()")
        driver.delete_all_cookies()
        driver.get(copied["query"])
        until(driver, lambda: "Sign in to see traces" in text_of(driver, "page"), "the signed-out page again")
        sign_in_form(driver)
        assert_query_view(driver)


# -- sessions ---------------------------------------------------------------------------------------


def session_token(driver: Any) -> str | None:
    stored = driver.execute_script("return window.sessionStorage.getItem('session')")
    return json.loads(stored).get("token") if stored else None


def test_the_refresh_cookie_is_http_only_and_renews_an_expired_or_expiring_token(
    signed_in: Any, app_server: Server
) -> None:
    driver = signed_in
    cookie = driver.get_cookie(REFRESH_COOKIE)
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/dashboard/", cookie
    assert REFRESH_COOKIE not in driver.execute_script("return document.cookie")
    assert ADMIN["FT_ADMIN_CLIENT_SECRET"] not in json.dumps(driver.get_cookies())

    # a token the API refuses (expired, say): renewed with the cookie instead of asking to sign in
    driver.execute_script(
        "sessionStorage.setItem('session', JSON.stringify({token: 'expired.not.valid', who: 'test-admin',"
        " refreshable: true, expires_at: Date.now() / 1000 + 600}));"
    )
    driver.get(trace_url(app_server.base, "A"))
    until(driver, lambda: "Trace A" in text_of(driver, "page"), "trace A with a renewed token")
    assert "signed in as test-admin" in text_of(driver, "account-info")
    assert session_token(driver) not in (None, "expired.not.valid")

    # a token about to expire: the tab renews it before it does, without rebuilding the page
    before = session_token(driver)
    driver.execute_script(
        "const s = JSON.parse(sessionStorage.getItem('session')); s.expires_at = Date.now() / 1000 + 60;"
        "sessionStorage.setItem('session', JSON.stringify(s));"
    )
    driver.get(f"{app_server.base}/dashboard/?q=nightly")
    until(driver, lambda: row_keys(driver), "the list")
    driver.execute_script("document.getElementById('traces-q').setAttribute('data-marker', 'same-page');")
    until(driver, lambda: session_token(driver) not in (None, before), "a renewed token", timeout=45)
    assert by_id(driver, "traces-q").get_attribute("data-marker") == "same-page"
    assert "signed in as test-admin" in text_of(driver, "account-info")

    # signing out deletes the cookie: a new tab asks to sign in
    by_id(driver, "signout").click()
    until(driver, lambda: "Signed out." in text_of(driver, "signin-notice"), "signed out")
    assert driver.get_cookie(REFRESH_COOKIE) is None
    first = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        driver.get(f"{app_server.base}/dashboard/")
        until(driver, lambda: by_id(driver, "signin").is_displayed(), "the sign-in form in a new tab")
    finally:
        driver.close()
        driver.switch_to.window(first)


# -- triage on the traces list ----------------------------------------------------------------------


def test_traces_list_sorts_its_page_counts_and_exports_and_stays_compact(
    signed_in: Any, app_server: Server, downloads: Path
) -> None:
    from selenium.webdriver.common.by import By

    driver = signed_in
    until(driver, lambda: text_of(driver, "traces-total") == f"{TOTAL} traces", "the total of all traces")

    # Since/Until only apply to a custom range: disabled otherwise, with placeholders that read as examples
    since = by_id(driver, "traces-since")
    assert since.get_attribute("disabled") and since.get_attribute("value") == ""
    assert since.get_attribute("placeholder").startswith("e.g. ")
    choose(driver, "traces-range", "custom (since/until)")
    until(driver, lambda: not by_id(driver, "traces-since").get_attribute("disabled"), "Since enabled")
    choose(driver, "traces-range", "last 24 hours")
    until(driver, lambda: by_id(driver, "traces-until").get_attribute("disabled"), "Until disabled")
    choose(driver, "traces-range", "any time")

    # a page of 100 rows stays a page, not a 5,000 px scroll
    choose(driver, "traces-limit", "100")
    until(driver, lambda: len(row_keys(driver)) == 100 and settled(driver), "a page of 100 traces")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    assert height <= 1300, f"a page of 100 rows is {height} px tall"

    # Export CSV: every matching trace, not only the page
    by_id(driver, "traces-export").click()
    exported = until(driver, lambda: [p for p in downloads.glob("traces-*.csv") if p.stat().st_size], "the CSV file")
    with exported[0].open(newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == TOTAL
    assert {r["key"]: r["dropped"] for r in table}[TRACE_S3] == "1"
    assert ORDERS_DROP in {r["key"]: r["drop_reasons"] for r in table}[TRACE_S3]

    # sorting by a column (within the page, as the page says), kept in the URL; drop counts stand out
    choose(driver, "traces-drops", "with drops")
    until(driver, lambda: sorted(row_keys(driver)) == ["A", "W-1", TRACE_S3] and settled(driver), "the drops")
    assert "sort this page" in text_of(driver, "page").lower()
    dropped_header = "//table[@id='traces-grid']//th//button[starts-with(., 'Dropped')]"
    driver.find_element(By.XPATH, dropped_header).click()
    until(driver, lambda: row_keys(driver)[:1] == ["A"] and settled(driver), "most drops first")
    assert query_params(driver.current_url)["sort"] == "dropped"
    assert query_params(driver.current_url)["dir"] == "desc"
    cells = driver.find_elements(By.CSS_SELECTOR, "#traces-grid tbody tr:first-child td.bad")
    assert [c.text for c in cells] == ["2"]
    assert cells[0].value_of_css_property("color") == "rgba(198, 40, 40, 1)"  # the `bad` class is drawn
    driver.find_element(By.XPATH, dropped_header).click()
    until(driver, lambda: row_keys(driver)[-1:] == ["A"] and settled(driver), "fewest drops first")
    assert "dir" not in query_params(driver.current_url)


# -- the Cypher console -----------------------------------------------------------------------------


def test_cypher_results_link_their_keys_export_and_are_remembered(
    signed_in: Any, app_server: Server, downloads: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = signed_in
    by_id(driver, "nav-query").click()
    until(driver, lambda: text_of(driver, "page").startswith("Cypher console") and settled(driver), "the console")
    type_into(driver, "query-text", CYPHER)
    by_id(driver, "query-text").send_keys(Keys.CONTROL, Keys.ENTER)
    until(driver, lambda: ORDERS in text_of(driver, "query-table"), "the rows")

    for button, pattern in (("query-csv", "cypher-*.csv"), ("query-json", "cypher-*.json")):
        by_id(driver, button).click()
        until(driver, lambda p=pattern: [f for f in downloads.glob(p) if f.stat().st_size], f"the {button} file")
    saved_csv = next(downloads.glob("cypher-*.csv")).read_text().splitlines()
    assert saved_csv == ["key,status", f"{CUSTOMERS},converted", f"{ORDERS},dropped"]
    saved_json = json.loads(next(downloads.glob("cypher-*.json")).read_text())
    assert saved_json["rows"][1] == {"key": ORDERS, "status": "dropped"} and saved_json["query"] == CYPHER

    # an error points at the column it means: the message is in the same monospace font as the editor
    type_into(driver, "query-text", "MATCH (n:File RETURN n")
    by_id(driver, "query-run").click()
    until(driver, lambda: "The query failed" in text_of(driver, "query-result"), "the syntax error")
    error_font = driver.find_element(By.CSS_SELECTOR, "#query-result .error").value_of_css_property("font-family")
    editor_font = by_id(driver, "query-text").value_of_css_property("font-family")
    assert "Mono" in error_font and error_font == editor_font

    # the history survives a reload (localStorage) and loads a query back into the editor
    driver.refresh()
    until(driver, lambda: by_id(driver, "query-text") and settled(driver), "the console again")
    by_id(driver, "query-history-pick").click()
    option = until(
        driver,
        lambda: [
            o
            for o in driver.find_elements(By.XPATH, "//div[@role='listbox']//*[@role='option']")
            if "STARTS WITH" in o.text
        ],
        "the earlier query in the history",
    )
    option[0].click()
    until(driver, lambda: by_id(driver, "query-text").get_attribute("value") == CYPHER, "the query back in the editor")

    # a key in the results opens where it is seen
    by_id(driver, "query-run").click()
    until(driver, lambda: driver.find_elements(By.LINK_TEXT, ORDERS), "the key as a link")[0].click()
    until(driver, lambda: node_panel_shows(driver, ORDERS), "the orders file on its trace")
    assert query_params(driver.current_url)["node"] == ORDERS
