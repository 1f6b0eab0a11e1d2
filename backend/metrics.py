"""Prometheus metrics of the process, exposed at /metrics.

Every label has a bounded set of values (routes, methods, status codes, media, reasons, accounts, which admins
create): never a user id or anything else a caller chooses, so that callers cannot grow the registry. Per-user
figures are on GET /api/v1/flow (admin)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_STORED = Counter("ftel_events_stored_total", "Events stored in the event log (first time seen)")
EVENTS_DUPLICATE = Counter("ftel_events_duplicate_total", "Events dropped as duplicates of stored ones")
EVENTS_REJECTED = Counter("ftel_events_rejected_total", "Events rejected by validation")
EVENTS_PROJECTED = Counter("ftel_events_projected_total", "Events merged into the lineage graph")
EVENTS_PENDING = Gauge("ftel_events_unprojected", "Stored events not yet merged into the graph")
PROJECTION_LAG = Gauge("ftel_projection_lag_seconds", "Age of the oldest stored event not yet merged into the graph")
PROJECTION_QUEUE = Gauge("ftel_projection_queue_events", "Stored events handed to this process's merge thread")
PROJECTION_DEFERRED = Counter(
    "ftel_projection_deferred_total", "Stored events left for the catch-up (hand-over full or a merge failed)"
)
GRAPH_ERRORS = Counter("ftel_graph_errors_total", "Graph merges that failed and were deferred")
HTTP_REQUESTS = Counter("ftel_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("ftel_http_request_seconds", "HTTP request latency", ["method", "route"])

FLOW_EVENTS = Counter("ftel_flow_events_total", "Events received per account", ["account"])
FLOW_BYTES = Counter("ftel_flow_bytes_total", "Bytes of events received per account", ["account"])
FLOW_RATE = Gauge("ftel_flow_account_rate", "Current events/s per account (the sum over its users)", ["account"])
FLOW_USERS = Gauge("ftel_flow_users", "User ids this process has counted (per-user figures: GET /api/v1/flow)")
FLOW_PARKED = Counter("ftel_flow_parked_total", "Events parked, by medium and reason", ["medium", "reason"])
FLOW_DEPTH = Gauge("ftel_flow_parked_events", "Events waiting in a park medium", ["medium"])
FLOW_ACCOUNT_DEPTH = Gauge("ftel_flow_parked_account_events", "Events parked per account (every medium)", ["account"])
FLOW_PARKED_USERS = Gauge("ftel_flow_parked_users", "User ids with parked events (every medium)")
FLOW_DRAINED = Counter("ftel_flow_drained_total", "Parked events handed back to the event log", ["medium"])
FLOW_DRAIN_RATE = Gauge("ftel_flow_drain_rate", "Parked events drained per second (last few seconds)")
FLOW_OLDEST = Gauge("ftel_flow_oldest_parked_seconds", "Age of the oldest parked batch")
FLOW_PRESSURE = Gauge("ftel_flow_pressure", "1 while the named pressure holds", ["reason"])
FLOW_SPOOL_BAD = Counter("ftel_flow_spool_bad_records_total", "Damaged spool records skipped while draining")
EXPORTS = Counter(
    "ftel_exports_total", "Export jobs this process finished, by end (done, failed, lost, expired)", ["end"]
)
EXPORT_RECORDS = Counter("ftel_export_records_total", "Records this process wrote into export chunks")
