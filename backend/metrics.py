"""Prometheus metrics of the process, exposed at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_STORED = Counter("ftel_events_stored_total", "Events stored in the event log (first time seen)")
EVENTS_DUPLICATE = Counter("ftel_events_duplicate_total", "Events dropped as duplicates of stored ones")
EVENTS_REJECTED = Counter("ftel_events_rejected_total", "Events rejected by validation")
EVENTS_PROJECTED = Counter("ftel_events_projected_total", "Events merged into the lineage graph")
EVENTS_PENDING = Gauge("ftel_events_unprojected", "Stored events not yet merged into the graph")
GRAPH_ERRORS = Counter("ftel_graph_errors_total", "Graph merges that failed and were deferred")
HTTP_REQUESTS = Counter("ftel_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("ftel_http_request_seconds", "HTTP request latency", ["method", "route"])
