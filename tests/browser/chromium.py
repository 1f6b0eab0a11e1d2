"""Debian's Chromium driven by Debian's chromedriver (selenium): never a downloaded browser.

Shared by the browser tests and bench/dashboard_render.py. `scripts/install-browser.sh` installs both.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1600,1200",
    "--hide-scrollbars",
)

# The container of a dash-cytoscape graph keeps its cytoscape instance in `_cyreg.cy`.
CY = "const el = document.getElementById(arguments[0]); const cy = el && el._cyreg && el._cyreg.cy;"


def missing() -> str | None:
    """Why the browser cannot run, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            return f"{path} not found: run scripts/install-browser.sh (Debian package {package})"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium WebDriver with a fresh profile, closed and cleaned afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    reason = missing()
    if reason:
        raise RuntimeError(reason)
    profile = tempfile.mkdtemp(prefix="ftel-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def cy_nodes(driver: Any, graph_id: str) -> list[dict[str, Any]] | None:
    """The data of every node the cytoscape instance holds, with its laid-out position; None before it exists."""
    return driver.execute_script(
        CY + "if (!cy) { return null; }"
        "return cy.nodes().map(n => Object.assign({}, n.data(), {x: n.position('x'), y: n.position('y'),"
        " visible: n.visible()}));",
        graph_id,
    )


def cy_edges(driver: Any, graph_id: str) -> list[dict[str, Any]] | None:
    return driver.execute_script(CY + "if (!cy) { return null; } return cy.edges().map(e => e.data());", graph_id)


def tap(driver: Any, graph_id: str, element_id: str) -> None:
    """Tap a node the way a click does (the canvas has no DOM to click on)."""
    driver.execute_script(CY + "cy.getElementById(arguments[1]).emit('tap');", graph_id, element_id)


def click_node(driver: Any, graph_id: str, element_id: str) -> None:
    """A real mouse click on a node: pan it into the graph's view if needed (as a person would),
    scroll the page to it, click there. Waits until the node stands still first (a layout may still
    be running after new elements)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    driver.execute_script(
        CY + "const n = cy.getElementById(arguments[1]); if (n.empty()) { return; }"
        "const p = n.renderedPosition();"
        "if (p.x < 10 || p.y < 10 || p.x > cy.width() - 10 || p.y > cy.height() - 10) { cy.center(n); }",
        graph_id,
        element_id,
    )

    deadline = time.monotonic() + 10
    last = None
    while time.monotonic() < deadline:
        now = driver.execute_script(
            CY + "if (!cy) { return null; } const n = cy.getElementById(arguments[1]);"
            "return n.empty() ? null : [n.renderedPosition('x'), n.renderedPosition('y'), cy.zoom()];",
            graph_id,
            element_id,
        )
        if now is not None and now == last:
            break
        last = now
        time.sleep(0.25)
    where = driver.execute_script(
        CY + "const n = cy.getElementById(arguments[1]); if (n.empty()) { return null; }"
        "let p = n.renderedPosition(); let r = el.getBoundingClientRect();"
        "window.scrollBy(0, r.top + p.y - window.innerHeight / 2);"
        "p = n.renderedPosition(); r = el.getBoundingClientRect();"
        "return {x: r.left + p.x, y: r.top + p.y};",
        graph_id,
        element_id,
    )
    if where is None:
        raise AssertionError(f"{element_id} is not in {graph_id}")
    builder = ActionBuilder(driver)
    builder.pointer_action.move_to_location(int(where["x"]), int(where["y"])).click()
    builder.perform()
