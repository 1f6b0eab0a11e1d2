"""How things look: status colours (one table for the graph and the legend), the cytoscape
stylesheet, the dagre left-to-right layout and the page CSS (inline, so the package needs no assets)."""

from __future__ import annotations

from typing import Any

# Fills of the graph's nodes and the status badges. Each carries its label colour (STATUS_TEXT) at
# WCAG AA contrast (4.5:1, tests/unit/test_contrast.py); "received" is a light fill with dark text so
# that it stands apart from "stored" at a glance, not only by hue.
STATUS_COLOURS = {
    "received": "#cfd8dc",
    "stored": "#00695c",
    "converted": "#2e7d32",
    "written": "#1565c0",
    "dropped": "#c62828",
    "expired": "#b34700",
    "deleted": "#3e2723",
    "unknown": "#616161",
}
LIGHT_TEXT = "#ffffff"
DARK_TEXT = "#1f2933"
STATUS_TEXT = {status: DARK_TEXT if status == "received" else LIGHT_TEXT for status in STATUS_COLOURS}
TRACE_COLOUR = "#6a1b9a"
DROP_FILL = "#ffebee"
DROP_TEXT = "#b71c1c"
EDGE_TEXT = "#263238"
# Lineage: one light tint per trace behind its nodes (cycled), its name above the box in GROUP_TEXT.
TRACE_TINTS = ("#e3f2fd", "#f3e5f5", "#e8f5e9", "#fff3e0", "#e0f7fa", "#fce4ec", "#f1f8e9", "#ede7f6")
GROUP_TEXT = "#1f2933"
GROUP_BORDER = "#78909c"

KIND_SHAPES = {"file": "round-rectangle", "data": "ellipse", "sink": "barrel", "trace": "hexagon"}

# Labels are NODE_FONT_PX at zoom 1; below MIN_LABEL_PX on screen they are not read but guessed, so a
# picture opens fitted only when that keeps labels at least that big, else at READ_ZOOM, panned.
NODE_FONT_PX = 12
EDGE_FONT_PX = 10
MIN_LABEL_PX = 10.5
MIN_READ_ZOOM = MIN_LABEL_PX / NODE_FONT_PX
READ_ZOOM = 1.0
MAX_OPEN_ZOOM = 1.3  # a tiny picture is not blown up beyond this when fitted
EDGE_LABEL_ZOOM = 1.25  # edge labels (the op) show from this zoom on, or on hover and for the selected node

# dagre: ranks run left to right like the seed picture (trace → files → data → data → outputs).
DAGRE_LR: dict[str, Any] = {
    "name": "dagre",
    "rankDir": "LR",
    "nodeSep": 14,
    "rankSep": 70,
    "edgeSep": 6,
    "ranker": "network-simplex",
    "fit": True,
    "padding": 24,
    "animate": False,
}


