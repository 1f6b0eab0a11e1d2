"""Time to first render of a 2,000-node trace in the dashboard, beside the API call alone.

Starts `ftel serve` (API + mounted dashboard), sends one trace of exactly 2,000 nodes (100 files,
10 of them dropped; 90 parsed into 6 data each; each data derived into 2; derived data written to
270 output files and 10 sinks), then measures in the same run:

  (a) GET /api/v1/traces/{key}/graph alone, over HTTP (the reference);
  (b) in headless Chromium (Debian's), from navigation to the trace page until the cytoscape
      instance holds every expected element, laid out, and a frame has been painted — once with
      large fan-outs grouped (the default view) and once with everything drawn (?expand=all);
  (c) dagre alone, in the same browser: the layout the dashboard runs for pictures of up to
      DAGRE_MAX nodes (dashboard/placement.py), timed on connected parts of the expanded trace of
      each `--dagre` size (a breadth-first walk from its best-connected node), which is why bigger pictures
      are placed by the server.

Prints medians and the ratios (b)/(a), and (c) per size.
Run: .venv/bin/python bench/dashboard_render.py [--runs N] [--dagre 250,470]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.elements import trace_elements, trace_id  # noqa: E402
from dashboard.styles import DAGRE_LR  # noqa: E402
from tests.browser.chromium import chromium, missing  # noqa: E402
from tests.conftest import ADMIN, Api, Server, wait_for  # noqa: E402

TRACE = "bench-2000"
NODES = 2000


def big_trace(key: str = TRACE) -> list[dict[str, Any]]:
    """Events of one trace with exactly NODES nodes."""

    def file(k: str) -> dict[str, str]:
        return {"kind": "file", "key": f"{key}/{k}"}

    def data(k: str) -> dict[str, str]:
        return {"kind": "data", "key": f"{key}/{k}"}

    events: list[dict[str, Any]] = [
        {"type": "trace.started", "trace": key, "user": "bench", "attrs": {"name": "2,000 nodes"}}
    ]
    files = [f"in-{i:03d}" for i in range(100)]
    for i, f in enumerate(files):
        events.append({"type": "file.received", "trace": key, "node": file(f)})
        if i % 10 == 0:
            events.append(
                {"type": "file.dropped", "trace": key, "node": file(f), "reason": f"schema check {i % 3} failed"}
            )
    derived: list[str] = []
    for i, f in enumerate(files):
        if i % 10 == 0:
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
    for n in range(270):
        events.append(
            {
                "type": "flow",
                "trace": key,
                "op": "write",
                "inputs": [data(d) for d in derived[n * 4 : (n + 1) * 4]],
                "outputs": [file(f"out-{n:03d}")],
            }
        )
    for s in range(10):
        events.append(
            {
                "type": "flow",
                "trace": key,
                "op": "load",
                "inputs": [data(d) for d in derived[s::10]],
                "outputs": [{"kind": "sink", "key": f"{key}/sink-{s}"}],
            }
        )
    return events


# Resolves when the graph holds `expected` nodes with positions, after the next painted frame;
# answers milliseconds since navigation start.
_WAIT_RENDER = """
const graphId = arguments[0], expected = arguments[1], done = arguments[arguments.length - 1];
(function poll() {
    const el = document.getElementById(graphId), cy = el && el._cyreg && el._cyreg.cy;
    if (cy && cy.nodes().length === expected && cy.nodes().some(n => n.position('x') !== 0)) {
        requestAnimationFrame(() => requestAnimationFrame(() => {
            const now = performance.now();
            // the page callback that brought the elements: the last Dash update answered before now
            const updates = performance.getEntriesByType('resource')
                .filter(e => e.name.includes('_dash-update-component') && e.responseEnd <= now);
            done([now, updates.length ? Math.max(...updates.map(e => e.responseEnd)) : 0]);
        }));
    } else { setTimeout(poll, 5); }
})();
"""


# dagre on the first `size` nodes a breadth-first walk from the best-connected node reaches, and the
# edges between them, for each size: [size, nodes, edges, milliseconds] (cytoscape-dagre is synchronous).
_DAGRE = """
const el = document.getElementById(arguments[0]), cy = el._cyreg.cy, layout = arguments[2];
// the trace node has no edges of its own: start from the node with the most edges
const root = cy.nodes().max(n => n.degree(false)).ele;
return arguments[1].map(size => {
    let picked = cy.collection();
    cy.elements().bfs({roots: root, directed: false, visit: v => {
        picked = picked.union(v);
        if (picked.length >= size) return true;  // true ends the walk; false would too (cytoscape's bfs)
    }});
    const edges = picked.connectedEdges().filter(e => picked.contains(e.source()) && picked.contains(e.target()));
    const started = performance.now();
    picked.union(edges).layout(Object.assign({}, layout, {fit: false, animate: false})).run();
    return [size, picked.length, edges.length, performance.now() - started];
});
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dagre", default="250,470", help="comma-separated node counts to time dagre on (empty: skip)")
    args = parser.parse_args()
    dagre = [int(n) for n in args.dagre.split(",") if n.strip()]
    reason = missing()
    if reason:
        sys.exit(reason)
    with tempfile.TemporaryDirectory(prefix="ftel-bench-dash-") as tmp:
        server = Server(dict(ADMIN), "serve", Path(tmp))
        try:
            run(server, args.runs, dagre)
        finally:
            server.stop()


