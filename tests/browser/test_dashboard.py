"""The dashboard in a real headless Chromium (Debian's, through Debian's chromedriver) against a real
`ftel serve`: sign in through the form, browse traces, read the seed trace's flow, click nodes,
explore lineage, run Cypher, and see the error states. Screenshots go to test-artifacts/.

The cytoscape canvas has no DOM text, so what it drew is read from its cytoscape instance
(tests/browser/chromium.py). No skip: without Chromium these tests fail and say how to install it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.demo import seed_events
from tests.browser.chromium import chromium, click_node, cy_edges, cy_nodes, missing
from tests.conftest import ADMIN, ROOT, Api, Server, free_port, wait_for

pytestmark = pytest.mark.timeout(240)

ARTIFACTS = ROOT / "test-artifacts"
SEED_NODES = {"File1", "File2", "File3", "data1", "data2", "data3", "data4", "data5", "data6", "File4"}
DROPS = {"File1": "header row missing (see log)", "File2": "checksum mismatch (see log)"}
BATCH_TRACES = [f"T{n:02d}" for n in range(1, 11)]  # 10 more traces: with A and W, two pages of 10


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The all-in-one server (API + mounted dashboard) with the seed trace and a batch of small traces."""
    srv = Server(dict(ADMIN), "serve", tmp_path_factory.mktemp("dashboard"))
    try:
        api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        events = seed_events("A")
        for key in BATCH_TRACES:
            events += [
                {"type": "trace.started", "trace": key, "user": "batch-user", "attrs": {"name": f"batch {key}"}},
                {"type": "file.received", "trace": key, "node": {"kind": "file", "key": f"{key}-in"}},
            ]
        events.append({"type": "trace.started", "trace": "W", "user": "wide-user", "attrs": {"name": "wide fan-out"}})
        events += [
            {"type": "file.received", "trace": "W", "node": {"kind": "file", "key": f"W-{n:02d}"}} for n in range(60)
        ]
        sent = api.post("/events", json=events)
        assert sent.status_code == 202, sent.text
        assert wait_for(lambda: len(api.get("/traces/A/graph").json().get("nodes", [])) == len(SEED_NODES))
        yield srv
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


