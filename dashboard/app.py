"""create_dash: the Dash app factory. One app per API base; it holds no data, only an API client."""

from __future__ import annotations

import dash
import dash_cytoscape as cyto

from dashboard import callbacks, pages
from dashboard.client import ApiClient
from dashboard.pages_css import PAGES_CSS
from dashboard.styles import PAGE_CSS

_INDEX = (
    """<!DOCTYPE html>
<html lang="en">
  <head>
    {%metas%}
    <title>{%title%}</title>
    {%favicon%}
    {%css%}
    <style>"""
    + PAGE_CSS
    + PAGES_CSS
    + """</style>
  </head>
  <body>
    {%app_entry%}
    <footer>{%config%}{%scripts%}{%renderer%}</footer>
    <script>
      // Ctrl+Enter (⌘+Enter) in the Cypher editor runs the query, as in most query consoles.
      document.addEventListener('keydown', function (e) {
        if ((e.ctrlKey || e.metaKey) && e.key === 'Enter' && e.target && e.target.id === 'query-text') {
          e.preventDefault();
          const run = document.getElementById('query-run');
          if (run) { run.click(); }
        }
      });
    </script>
  </body>
</html>"""
)


def create_dash(api_base: str, url_base_pathname: str = "/") -> dash.Dash:
    """The trace explorer, served under `url_base_pathname` (e.g. "/dashboard/"), reading `api_base`
    (e.g. "http://127.0.0.1:8000") with the token each browser session signed in with."""
    if not url_base_pathname.startswith("/") or not url_base_pathname.endswith("/"):
        raise ValueError(f"url_base_pathname must start and end with '/', got {url_base_pathname!r}")
    cyto.load_extra_layouts()  # dagre, for the left-to-right flow
    app = dash.Dash(
        __name__,
        url_base_pathname=url_base_pathname,
        suppress_callback_exceptions=True,  # pages are built on navigation
        title="file-telemetry",
        update_title=None,  # type: ignore[arg-type]  # None: keep the title while callbacks run
        serve_locally=True,
        include_assets_files=False,
        enable_mcp=False,  # no machine endpoint next to a signed-in UI
    )
    app.index_string = _INDEX
    client = ApiClient(api_base)
    app.layout = pages.shell(app.get_relative_path)
    callbacks.register(app, client)
    return app
