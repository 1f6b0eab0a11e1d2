"""CSS of the top bar (key search, Copy link) and of the pages that are tables: the traces list, the
Cypher console, the key search. Appended after styles.PAGE_CSS, so these rules win.

Its colours are named once, in PALETTE (CSS variables, beside the page's own --fg, --muted, --bad, ...),
and READABLE pairs every text colour with each background it is drawn on: tests/unit/test_contrast.py
checks that each pair reaches WCAG AA (4.5:1) and that the rules use no colour PALETTE does not name."""

from __future__ import annotations

PALETTE = {
    "--topbar": "#263238",  # header.topbar's background in styles.PAGE_CSS
    "--topbar-field": "#37474f",  # the key box on it
    "--topbar-field-line": "#78909c",
    "--topbar-text": "#ffffff",
    "--topbar-placeholder": "#b0bec5",
    "--topbar-soft": "#eceff1",  # Copy link
    "--copied": "#a5d6a7",
    "--surface": "#ffffff",  # the suggestions, the scrolling tables, an input
    "--hover": "#e3f2fd",  # a suggestion under the pointer or focused
    "--kind": "#37474f",
    "--kind-bg": "#eceff1",
    "--kind-trace": "#4527a0",
    "--kind-trace-bg": "#ede7f6",
    "--kind-file": "#0d47a1",
    "--kind-file-bg": "#e3f2fd",
    "--kind-sink": "#1b5e20",
    "--kind-sink-bg": "#e8f5e9",
    "--placeholder": "#5b6b7a",  # an example in an empty field: italic, so it is not taken for a value
    "--disabled": "#546e7a",
    "--disabled-bg": "#eceff1",
    "--bad-bg": "#ffebee",  # a count of drops, in --bad
    "--bad-hover-bg": "#ffe2e5",
    "--row-hover": "#f5f9ff",
    "--link": "#1565c0",
    "--subheading": "#37474f",  # the Stats page's insight headings
}

# (text, background) as the variables above or the page's (styles.PAGE_CSS :root): every way the rules
# below put a text colour on a background, hover and focus included.
READABLE = (
    ("--topbar-text", "--topbar-field"),
    ("--topbar-placeholder", "--topbar-field"),
    ("--topbar-soft", "--topbar"),
    ("--copied", "--topbar"),
    ("--fg", "--surface"),  # a suggestion
    ("--fg", "--hover"),
    ("--muted", "--surface"),  # "No key starts with …"
    ("--accent", "--surface"),  # All keys starting with …
    ("--accent", "--hover"),
    ("--kind", "--kind-bg"),
    ("--kind-trace", "--kind-trace-bg"),
    ("--kind-file", "--kind-file-bg"),
    ("--kind-sink", "--kind-sink-bg"),
    ("--muted", "--bg"),  # the traces total
    ("--placeholder", "--surface"),
    ("--placeholder", "--disabled-bg"),  # a disabled field's example
    ("--disabled", "--disabled-bg"),
    ("--bad", "--bad-bg"),
    ("--bad", "--bad-hover-bg"),
    ("--fg", "--row-hover"),
    ("--muted", "--row-hover"),
    ("--link", "--surface"),
    ("--link", "--row-hover"),
    ("--subheading", "--surface"),
)

PAGES_CSS = (
    ":root { "
    + " ".join(f"{name}:{colour};" for name, colour in PALETTE.items())
    + " }\n"
    + """header.topbar { position:relative; z-index:20; }
header.topbar .jump { position:relative; }
header.topbar .jump .dash-input-container { background:var(--topbar-field); border-color:var(--topbar-field-line); }
header.topbar .jump input { background:transparent; color:var(--topbar-text); }
header.topbar .jump input::placeholder { color:var(--topbar-placeholder); }
header.topbar .suggestions { position:absolute; top:100%; left:0; min-width:100%; max-width:640px;
  background:var(--surface); color:var(--fg); border:1px solid var(--line); border-radius:4px;
  box-shadow:0 4px 14px rgba(0,0,0,.18); }
header.topbar .suggestions:empty, header.topbar .jump:not(:focus-within) .suggestions { display:none; }
header.topbar .suggestions a { display:flex; justify-content:space-between; gap:12px; color:var(--fg);
  padding:5px 8px; border-radius:0; white-space:nowrap; }
header.topbar .suggestions a:hover, header.topbar .suggestions a:focus { background:var(--hover); }
header.topbar .suggestions a.all { color:var(--accent); border-top:1px solid var(--line); }
.suggestion { padding:5px 8px; }
.kind { font-size:11px; padding:0 6px; border-radius:8px; background:var(--kind-bg); color:var(--kind);
  align-self:center; }
.kind-trace { background:var(--kind-trace-bg); color:var(--kind-trace); }
.kind-file { background:var(--kind-file-bg); color:var(--kind-file); }
.kind-sink { background:var(--kind-sink-bg); color:var(--kind-sink); }
header.topbar #copy-link { background:transparent; color:var(--topbar-soft); border-color:var(--topbar-field-line);
  padding:3px 10px; }
header.topbar .copied { color:var(--copied); font-size:12px; }
.title-row { display:flex; align-items:baseline; gap:12px; }
#traces-total { color:var(--muted); font-size:14px; }
input::placeholder, textarea::placeholder { color:var(--placeholder); font-style:italic; }
input:disabled { background:var(--disabled-bg); color:var(--disabled); cursor:not-allowed; }
.table-scroll { max-height:calc(100vh - 300px); min-height:120px; overflow:auto; border:1px solid var(--line);
  border-radius:6px; background:var(--surface); }
table.grid.compact th, table.grid.compact td { padding:2px 8px; line-height:18px; white-space:nowrap; }
table.grid.compact td.reasons { white-space:normal; min-width:220px; max-width:420px; }
table.grid.compact th { z-index:1; }
table.grid th button.sort { border:0; background:transparent; padding:0; font:inherit; font-weight:bold; cursor:pointer; }
table.grid th button.sort:hover { text-decoration:underline; }
table.grid td.bad { color:var(--bad); background:var(--bad-bg); font-weight:bold; }
table.grid tr.has-drops td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
table.grid tbody tr:hover td { background:var(--row-hover); }
table.grid tbody tr:hover td.bad { background:var(--bad-hover-bg); }
.pager .hint { margin-left:auto; font-size:12px; }
a.key-link, a.trace-link { color:var(--link); text-decoration:none; }
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
.insight h4 { margin:12px 0 4px; font-size:13px; color:var(--subheading); }
.insight table.grid { table-layout:fixed; font-size:12px; }
.insight table.grid.compact td { white-space:normal; overflow-wrap:anywhere; }
.insight .none { margin:2px 0 6px; font-size:12px; }
#stats-range-info { color:var(--muted); font-size:14px; }
"""
)
