"""Left-to-right positions for big pictures, computed here instead of in the browser.

dagre (in the browser) draws the seed picture nicely but is superlinear: measured in headless
Chromium on 2 cores (bench/dashboard_render.py --dagre), 0.4 s for 250 nodes, 0.5 s for 470, 6.8 s
for 900. Above DAGRE_MAX nodes the dashboard sends positions computed by `layered` (linear time:
longest-path columns, a tidy tree for rows) and cytoscape's `preset` layout only draws them.

Either way the picture is fitted first; where that leaves labels too small to read, the browser
(callbacks/viewport.py, on the layout's `ftel` options) zooms to a readable size and centres on the
layout's focus: the node a link asked for, else this trace's first drop, else the start of the flow.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

from dashboard.styles import DAGRE_LR, MAX_OPEN_ZOOM, MIN_READ_ZOOM, READ_ZOOM

DAGRE_MAX = 250  # drawn nodes up to which the browser runs dagre

RANK_GAP = 70.0  # px between columns, like dagre's rankSep
ROW_GAP = 12.0
CHAR_W = 6.6  # px per character of an 11 px label, a little generous
LINE_H = 14.0
PAD = 16.0


def node_size(label: str) -> tuple[float, float]:
    lines = label.split("\n") or [""]
    return min(max(len(line) for line in lines), 34) * CHAR_W + PAD, len(lines) * LINE_H + PAD


def layered(elements: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Positions {id: {x, y}}: a node's column is its longest path from a source, so every flow points
    right; rows follow a depth-first spanning tree, each parent centred on its children."""
    nodes = [e["data"] for e in elements if "source" not in e["data"] and e["data"].get("kind") != "group"]
    ids = [n["id"] for n in nodes]
    size = {n["id"]: node_size(str(n.get("label") or n["id"])) for n in nodes}
    children: dict[str, list[str]] = defaultdict(list)
    indegree: dict[str, int] = {i: 0 for i in ids}
    for e in elements:
        d = e["data"]
        if "source" in d and d["source"] in indegree and d["target"] in indegree and d["source"] != d["target"]:
            children[d["source"]].append(d["target"])
            indegree[d["target"]] += 1

    # Columns: longest path over the DAG (Kahn); nodes left in cycles go one right of their ranked parents.
    rank = {i: 0 for i in ids}
    remaining = dict(indegree)
    queue = deque(i for i in ids if remaining[i] == 0)
    ordered: list[str] = []
    while queue:
        node = queue.popleft()
        ordered.append(node)
        for kid in children[node]:
            rank[kid] = max(rank[kid], rank[node] + 1)
            remaining[kid] -= 1
            if remaining[kid] == 0:
                queue.append(kid)
    for node in ids:
        if remaining[node] > 0:  # in a cycle
            ordered.append(node)

    # Rows: depth-first spanning tree from the sources, leaves stacked top to bottom.
    roots = [i for i in ids if indegree[i] == 0] + [i for i in ids if remaining[i] > 0]
    y: dict[str, float] = {}
    tree_kids: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    cursor = 0.0
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                kids = tree_kids[node]
                if kids:
                    y[node] = (y[kids[0]] + y[kids[-1]]) / 2
                else:
                    h = size[node][1]
                    y[node] = cursor + h / 2
                    cursor += h + ROW_GAP
                continue
            stack.append((node, True))
            fresh = [k for k in children[node] if k not in seen]
            for kid in fresh:
                seen.add(kid)
            tree_kids[node] = fresh
            stack.extend((kid, False) for kid in reversed(fresh))

    widths: dict[int, float] = defaultdict(float)
    for node in ids:
        widths[rank[node]] = max(widths[rank[node]], size[node][0])
    left, column_x = 0.0, {}
    for r in range(max(widths, default=0) + 1):
        column_x[r] = left + widths[r] / 2
        left += widths[r] + RANK_GAP
    return {node: {"x": round(column_x[rank[node]], 1), "y": round(y[node], 1)} for node in ids}


def with_layout(
    elements: list[dict[str, Any]], run: int = 0, *, focus: list[str] | None = None, select: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Elements and the cytoscape layout to draw them with: dagre for pictures of up to DAGRE_MAX
    nodes, preset positions from `layered` above. `focus` (element ids) is where to look first when
    the fitted picture is unreadable, `select` the node to select and show (a link's ?node=). `run`
    changes the layout dict so cytoscape runs it again."""
    opening = {
        "focus": list(focus or []),
        "select": select,
        "minZoom": MIN_READ_ZOOM,
        "readZoom": READ_ZOOM,
        "maxZoom": MAX_OPEN_ZOOM,
    }
    drawn = sum(1 for e in elements if "source" not in e["data"] and e["data"].get("kind") != "group")
    if drawn <= DAGRE_MAX:
        return elements, {**DAGRE_LR, "run": run, "ftel": opening}
    positions = layered(elements)
    placed = [{**e, "position": positions[e["data"]["id"]]} if e["data"]["id"] in positions else e for e in elements]
    return placed, {"name": "preset", "animate": False, "fit": True, "padding": 24, "run": run, "ftel": opening}