def cytoscape_stylesheet() -> list[dict[str, Any]]:
    sheet: list[dict[str, Any]] = [
        {
            "selector": "node",
            "style": {
                "label": "data(label)",
                "text-wrap": "wrap",
                "text-max-width": "180px",
                "font-size": f"{NODE_FONT_PX}px",
                "font-family": "Liberation Sans, Arial, sans-serif",
                "text-valign": "center",
                "text-halign": "center",
                "color": STATUS_TEXT["unknown"],
                "width": "label",
                "height": "label",
                "padding": "8px",
                "border-width": 1,
                "border-color": "#37474f",
                "background-color": STATUS_COLOURS["unknown"],
                "min-zoomed-font-size": 5,
            },
        },
        {
            "selector": "edge",
            "style": {
                "width": 1.5,
                "line-color": "#90a4ae",
                "target-arrow-color": "#90a4ae",
                "target-arrow-shape": "triangle",
                "arrow-scale": 0.9,
                "curve-style": "taxi",
                "taxi-direction": "rightward",
                "taxi-turn": "45%",
                "label": "data(op)",
                "font-size": f"{EDGE_FONT_PX}px",
                "color": EDGE_TEXT,
                "text-background-color": "#ffffff",
                "text-background-opacity": 1,
                "text-background-padding": "2px",
                "text-background-shape": "roundrectangle",
                # hidden below EDGE_LABEL_ZOOM: at a fan-out, every edge's label lands on the same spot
                "min-zoomed-font-size": EDGE_FONT_PX * EDGE_LABEL_ZOOM,
            },
        },
        {
            "selector": "edge.lit, edge.hover, edge:selected",
            "style": {
                "min-zoomed-font-size": 0,
                "font-weight": "bold",
                "line-color": "#37474f",
                "target-arrow-color": "#37474f",
                "width": 2.5,
                "z-index": 20,
            },
        },
        {"selector": ".hidden", "style": {"display": "none"}},
        {
            "selector": ".trace",
            "style": {
                "shape": KIND_SHAPES["trace"],
                "background-color": TRACE_COLOUR,
                "color": LIGHT_TEXT,
                "padding": "14px",
                "font-weight": "bold",
            },
        },
        {
            "selector": ".drop",
            "style": {
                "shape": "round-rectangle",
                "background-color": DROP_FILL,
                "border-color": STATUS_COLOURS["dropped"],
                "border-width": 2,
                "color": DROP_TEXT,
                "font-weight": "bold",
                "text-max-width": "220px",
            },
        },
        {
            "selector": ".drop-edge",
            "style": {
                "line-color": STATUS_COLOURS["dropped"],
                "target-arrow-color": STATUS_COLOURS["dropped"],
                "line-style": "dashed",
            },
        },
        {
            "selector": ".more",
            "style": {
                "shape": "round-rectangle",
                "background-color": "#eceff1",
                "border-style": "dashed",
                "border-width": 2,
                "border-color": "#607d8b",
                "color": "#263238",
            },
        },
        {
            "selector": ".more-edge",
            "style": {"line-style": "dashed", "line-color": "#b0bec5", "target-arrow-color": "#b0bec5"},
        },
        {
            "selector": ".external",
            "style": {
                "background-color": "#ffffff",
                "border-style": "dashed",
                "border-color": "#78909c",
                "color": "#37474f",
            },
        },
        {"selector": ".root", "style": {"border-width": 5, "border-style": "double", "border-color": "#263238"}},
        {"selector": ".contains", "style": {"line-color": "#b39ddb", "target-arrow-color": "#b39ddb"}},
        {
            "selector": ".group",
            "style": {
                "shape": "round-rectangle",
                "background-color": "data(tint)",
                "background-opacity": 1,
                "border-color": GROUP_BORDER,
                "border-width": 1,
                "label": "data(label)",
                "color": GROUP_TEXT,
                "font-weight": "bold",
                "text-valign": "top",
                "text-halign": "center",
                "text-margin-y": -4,
                "padding": "14px",
            },
        },
    ]
    for kind, shape in KIND_SHAPES.items():
        if kind != "trace":
            sheet.append({"selector": f".{kind}", "style": {"shape": shape}})
    for status, colour in STATUS_COLOURS.items():
        sheet.append(
            {
                "selector": f".file.{status}, .data.{status}, .sink.{status}",
                "style": {"background-color": colour, "color": STATUS_TEXT[status]},
            }
        )
    # dropped by another trace: the node keeps its status colour, with a dashed outline saying "not ours"
    sheet.append({"selector": ".elsewhere", "style": {"border-style": "dashed", "border-width": 3}})
    sheet.append(
        {"selector": "node:selected", "style": {"border-width": 4, "border-color": "#ffb300", "border-style": "solid"}}
    )
    return sheet