def until(driver: Any, condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """Wait for condition() to be truthy; on failure say what was awaited and what the page showed."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda _: condition())
    except TimeoutException:
        from selenium.webdriver.common.by import By

        text = driver.find_element(By.TAG_NAME, "body").text[:2000]
        shot = ARTIFACTS / f"failed-{''.join(c if c.isalnum() else '-' for c in what)}.png"
        driver.save_screenshot(str(shot))
        raise AssertionError(f"timed out waiting for {what} (screenshot {shot}); the page shows:\n{text}") from None


def text_of(driver: Any, element_id: str) -> str:
    """The element's text, or "" while it does not exist (or is being replaced)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        found = driver.find_elements(By.ID, element_id)
        return str(found[0].text) if found else ""
    except StaleElementReferenceException:
        return ""


def by_id(driver: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def choose(driver: Any, dropdown_id: str, option: str) -> None:
    """Pick an option of a dcc.Dropdown the way a person does: open it, click the option."""
    from selenium.webdriver.common.by import By

    by_id(driver, dropdown_id).click()
    xpath = f"//div[@role='listbox']//label[@role='option'][normalize-space()='{option}']"
    until(driver, lambda: driver.find_elements(By.XPATH, xpath), f"option {option!r} of {dropdown_id}")[0].click()


def type_into(driver: Any, element_id: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = by_id(driver, element_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(text)


def settled(driver: Any) -> bool:
    """No Dash callback is updating any component."""
    return bool(driver.execute_script("return !document.querySelector('[data-dash-is-loading=\"true\"]')"))


def sign_in(driver: Any, base: str) -> None:
    """Sign in through the form, unless this browser session already is."""
    if driver.current_url.startswith(f"{base}/dashboard/") and "signed in as" in text_of(driver, "account-info"):
        until(driver, lambda: settled(driver), "the page to settle")
        return
    driver.get(f"{base}/dashboard/")
    until(
        driver,
        lambda: by_id(driver, "signin").is_displayed() or "signed in as" in text_of(driver, "account-info"),
        "the sign-in form",
    )
    if "signed in as" not in text_of(driver, "account-info"):
        type_into(driver, "signin-client-id", ADMIN["FT_ADMIN_CLIENT_ID"])
        type_into(driver, "signin-secret", ADMIN["FT_ADMIN_CLIENT_SECRET"])
        by_id(driver, "signin-submit").click()
        until(driver, lambda: "signed in as test-admin" in text_of(driver, "account-info"), "signed-in state")
    until(driver, lambda: text_of(driver, "traces-table") and settled(driver), "the traces list")


@pytest.fixture
def signed_in(browser: Any, app_server: Server) -> Any:
    sign_in(browser, app_server.base)
    return browser


def seed_nodes_drawn(driver: Any) -> list[dict[str, Any]] | None:
    nodes = cy_nodes(driver, "trace-graph")
    return nodes if nodes and SEED_NODES <= {n["key"] for n in nodes if n["kind"] != "trace"} else None


# -- sign-in and the traces list ----------------------------------------------------------------


def test_sign_in_refuses_a_wrong_secret_then_accepts_the_admin(browser: Any, app_server: Server) -> None:
    browser.get(f"{app_server.base}/dashboard/")
    until(browser, lambda: by_id(browser, "signin").is_displayed(), "the sign-in form")
    assert "Sign in to see traces" in text_of(browser, "page")
    type_into(browser, "signin-client-id", ADMIN["FT_ADMIN_CLIENT_ID"])
    type_into(browser, "signin-secret", "not-the-secret")
    by_id(browser, "signin-submit").click()
    until(browser, lambda: "Sign-in failed" in text_of(browser, "signin-error"), "the sign-in error")

    type_into(browser, "signin-secret", ADMIN["FT_ADMIN_CLIENT_SECRET"])
    by_id(browser, "signin-submit").click()
    until(browser, lambda: "signed in as test-admin" in text_of(browser, "account-info"), "signed-in state")
    assert not by_id(browser, "signin").is_displayed()
    table = until(browser, lambda: text_of(browser, "traces-grid"), "the traces table")
    row = next(line for line in table.splitlines() if line.startswith("A "))
    # files 3, dropped 2, unconverted 0, data 6, outputs 1, and the drop reasons
    assert "3 2 0 6 1" in row and "header row missing (see log)" in row, row


def test_traces_search_filters_and_pages(signed_in: Any) -> None:
    driver = signed_in
    until(driver, lambda: text_of(driver, "traces-grid"), "the traces table")
    choose(driver, "traces-limit", "10")
    until(driver, lambda: text_of(driver, "traces-pageinfo") == "traces 1–10", "page 1 of 10 traces")
    assert not by_id(driver, "traces-next").get_attribute("disabled")
    by_id(driver, "traces-next").click()
    until(driver, lambda: text_of(driver, "traces-pageinfo") == "traces 11–12", "page 2")
    assert by_id(driver, "traces-next").get_attribute("disabled")
    by_id(driver, "traces-prev").click()
    until(driver, lambda: text_of(driver, "traces-pageinfo") == "traces 1–10", "back on page 1")

    type_into(driver, "traces-q", "nightly")
    by_id(driver, "traces-search").click()
    until(
        driver,
        lambda: (
            [r for r in text_of(driver, "traces-grid").splitlines()[1:]]
            and all(r.startswith("A ") for r in text_of(driver, "traces-grid").splitlines()[1:])
        ),
        "only trace A",
    )

    type_into(driver, "traces-q", "")
    type_into(driver, "traces-user", "batch-user")
    by_id(driver, "traces-search").click()
    until(
        driver,
        lambda: "A " not in text_of(driver, "traces-grid") and "T10" in text_of(driver, "traces-grid"),
        "the batch user's traces",
    )

    choose(driver, "traces-status", "ended")  # only trace A ended, and it belongs to demo-user
    until(driver, lambda: "No trace matches these filters" in text_of(driver, "traces-table"), "the empty state")
    type_into(driver, "traces-user", "")
    by_id(driver, "traces-search").click()
    until(
        driver,
        lambda: text_of(driver, "traces-grid").count("\n") == 1 and "A " in text_of(driver, "traces-grid"),
        "ended traces: A alone",
    )
    choose(driver, "traces-status", "any")

    choose(driver, "traces-range", "custom (since/until)")
    type_into(driver, "traces-until", "yesterday")
    by_id(driver, "traces-search").click()
    until(driver, lambda: "Until: 'yesterday' is not a time" in text_of(driver, "traces-table"), "the time error")
    type_into(driver, "traces-until", "")
    choose(driver, "traces-range", "any time")


# -- the trace flow -------------------------------------------------------------------------------


def test_demo_trace_draws_every_seed_node_left_to_right_with_drop_reasons(signed_in: Any) -> None:
    from selenium.webdriver.common.by import By

    driver = signed_in
    driver.get(driver.current_url.split("/dashboard/")[0] + "/dashboard/")
    link = until(driver, lambda: driver.find_elements(By.LINK_TEXT, "A"), "the link to trace A")[0]
    link.click()
    nodes = until(driver, lambda: seed_nodes_drawn(driver), "the seed nodes in the graph")
    by_key = {n["key"]: n for n in nodes if n["kind"] in ("file", "data")}
    trace = next(n for n in nodes if n["kind"] == "trace")
    assert trace["label"].startswith("trace(A)")
    drops = {n["key"]: n["label"] for n in nodes if n["kind"] == "drop"}
    assert set(drops) == set(DROPS)
    for key, reason in DROPS.items():
        assert by_key[key]["status"] == "dropped" and reason in drops[key]
        assert reason in text_of(driver, "drop-reasons")
    # left to right, like the seed picture: trace → files → data → data → File4
    x = {k: n["x"] for k, n in by_key.items()}
    assert trace["x"] < x["File1"] == x["File2"] == x["File3"] < x["data1"] < x["data4"]
    assert x["File3"] < x["data2"] < x["data5"] < x["File4"]
    assert all(n["visible"] for n in nodes)
    ops = {e["op"] for e in cy_edges(driver, "trace-graph") or []}
    assert {"parse", "enrich", "aggregate", "write", "normalize"} <= ops
    assert "10 of 10 nodes drawn" in text_of(driver, "trace-view-info")
    assert "dropped" in text_of(driver, "legend") and "converted" in text_of(driver, "legend")
    driver.save_screenshot(str(ARTIFACTS / "trace-flow.png"))


def test_clicking_file1_shows_its_drop_reason_and_log(signed_in: Any) -> None:
    driver = signed_in
    if "/traces/A" not in driver.current_url:
        driver.get(driver.current_url.split("/dashboard/")[0] + "/dashboard/traces/A")
    until(driver, lambda: seed_nodes_drawn(driver), "the seed nodes")
    click_node(driver, "trace-graph", "n:File1")
    until(driver, lambda: "header row missing; cannot map columns" in text_of(driver, "panel-logs"), "File1's log")
    assert "Dropped: header row missing (see log) [E_HEADER]" in text_of(driver, "node-panel")
    events = text_of(driver, "panel-events")
    assert events.index("file.received") < events.index("file.stored") < events.index("file.dropped")
    driver.save_screenshot(str(ARTIFACTS / "trace-node-panel.png"))

    click_node(driver, "trace-graph", "t:A")
    until(
        driver,
        lambda: "trace(A)" in text_of(driver, "node-panel") and "demo-user" in text_of(driver, "node-panel"),
        "the trace's panel",
    )


def test_large_fan_out_is_grouped_and_expands_on_click(signed_in: Any, app_server: Server) -> None:
    driver = signed_in
    driver.get(f"{app_server.base}/dashboard/traces/W")
    until(driver, lambda: "50 of 60 nodes drawn" in text_of(driver, "trace-view-info"), "the grouped fan-out")
    more = until(
        driver, lambda: [n for n in cy_nodes(driver, "trace-graph") or [] if n["kind"] == "more"], "the +N node"
    )
    assert more[0]["label"] == "+10 more\n(10 received)"
    driver.save_screenshot(str(ARTIFACTS / "trace-fan-out.png"))
    click_node(driver, "trace-graph", more[0]["id"])
    until(driver, lambda: "60 of 60 nodes drawn" in text_of(driver, "trace-view-info"), "the expanded fan-out")
    assert len([n for n in cy_nodes(driver, "trace-graph") or [] if n["kind"] == "file"]) == 60
    by_id(driver, "trace-collapse-all").click()
    until(driver, lambda: "50 of 60 nodes drawn" in text_of(driver, "trace-view-info"), "grouped again")


# -- lineage ------------------------------------------------------------------------------------


def lineage_keys(driver: Any) -> set[str]:
    return {n["key"] for n in cy_nodes(driver, "lineage-graph") or [] if n["kind"] != "group"}  # not the trace boxes


def test_lineage_of_file4_upstream_expands_on_click(signed_in: Any) -> None:
    driver = signed_in
    by_id(driver, "nav-lineage").click()
    until(driver, lambda: text_of(driver, "lineage-message") and settled(driver), "the lineage page")
    type_into(driver, "lineage-key", "File4")
    type_into(driver, "lineage-depth", "1")
    by_id(driver, "lineage-run").click()  # direction defaults to upstream
    until(driver, lambda: lineage_keys(driver) == {"File4", "data5"}, "one step upstream of File4")
    assert "More lies beyond this depth" in text_of(driver, "lineage-message")

    click_node(driver, "lineage-graph", "n:data5")
    until(driver, lambda: lineage_keys(driver) == {"File4", "data5", "data2"}, "data5 expanded one step")
    until(driver, lambda: "data5" in text_of(driver, "lineage-panel"), "data5's details")

    type_into(driver, "lineage-depth", "5")
    by_id(driver, "lineage-run").click()
    until(driver, lambda: lineage_keys(driver) == {"File4", "data5", "data2", "File3"}, "File4 ← data5 ← data2 ← File3")
    nodes = {n["key"]: n for n in cy_nodes(driver, "lineage-graph") or []}
    assert nodes["File3"]["x"] < nodes["data2"]["x"] < nodes["data5"]["x"] < nodes["File4"]["x"]
    driver.save_screenshot(str(ARTIFACTS / "lineage.png"))

    type_into(driver, "lineage-key", "nope")
    by_id(driver, "lineage-run").click()
    until(driver, lambda: "no node 'nope'" in text_of(driver, "lineage-message"), "the not-found error")


# -- Cypher -------------------------------------------------------------------------------------


def test_cypher_console_shows_rows_and_plain_errors(signed_in: Any) -> None:
    driver = signed_in
    by_id(driver, "nav-query").click()
    until(driver, lambda: text_of(driver, "page").startswith("Cypher console") and settled(driver), "the Cypher page")
    type_into(driver, "query-text", "MATCH (n:File) RETURN n.key AS key, n.status AS status ORDER BY key")
    by_id(driver, "query-run").click()
    table = until(driver, lambda: text_of(driver, "query-table"), "the result table")
    lines = table.splitlines()
    assert lines[0] == "key status"
    assert "File1 dropped" in lines and "File4 written" in lines, lines

    type_into(driver, "query-text", "MATCH (n:File) DETACH DELETE n")
    by_id(driver, "query-run").click()
    until(
        driver,
        lambda: "The query failed: query rejected: read-only" in text_of(driver, "query-result"),
        "the read-only error",
    )
    type_into(driver, "query-text", "MATCH (n RETURN n")
    by_id(driver, "query-run").click()
    until(driver, lambda: "The query failed" in text_of(driver, "query-result"), "the syntax error")
    assert "Traceback" not in text_of(driver, "query-result")


# -- error states -------------------------------------------------------------------------------


def test_expired_token_leads_back_to_sign_in_then_a_pasted_token_works(signed_in: Any, app_server: Server) -> None:
    driver = signed_in
    driver.delete_all_cookies()  # without the refresh cookie (with it, the token is renewed: test_navigation.py)
    driver.execute_script("sessionStorage.setItem('session', JSON.stringify({token: 'expired.not.valid', who: 'x'}));")
    driver.get(f"{app_server.base}/dashboard/traces/A")
    until(driver, lambda: "session has expired" in text_of(driver, "signin-notice"), "the expiry notice")
    assert by_id(driver, "signin").is_displayed()
    assert "not signed in" in text_of(driver, "account-info")

    type_into(driver, "signin-token", "not-a-token")
    by_id(driver, "signin-use-token").click()
    until(driver, lambda: "That token does not work" in text_of(driver, "signin-error"), "the refused token")
    token = Api(app_server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"]).http.headers[
        "Authorization"
    ]
    type_into(driver, "signin-token", token.removeprefix("Bearer "))
    by_id(driver, "signin-use-token").click()
    until(driver, lambda: "signed in as pasted token" in text_of(driver, "account-info"), "signed in with the token")
    until(driver, lambda: "Trace A" in text_of(driver, "page"), "trace A after signing in")

    driver.get(f"{app_server.base}/dashboard/traces/nope")
    until(driver, lambda: "no trace 'nope'" in text_of(driver, "page"), "the missing-trace error")
    by_id(driver, "signout").click()
    until(driver, lambda: "Signed out." in text_of(driver, "signin-notice"), "signed out")
    assert "Sign in to see traces" in text_of(driver, "page")


def test_standalone_dashboard_says_plainly_when_the_api_is_down(browser: Any, tmp_path: Path) -> None:
    """`ftel dashboard` pointed at an API that is not there: the sign-in answers with a plain message."""
    port, dead = free_port(), free_port()
    log = open(tmp_path / "dashboard.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.cli",
            "dashboard",
            "--api-url",
            f"http://127.0.0.1:{dead}",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "FT_DATA_DIR": str(tmp_path)},
    )
    try:

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
            except httpx.HTTPError:
                return proc.poll() is not None

        assert wait_for(up, timeout=30) and proc.poll() is None, (tmp_path / "dashboard.log").read_text()
        assert f"dashboard on http://127.0.0.1:{port}/" in (tmp_path / "dashboard.log").read_text()
        browser.get(f"http://127.0.0.1:{port}/")
        until(browser, lambda: by_id(browser, "signin").is_displayed(), "the sign-in form")
        type_into(browser, "signin-client-id", "someone")
        type_into(browser, "signin-secret", "something")
        by_id(browser, "signin-submit").click()
        until(browser, lambda: "cannot be reached" in text_of(browser, "signin-error"), "the API-down message")
        assert f"http://127.0.0.1:{dead}" in text_of(browser, "signin-error")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
