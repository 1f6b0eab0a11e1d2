"""CSS of the top bar (key search, Copy link) and of the pages that are tables: the traces list, the
Cypher console, the key search. Appended after styles.PAGE_CSS, so these rules win."""

from __future__ import annotations

PAGES_CSS = """
header.topbar { position:relative; z-index:20; }
header.topbar .jump { position:relative; }
header.topbar .jump .dash-input-container { background:#37474f; border-color:#78909c; }
header.topbar .jump input { background:transparent; color:#fff; }
header.topbar .jump input::placeholder { color:#b0bec5; }
header.topbar .suggestions { position:absolute; top:100%; left:0; min-width:100%; max-width:640px; background:#fff;
  color:var(--fg); border:1px solid var(--line); border-radius:4px; box-shadow:0 4px 14px rgba(0,0,0,.18); }
header.topbar .suggestions:empty, header.topbar .jump:not(:focus-within) .suggestions { display:none; }
header.topbar .suggestions a { display:flex; justify-content:space-between; gap:12px; color:var(--fg);
  padding:5px 8px; border-radius:0; white-space:nowrap; }
header.topbar .suggestions a:hover, header.topbar .suggestions a:focus { background:#e3f2fd; }
header.topbar .suggestions a.all { color:var(--accent); border-top:1px solid var(--line); }
.suggestion { padding:5px 8px; }
.kind { font-size:11px; padding:0 6px; border-radius:8px; background:#eceff1; color:#37474f; align-self:center; }
.kind-trace { background:#ede7f6; color:#4527a0; } .kind-file { background:#e3f2fd; color:#0d47a1; }
.kind-sink { background:#e8f5e9; color:#1b5e20; }
header.topbar #copy-link { background:transparent; color:#eceff1; border-color:#78909c; padding:3px 10px; }
header.topbar .copied { color:#a5d6a7; font-size:12px; }
.title-row { display:flex; align-items:baseline; gap:12px; }
#traces-total { color:var(--muted); font-size:14px; }
input::placeholder, textarea::placeholder { color:#9aa5b1; font-style:italic; }
input:disabled { background:#eceff1; color:#90a4ae; cursor:not-allowed; }
.table-scroll { max-height:calc(100vh - 300px); min-height:120px; overflow:auto; border:1px solid var(--line);
  border-radius:6px; background:#fff; }
table.grid.compact th, table.grid.compact td { padding:2px 8px; line-height:18px; white-space:nowrap; }
table.grid.compact td.reasons { white-space:normal; min-width:220px; max-width:420px; }
table.grid.compact th { z-index:1; }
table.grid th button.sort { border:0; background:transparent; padding:0; font:inherit; font-weight:bold; cursor:pointer; }
table.grid th button.sort:hover { text-decoration:underline; }
table.grid td.bad { color:var(--bad); background:#ffebee; font-weight:bold; }
table.grid tr.has-drops td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
table.grid tbody tr:hover td { background:#f5f9ff; }
table.grid tbody tr:hover td.bad { background:#ffdde1; }
.pager .hint { margin-left:auto; font-size:12px; }
a.key-link, a.trace-link { color:#1565c0; text-decoration:none; }
a.key-link:hover, a.trace-link:hover { text-decoration:underline; }
.error.mono, textarea.cypher { font-family:"Liberation Mono", "DejaVu Sans Mono", monospace; font-size:13px; }
textarea.cypher { tab-size:4; line-height:1.4; }
#not-found .toolbar { gap:16px; }
.stats { display:flex; gap:12px; align-items:flex-start; }
.stats .stats-main { flex:1 1 auto; min-width:0; }
.stats .charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(480px, 1fr)); gap:10px; }
.stats .chart { border:1px solid var(--line); border-radius:6px; overflow:hidden; }
.stats .insights { flex:0 0 420px; max-width:420px; max-height:calc(100vh - 200px); overflow:auto; margin:0; }
.insights h3 { margin-top:0; }
.insight h4 { margin:12px 0 4px; font-size:13px; color:#37474f; }
.insight table.grid { table-layout:fixed; font-size:12px; } .insight td { overflow-wrap:anywhere; }
.insight .none { margin:2px 0 6px; font-size:12px; }
#stats-range-info { color:var(--muted); font-size:14px; }
"""