PAGE_CSS = """
:root { --fg:#1f2933; --muted:#5b6b7a; --line:#d9dee3; --accent:#6a1b9a; --bad:#c62828; --bg:#f6f7f9; }
* { box-sizing: border-box; }
body { margin:0; font-family: "Liberation Sans", Arial, sans-serif; color:var(--fg); background:var(--bg); font-size:14px; }
header.topbar { display:flex; align-items:center; gap:18px; padding:8px 18px; background:#263238; color:#fff; }
header.topbar a { color:#eceff1; text-decoration:none; padding:4px 6px; border-radius:4px; }
header.topbar a:hover { background:#37474f; }
header.topbar .brand { font-weight:bold; font-size:16px; color:#fff; }
header.topbar .account { margin-left:auto; display:flex; align-items:center; gap:10px; color:#cfd8dc; font-size:13px; }
main { padding:14px 18px; }
.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:12px 14px; margin-bottom:12px; }
.signin { max-width:760px; }
.signin .row { display:flex; gap:8px; flex-wrap:wrap; align-items:center; margin:6px 0; }
input, select, textarea { font:inherit; padding:5px 7px; border:1px solid #b0bec5; border-radius:4px; background:#fff; }
button { font:inherit; padding:5px 12px; border:1px solid #546e7a; border-radius:4px; background:#fff; cursor:pointer; }
button.primary { background:#37474f; color:#fff; border-color:#37474f; }
button:disabled { opacity:.45; cursor:default; }
.error { background:#ffebee; border:1px solid #ef9a9a; color:#b71c1c; padding:8px 12px; border-radius:4px; margin:8px 0;
         white-space:pre-wrap; }
.notice { background:#fff8e1; border:1px solid #ffe082; padding:8px 12px; border-radius:4px; margin:8px 0; }
.empty { color:var(--muted); padding:18px; text-align:center; border:1px dashed var(--line); border-radius:6px; background:#fff; }
.muted { color:var(--muted); }
table.grid { border-collapse:collapse; width:100%; background:#fff; }
table.grid th, table.grid td { border-bottom:1px solid var(--line); padding:5px 8px; text-align:left; vertical-align:top; }
table.grid th { background:#eceff1; font-weight:bold; position:sticky; top:0; }
table.grid td.num, table.grid th.num { text-align:right; font-variant-numeric: tabular-nums; }
.filters { display:flex; gap:8px; flex-wrap:wrap; align-items:flex-end; }
.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:2px; }
.pager { display:flex; gap:8px; align-items:center; margin-top:8px; }
.flow { display:flex; gap:12px; align-items:stretch; }
.flow .graph { flex:1 1 auto; min-width:0; background:#fff; border:1px solid var(--line); border-radius:6px; }
.flow .side { flex:0 0 400px; max-width:400px; max-height:720px; overflow:auto; }
.flow .side table.grid { table-layout:fixed; font-size:12px; } .flow .side td { overflow-wrap:anywhere; }
.flow .side h3 { overflow-wrap:anywhere; }
#panel-events td:nth-child(1), #panel-logs td:nth-child(1) { width:84px; }
#panel-events td:nth-child(2) { width:96px; } #panel-events td:nth-child(3) { width:56px; }
#panel-logs td:nth-child(2) { width:48px; }
.node-list { max-height:420px; overflow:auto; }
.node-list tr[data-select] { cursor:pointer; } .node-list tr[data-select]:hover td { background:#fff8e1; }
.drop-reason[data-select] { cursor:pointer; } .drop-reason[data-select]:hover { text-decoration:underline; }
.trace-logs { max-height:240px; overflow:auto; font-size:13px; }
.find { display:inline-flex; gap:4px; align-items:center; }
.trace-groups { display:flex; gap:10px; flex-wrap:wrap; align-items:center; font-size:13px; margin:4px 0; }
.trace-groups .swatch { display:inline-block; width:14px; height:14px; border:1px solid #78909c; border-radius:3px;
                        vertical-align:middle; margin-right:4px; }
.toolbar { display:flex; gap:6px; align-items:center; flex-wrap:wrap; margin:6px 0; }
.legend { display:flex; gap:12px; flex-wrap:wrap; align-items:center; font-size:12px; color:var(--muted); margin:4px 0 8px; }
.legend .swatch { display:inline-block; width:14px; height:14px; border-radius:3px; vertical-align:middle; margin-right:4px;
                  border:1px solid #37474f; }
.chips { display:flex; gap:8px; flex-wrap:wrap; margin:6px 0; }
.chip { background:#eceff1; border-radius:12px; padding:2px 10px; font-size:13px; }
.chip.bad { background:#ffebee; color:var(--bad); }
.status { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; background:#616161; font-size:12px; }
.drop-reason { background:#ffebee; border-left:4px solid var(--bad); color:#b71c1c; padding:6px 10px; margin:6px 0; }
.kv { display:grid; grid-template-columns: 110px 1fr; gap:2px 8px; font-size:13px; }
.kv dt { color:var(--muted); } .kv dd { margin:0; word-break:break-all; }
.log-warn td, .log-warn { color:#b33c00; } .log-error td, .log-error { color:#b71c1c; }
.log-debug td, .log-debug { color:#546e7a; }
h2 { margin:4px 0 8px; font-size:18px; } h3 { margin:10px 0 6px; font-size:15px; }
textarea.cypher { width:100%; font-family: "Liberation Mono", monospace; font-size:13px; }
#lineage-message { min-height: 22px; }
details summary { cursor:pointer; color:var(--muted); margin:6px 0; }
"""
