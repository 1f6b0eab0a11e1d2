"""What the graphs do in the browser alone: open at a readable zoom, Fit / Zoom, find-in-graph, drops only,
edge labels on hover and selection, rows and drop reasons that select nodes, image export, and the view
kept in the URL.

A page writes its view to the address bar itself (replaceState, or pushState for a new lineage search) and
then tells dcc.Location through URL_WRITE, so that Location knows the address (a later link to the one it
knew before opens that page again) and the router knows the page shows it already (no rebuild).

The functions live in one script (GRAPH_JS, `window.ftelGraph`), defined by whichever callback runs first.
The layout dict of each picture carries an `ftel` entry (placement.with_layout): cytoscape keeps unknown
layout options, so a `layoutstop` handler reads them and places the viewport after every layout run.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State

from dashboard.callbacks.common import URL_WRITE
from dashboard.styles import MAX_OPEN_ZOOM, MIN_READ_ZOOM, READ_ZOOM

GRAPHS = ("trace", "lineage")


def register_viewport(app: dash.Dash) -> None:
    # Cytoscape caches where its canvas is on the page: when text above it changes height, clicks
    # would land off target until it is told (cy.resize()).
    for prefix, above in (("trace", "trace-view-info"), ("lineage", "lineage-message")):
        _clientside(app, _RESIZE_JS, prefix, Output(f"{prefix}-resized", "data"), Input(above, "children"))
    for prefix in GRAPHS:
        _clientside(
            app,
            _VIEWPORT_JS,
            prefix,
            Output(f"{prefix}-viewport", "data"),
            Input(f"{prefix}-fit", "n_clicks"),
            Input(f"{prefix}-zoom-in", "n_clicks"),
            Input(f"{prefix}-zoom-out", "n_clicks"),
        )
        # Started by a store no callback writes: an input that other callbacks output (the graph's layout)
        # is not called when the page appears. Later layouts are placed by the layoutstop handler it installs.
        _clientside(
            app,
            _OPENING_JS,
            prefix,
            Output(f"{prefix}-opened", "data"),
            Input(f"{prefix}-image-name", "data"),
            State(f"{prefix}-graph", "layout"),
            initial=True,
        )
        _clientside(
            app,
            _FIND_JS,
            prefix,
            Output(f"{prefix}-find-info", "children"),
            Input(f"{prefix}-find", "n_submit"),
            Input(f"{prefix}-find-next", "n_clicks"),
            State(f"{prefix}-find", "value"),
        )
        _clientside(
            app,
            _EXPORT_JS,
            prefix,
            Output(f"{prefix}-graph", "generateImage"),
            Input(f"{prefix}-png", "n_clicks"),
            Input(f"{prefix}-svg", "n_clicks"),
            State(f"{prefix}-image-name", "data"),
        )
    _clientside(
        app,
        _DROPS_ONLY_JS,
        "trace",
        Output("trace-drops-info", "children"),
        Input("trace-drops-only", "value"),
    )
    _clientside(
        app,
        _TRACE_URL_JS,
        "trace",
        list(URL_WRITE),
        Input("trace-graph", "tapNodeData"),
        Input("trace-expanded", "data"),
    )
    _clientside(app, _LINEAGE_URL_JS, "lineage", list(URL_WRITE), Input("lineage-data", "data"))


def _clientside(
    app: dash.Dash,
    body: str,
    prefix: str,
    output: Output | list[Output],
    *inputs: Input | State,
    initial: bool = False,
) -> None:
    """A clientside callback whose body starts by defining GRAPH_JS (once per page load)."""
    source = body.replace("GRAPH_ID", f"{prefix}-graph").replace("PREFIX", prefix)
    app.clientside_callback(  # type: ignore[no-untyped-call]
        source.replace("{", "{" + _LIBRARY_CALL, 1),
        output,
        *inputs,
        prevent_initial_call=not initial,
    )


GRAPH_JS = (
    """
