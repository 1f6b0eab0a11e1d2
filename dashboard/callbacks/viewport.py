"""Graph viewport callbacks that run in the browser: Fit / Zoom buttons, and telling cytoscape that
its canvas moved."""

from __future__ import annotations

import dash
from dash import Input, Output


def register_viewport(app: dash.Dash) -> None:
    # Cytoscape caches where its canvas is on the page: when text above it changes height, clicks
    # would land off target until it is told (cy.resize()).
    for graph_prefix, above in (("trace", "trace-view-info"), ("lineage", "lineage-message")):
        app.clientside_callback(  # type: ignore[no-untyped-call]
            _RESIZE_JS.replace("GRAPH_ID", f"{graph_prefix}-graph"),
            Output(f"{graph_prefix}-resized", "data"),
            Input(above, "children"),
            prevent_initial_call=True,
        )
    for graph_prefix in ("trace", "lineage"):
        app.clientside_callback(  # type: ignore[no-untyped-call]
            _VIEWPORT_JS.replace("GRAPH_ID", f"{graph_prefix}-graph").replace("PREFIX", graph_prefix),
            Output(f"{graph_prefix}-viewport", "data"),
            Input(f"{graph_prefix}-fit", "n_clicks"),
            Input(f"{graph_prefix}-zoom-in", "n_clicks"),
            Input(f"{graph_prefix}-zoom-out", "n_clicks"),
            prevent_initial_call=True,
        )


_RESIZE_JS = """
function(_) {
    window.requestAnimationFrame(() => {
        const el = document.getElementById('GRAPH_ID');
        if (el && el._cyreg && el._cyreg.cy) { el._cyreg.cy.resize(); }
    });
    return Date.now();
}
"""

_VIEWPORT_JS = """
function(fit, zoomIn, zoomOut) {
    const el = document.getElementById('GRAPH_ID');
    const cy = el && el._cyreg && el._cyreg.cy;
    if (!cy) { return window.dash_clientside.no_update; }
    const ctx = window.dash_clientside.callback_context;
    if (!ctx.triggered.some(t => t.value)) { return window.dash_clientside.no_update; }
    const trigger = ctx.triggered_id;
    if (trigger === 'PREFIX-fit') {
        cy.fit(undefined, 24);
    } else {
        const factor = trigger === 'PREFIX-zoom-in' ? 1.25 : 0.8;
        cy.zoom({level: cy.zoom() * factor, renderedPosition: {x: cy.width() / 2, y: cy.height() / 2}});
    }
    return {zoom: cy.zoom(), at: Date.now()};
}
"""
