"""How things look: status colours (one table for the graph and the legend), the cytoscape
stylesheet, the dagre left-to-right layout and the page CSS (inline, so the package needs no assets)."""

from __future__ import annotations

from typing import Any

STATUS_COLOURS = {
    "received": "#8d99a6",
    "stored": "#5c7c99",
    "converted": "#2e7d32",
    "written": "#1565c0",
    "dropped": "#c62828",
    "expired": "#ef6c00",
    "deleted": "#455a64",
    "unknown": "#9e9e9e",
}
TRACE_COLOUR = "#6a1b9a"
DROP_FILL = "#ffebee"

KIND_SHAPES = {"file": "round-rectangle", "data": "ellipse", "sink": "barrel", "trace": "hexagon"}

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
                "text-max-width": "170px",
                "font-size": "11px",
                "font-family": "Liberation Sans, Arial, sans-serif",
                "text-valign": "center",
                "text-halign": "center",
                "color": "#ffffff",
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
                "font-size": "9px",
                "color": "#37474f",
                "text-background-color": "#ffffff",
                "text-background-opacity": 0.9,
                "text-background-padding": "1px",
                "min-zoomed-font-size": 7,
            },
        },
        {"selector": "node:selected", "style": {"border-width": 3, "border-color": "#ffca28"}},
        {
            "selector": ".trace",
            "style": {
                "shape": KIND_SHAPES["trace"],
                "background-color": TRACE_COLOUR,
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
                "color": STATUS_COLOURS["dropped"],
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
    ]
    for kind, shape in KIND_SHAPES.items():
        if kind != "trace":
            sheet.append({"selector": f".{kind}", "style": {"shape": shape}})
    for status, colour in STATUS_COLOURS.items():
        sheet.append(
            {"selector": f".file.{status}, .data.{status}, .sink.{status}", "style": {"background-color": colour}}
        )
    return sheet


PAGE_CSS = """
:root { --fg:#1f2933; --muted:#607080; --line:#d9dee3; --accent:#6a1b9a; --bad:#c62828; --bg:#f6f7f9; }
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
.flow .side { flex:0 0 380px; max-height:720px; overflow:auto; }
.toolbar { display:flex; gap:6px; align-items:center; flex-wrap:wrap; margin:6px 0; }
.legend { display:flex; gap:12px; flex-wrap:wrap; align-items:center; font-size:12px; color:var(--muted); margin:4px 0 8px; }
.legend .swatch { display:inline-block; width:14px; height:14px; border-radius:3px; vertical-align:middle; margin-right:4px;
                  border:1px solid #37474f; }
.chips { display:flex; gap:8px; flex-wrap:wrap; margin:6px 0; }
.chip { background:#eceff1; border-radius:12px; padding:2px 10px; font-size:13px; }
.chip.bad { background:#ffebee; color:var(--bad); }
.status { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:12px; }
.drop-reason { background:#ffebee; border-left:4px solid var(--bad); color:#b71c1c; padding:6px 10px; margin:6px 0; }
.kv { display:grid; grid-template-columns: 110px 1fr; gap:2px 8px; font-size:13px; }
.kv dt { color:var(--muted); } .kv dd { margin:0; word-break:break-all; }
.log-warn td { color:#e65100; } .log-error td { color:#b71c1c; } .log-debug td { color:#78909c; }
h2 { margin:4px 0 8px; font-size:18px; } h3 { margin:10px 0 6px; font-size:15px; }
textarea.cypher { width:100%; font-family: "Liberation Mono", monospace; font-size:13px; }
#lineage-message { min-height: 22px; }
details summary { cursor:pointer; color:var(--muted); margin:6px 0; }
"""