window.ftelGraph = window.ftelGraph || (function () {
    const api = {};
    const DEFAULTS = {minZoom: MIN_READ_ZOOM, readZoom: READ_ZOOM, maxZoom: MAX_OPEN_ZOOM, focus: [], select: null};
    api.cy = function (graphId) {
        const el = document.getElementById(graphId);
        return el && el._cyreg && el._cyreg.cy;
    };
    const shown = cy => cy.nodes().filter(n => n.visible() && !n.isParent());
    const byIds = (cy, ids) => ids.reduce((c, id) => c.union(cy.getElementById(id)), cy.collection());
    // Put `target` on screen at the read zoom: a source (nothing flows into it) near the left edge, so
    // that the flow reads from there; anything else in the middle.
    function place(cy, target, o) {
        const z = o.readZoom;
        cy.zoom(z);
        const p = target.position();
        const source = target.incomers('edge').filter(e => e.visible()).empty();
        const x = source ? 30 + target.outerWidth() * z / 2 : cy.width() / 2;
        cy.pan({x: x - p.x * z, y: cy.height() / 2 - p.y * z});
        // no empty band above or left of the picture: slide it back to the edge
        const box = cy.nodes().filter(n => n.visible()).renderedBoundingBox();
        const pan = cy.pan();
        cy.pan({x: pan.x - Math.max(0, box.x1 - 20), y: pan.y - Math.max(0, box.y1 - 20)});
    }
    // Fit `eles` when their labels stay readable, else show `at` (or the first of them) at the read zoom.
    api.look = function (cy, eles, at) {
        const o = Object.assign({}, DEFAULTS, cy._ftelOpening || {});
        if (!eles || eles.empty()) { eles = shown(cy); }
        if (eles.empty()) { return; }
        cy.fit(eles, 24);
        if (cy.zoom() > o.maxZoom) { cy.zoom(o.maxZoom); cy.center(eles); }
        if (cy.zoom() < o.minZoom) { place(cy, at && at.nonempty() ? at.first() : eles.first(), o); }
    };
    api.opening = function (cy, o) {
        cy._ftelOpening = Object.assign({}, DEFAULTS, o || {});
        o = cy._ftelOpening;
        if (cy._ftelDropsOnly) { cy._ftelSaved = null; api.dropsOnly(cy, true, true); }
        const selected = o.select ? cy.getElementById(o.select) : cy.collection();
        const focus = byIds(cy, o.focus || []).filter(n => n.visible());
        if (selected.nonempty()) { cy.elements().unselect(); selected.select(); }
        api.look(cy, shown(cy), selected.nonempty() ? selected : focus);
        if (selected.nonempty()) {
            const p = selected.renderedPosition();
            if (p.x < 0 || p.y < 0 || p.x > cy.width() || p.y > cy.height()) { cy.center(selected); }
        }
        cy._ftelOpened = Date.now();
    };
    api.install = function (cy) {
        if (cy._ftelInstalled) { return; }
        cy._ftelInstalled = true;
        cy.on('layoutstop', e => {
            const o = e.layout && e.layout.options;
            if (o && o.ftel) { api.opening(cy, o.ftel); }
        });
        cy.on('mouseover', 'edge', e => e.target.addClass('hover'));
        cy.on('mouseout', 'edge', e => e.target.removeClass('hover'));
        cy.on('select unselect', 'node', () => {
            cy.edges('.lit').removeClass('lit');
            cy.nodes(':selected').connectedEdges().addClass('lit');
        });
    };
    api.whenReady = function (graphId, then, tries) {
        const cy = api.cy(graphId);
        if (cy) { api.install(cy); then(cy); return; }
        if ((tries || 0) < 100) { setTimeout(() => api.whenReady(graphId, then, (tries || 0) + 1), 50); }
    };
    api.find = function (cy, text, step) {
        const q = (text || '').trim().toLowerCase();
        if (!q) { cy._ftelFind = null; return ''; }
        const matches = shown(cy).filter(n => ['key', 'label'].some(
            f => String(n.data(f) || '').toLowerCase().includes(q)));
        if (matches.empty()) { cy._ftelFind = null; return 'no node matches “' + text.trim() + '”'; }
        const last = cy._ftelFind;
        const index = last && last.q === q ? (last.index + step) % matches.length : 0;
        cy._ftelFind = {q: q, index: index};
        cy.elements().unselect();
        matches.select();
        const at = matches[index];
        if (index === 0) { api.look(cy, matches, at); }
        else {
            const o = Object.assign({}, DEFAULTS, cy._ftelOpening || {});
            if (cy.zoom() < o.minZoom) { cy.zoom(o.readZoom); }
            cy.center(at);
        }
        return matches.length + (matches.length === 1 ? ' match' : ' matches') +
            (matches.length > 1 ? ' — showing ' + (index + 1) + ' of ' + matches.length + ' (Enter: next)' : '');
    };
    // This trace's drops, their markers and everything upstream of them; the rest hidden.
    // Laid out again on their own (dagre, small), the positions of the whole picture kept to come back to.
    api.dropsOnly = function (cy, on, quiet) {
        if (cy._ftelSaved) {
            cy.batch(() => cy._ftelSaved.forEach(([id, p]) => cy.getElementById(id).position(p)));
            cy._ftelSaved = null;
        }
        cy._ftelDropsOnly = on;
        cy.elements().removeClass('hidden');
        const drops = cy.nodes('.dropped-here');
        if (on) {
            const keep = drops.union(drops.predecessors()).union(cy.elements('.drop, .drop-edge'));
            cy.elements().not(keep.union(keep.parents())).addClass('hidden');
            cy._ftelSaved = cy.nodes().map(n => [n.id(), Object.assign({}, n.position())]);
            keep.layout({name: 'dagre', rankDir: 'LR', nodeSep: 14, rankSep: 70, animate: false, fit: false}).run();
        }
        if (!quiet) { api.look(cy, shown(cy), drops); }
        return on ? drops.length + (drops.length === 1 ? ' drop' : ' drops') + ' of this trace shown' : '';
    };
    // Rows of the node list and drop reasons carry data-graph and data-select (element ids, one a line).
    document.addEventListener('click', ev => {
        const hit = ev.target.closest && ev.target.closest('[data-select]');
        if (!hit || ev.target.closest('a')) { return; }
        const cy = api.cy(hit.dataset.graph);
        if (!cy) { return; }
        const eles = byIds(cy, hit.dataset.select.split('\\n')).filter(n => n.isNode());
        if (eles.empty()) { return; }
        if (eles.some(n => !n.visible())) { api.dropsOnly(cy, false, true); }
        cy.elements().unselect();
        eles.select();
        api.look(cy, eles, eles.first());
        if (hit.dataset.tap && eles.length === 1) { eles.first().emit('tap'); }
        document.getElementById(hit.dataset.graph).scrollIntoView({block: 'nearest'});
    });
    return api;
})();
""".replace("MIN_READ_ZOOM", repr(MIN_READ_ZOOM))
    .replace("READ_ZOOM", repr(READ_ZOOM))
    .replace("MAX_OPEN_ZOOM", repr(MAX_OPEN_ZOOM))
)
_LIBRARY_CALL = "\n" + GRAPH_JS + "\n"

_RESIZE_JS = """
function(_) {
    window.requestAnimationFrame(() => {
        const cy = window.ftelGraph.cy('GRAPH_ID');
        if (cy) { cy.resize(); }
    });
    return Date.now();
}
"""

_OPENING_JS = """
function(_name, layout) {
    window.ftelGraph.whenReady('GRAPH_ID', cy => {
        if (layout && layout.ftel) { window.ftelGraph.opening(cy, layout.ftel); }
    });
    return Date.now();
}
"""

_VIEWPORT_JS = """
function(fit, zoomIn, zoomOut) {
    const cy = window.ftelGraph.cy('GRAPH_ID');
    if (!cy) { return window.dash_clientside.no_update; }
    const ctx = window.dash_clientside.callback_context;
    if (!ctx.triggered.some(t => t.value)) { return window.dash_clientside.no_update; }
    const trigger = ctx.triggered_id;
    if (trigger === 'PREFIX-fit') {
        cy.fit(cy.nodes().filter(n => n.visible()), 24);
    } else {
        const factor = trigger === 'PREFIX-zoom-in' ? 1.25 : 0.8;
        cy.zoom({level: cy.zoom() * factor, renderedPosition: {x: cy.width() / 2, y: cy.height() / 2}});
    }
    return {zoom: cy.zoom(), at: Date.now()};
}
"""

_FIND_JS = """
function(submitted, next, text) {
    const cy = window.ftelGraph.cy('GRAPH_ID');
    if (!cy) { return window.dash_clientside.no_update; }
    return window.ftelGraph.find(cy, text, 1);
}
"""

_DROPS_ONLY_JS = """
function(value) {
    const cy = window.ftelGraph.cy('GRAPH_ID');
    const on = (value || []).includes('on');
    if (!cy || (!on && !cy._ftelDropsOnly)) { return window.dash_clientside.no_update; }
    return window.ftelGraph.dropsOnly(cy, on, false);
}
"""

_EXPORT_JS = """
function(png, svg, name) {
    const ctx = window.dash_clientside.callback_context;
    if (!ctx.triggered.some(t => t.value)) { return window.dash_clientside.no_update; }
    const type = ctx.triggered_id === 'PREFIX-svg' ? 'svg' : 'png';
    return {type: type, action: 'download', filename: name || 'graph', options: {full: true, bg: '#ffffff'}};
}
"""

# ?node=<key>&expand=<element ids, one a line | all>: the trace page a link reopens the same way. Replaced,
# not pushed: Back leaves the trace page rather than undoing clicks.
_TRACE_URL_JS = """
function(tapped, expanded) {
    const params = new URLSearchParams(window.location.search);
    const nodeKinds = ['file', 'data', 'sink', 'external', 'drop'];
    if (tapped && nodeKinds.includes(tapped.kind)) { params.set('node', tapped.key); }
    else if (tapped && tapped.kind === 'trace') { params.delete('node'); }
    if (expanded && expanded.length) { params.set('expand', expanded.includes('*') ? 'all' : expanded.join('\\n')); }
    else { params.delete('expand'); }
    const query = params.toString();
    const url = window.location.pathname + (query ? '?' + query : '');
    const unchanged = window.dash_clientside.no_update;
    if (url === window.location.pathname + window.location.search) { return [unchanged, unchanged]; }
    window.history.replaceState(null, '', url);
    const search = window.location.search;
    return [search, {pathname: window.location.pathname, search: search}];
}
"""

# ?key=&direction=&depth=&open=<keys expanded one step, one a line>&groups=<"+N more" parents>: a person's new
# search is a new history entry (Back returns to the previous one); expanding, and the page opening from a
# URL that leaves a default out, replace the current one (so Back does not land on a page that moves on).
_LINEAGE_URL_JS = """
function(data) {
    const unchanged = window.dash_clientside.no_update;
    if (!data || !data.key) { return [unchanged, unchanged]; }
    const params = new URLSearchParams();
    params.set('key', data.key);
    params.set('direction', data.direction);
    params.set('depth', String(data.depth));
    if (data.opened && data.opened.length) { params.set('open', data.opened.join('\\n')); }
    if (data.expanded && data.expanded.length) { params.set('groups', data.expanded.join('\\n')); }
    const url = window.location.pathname + '?' + params.toString();
    if (url === window.location.pathname + window.location.search) { return [unchanged, unchanged]; }
    const before = new URLSearchParams(window.location.search);
    const same = before.get('key') === data.key && before.get('direction') === data.direction &&
        before.get('depth') === String(data.depth);
    if (data.new_search && !same) { window.history.pushState(null, '', url); }
    else { window.history.replaceState(null, '', url); }
    const search = window.location.search;
    return [search, {pathname: window.location.pathname, search: search}];
}
"""