def run(server: Server, runs: int, dagre: list[int]) -> None:
    api = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    sent = api.post("/events", json=big_trace())
    assert sent.status_code == 202 and not sent.json()["rejected"], sent.text
    assert wait_for(lambda: len(api.get(f"/traces/{TRACE}/graph").json().get("nodes", [])) == NODES, timeout=120)

    api_ms = []
    for _ in range(max(runs, 5)):
        started = time.perf_counter()
        graph = api.get(f"/traces/{TRACE}/graph")
        assert graph.status_code == 200
        graph.json()
        api_ms.append((time.perf_counter() - started) * 1000)
    trace, body = api.get(f"/traces/{TRACE}").json(), graph.json()
    grouped, full = trace_elements(trace, body), trace_elements(trace, body, expanded=["*"])
    token = api.http.headers["Authorization"].removeprefix("Bearer ")

    results: dict[str, list[float]] = {"grouped": [], "all": []}
    answered: dict[str, list[float]] = {"grouped": [], "all": []}
    with chromium() as driver:
        driver.set_script_timeout(120)
        driver.get(f"{server.base}/dashboard/")
        driver.execute_script(
            "sessionStorage.setItem('session', JSON.stringify({token: arguments[0], who: 'bench'}));", token
        )
        url = f"{server.base}/dashboard/traces/{TRACE}"
        for _ in range(runs):
            for name, suffix, view in (("grouped", "", grouped), ("all", "?expand=all", full)):
                driver.get(url + suffix)
                rendered, callback_done = driver.execute_async_script(_WAIT_RENDER, "trace-graph", len(view.nodes()))
                results[name].append(rendered)
                answered[name].append(callback_done)
        # the expanded view is loaded last: its cytoscape instance holds every node to pick from
        layouts = [
            driver.execute_script(_DAGRE, "trace-graph", dagre, DAGRE_LR, trace_id(TRACE))
            for _ in range(runs if dagre else 0)
        ]

    api_median = statistics.median(api_ms)
    print(f"trace of {NODES} nodes, {len(body['edges'])} flows; medians of {runs} runs (API: {len(api_ms)})")
    print(f"  (a) API GET /traces/{{key}}/graph alone: {api_median:.1f} ms")
    for name, view in (("grouped", grouped), ("all", full)):
        median = statistics.median(results[name])
        served = statistics.median(answered[name])
        label = "large fan-outs grouped (default view)" if name == "grouped" else "everything drawn (?expand=all)"
        print(f"  (b) browser, navigation → first render, {label}: {median:.1f} ms = {median / api_median:.1f}x (a)")
        print(
            f"      {view.shown} graph nodes drawn, {len(view.nodes())} cytoscape nodes, {len(view.edges())} edges; "
            f"page load + Dash callback answered at {served:.0f} ms, cytoscape add + layout + paint {median - served:.0f} ms"
        )
    for i in range(len(dagre)):
        _, nodes, edges, _ = layouts[0][i]
        took = statistics.median(layout[i][3] for layout in layouts)
        print(f"  (c) dagre (rankDir LR) alone, {nodes} nodes and {edges} edges of the expanded trace: {took:.0f} ms")


if __name__ == "__main__":
    main()
