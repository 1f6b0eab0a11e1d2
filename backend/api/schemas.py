"""Response bodies of the read routes, so that /docs shows real schemas (times are fixed-width UTC text,
as the stores keep them: text order is time order)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.api.params import DATE_TIME, KEY_SCHEMA


class LogCounts(BaseModel):
    debug: int = 0
    info: int = 0
    warn: int = 0
    error: int = 0


class Summary(BaseModel):
    """Stored by the batch job (`summaries`) and read from there while the trace has no newer events; computed
    from the graph on the read otherwise, so it is never older than the trace's own events."""

    files: int = Field(description="files that came in (not produced by a flow)")
    dropped: int = Field(description="files and data this trace's own events dropped (not drops reported by others)")
    unconverted: int = Field(description="incoming files never converted nor dropped")
    data: int
    outputs: int = Field(description="files and sinks produced by flows")
    drop_reasons: dict[str, int] = Field(description="the reasons of this trace's drops, with how many each")
    user_missing: bool = Field(
        False,
        description="no trace.started came within FT_FILL_GRACE_MINUTES of the trace's first event, so its user "
        "is unknown (or only what another of its events named)",
    )


class Projection(BaseModel):
    pending_events: int = Field(
        description="events of this trace already stored but not yet merged into the graph (0: the picture is complete)"
    )
    projected_through: str = Field(description="every event received before this time is in the graph")


class TraceLogLine(BaseModel):
    time: str
    level: str
    message: str | None


class TraceOut(BaseModel):
    key: str
    user: str | None
    name: str | None
    status: str = Field(
        description="open; ended (trace.ended came); idle-ended (no trace.ended, but no event for "
        "FT_TRACE_IDLE_MINUTES by the events' own times: the last log is the last log)"
    )
    first_at: str | None
    last_at: str | None
    has_drops: bool = Field(False, description="this trace's own events dropped a file or data")
    logs: LogCounts
    summary: Summary
    log_messages: list[TraceLogLine] | None = Field(
        None,
        description="on GET /traces/{key}: the trace's own log messages (naming no node), newest 200, oldest first",
    )
    projection: Projection | None = Field(None, description="on GET /traces/{key}: how complete the graph is")


class TracePage(BaseModel):
    items: list[TraceOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")
    total: int = Field(description="traces matching the filters, over all pages")


class SearchHit(BaseModel):
    key: str
    kind: Literal["trace", "file", "data", "sink"]


class SearchOut(BaseModel):
    items: list[SearchHit] = Field(description="traces first, then files, data and sinks, each in key order")


class NodeOut(BaseModel):
    key: str
    kind: str
    status: str | None
    reason: str | None
    code: str | None
    name: str | None
    trace: str | None
    user: str | None
    first_at: str | None
    last_at: str | None


class Edge(BaseModel):
    source: str
    target: str
    op: str


class TraceNode(NodeOut):
    dropped_here: bool = Field(description="this trace's own events dropped the node (`status` is its latest anywhere)")
    drop_reason: str | None = Field(description="the reason (or code) this trace's drop gave")


class TraceGraph(BaseModel):
    nodes: list[TraceNode]
    edges: list[Edge]
    truncated: bool = Field(False, description="the trace has more nodes or edges than FT_TRACE_GRAPH_LIMIT")
    projection: Projection | None = None


class NodeWithLogs(NodeOut):
    logs: LogCounts


class NodeEventOut(BaseModel):
    id: str
    type: str
    time: str
    trace: str | None
    role: str = Field(description="the node's part in the event: node, input or output")
    event: dict[str, Any] = Field(description="the event as stored (canonical form)")


class LogLine(BaseModel):
    time: str
    level: str
    message: str | None
    id: str


class NodeDetail(BaseModel):
    node: NodeWithLogs
    events: list[NodeEventOut]
    logs: list[LogLine]


class Lineage(BaseModel):
    root: str
    direction: Literal["upstream", "downstream", "both"]
    depth: int
    nodes: list[NodeOut]
    edges: list[Edge]
    truncated: bool = Field(description="more lies beyond the depth or the node limit")
    level: Literal["node", "file"] = Field(
        "node", description="node: every flow; file: files and sinks joined through data (op 'via data')"
    )


class TraceBrief(BaseModel):
    key: str
    user: str | None
    name: str | None
    status: str
    first_at: str | None
    last_at: str | None
    has_drops: bool = False
    logs: LogCounts


class TraceFeeds(BaseModel):
    trace: str
    direction: Literal["upstream", "downstream"]
    traces: list[TraceBrief] = Field(
        description="upstream: traces that wrote a node this trace read; downstream: traces that read a node it wrote"
    )


class QueryOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    row_limit: int


class FileOut(BaseModel):
    key: str
    group: str
    trace: str
    size: int = Field(description="original size in bytes")
    stored_size: int = Field(description="compressed size in the store")
    codec: str
    sha256: str = Field(description="of the original bytes")
    filename: str | None
    content_type: str | None
    stored_at: str
    backend: str
    state: Literal["stored", "marked", "expired"]
    marked_at: str | None
    marked_rule: str | None
    expired_at: str | None


class RetentionRecordOut(BaseModel):
    id: str
    key: str
    group: str
    trace: str
    backend: str
    rule: str
    bytes: int = Field(description="stored (compressed) bytes freed")
    size: int = Field(description="original size of the file")
    stored_at: str
    marked_at: str
    deleted_at: str


class RetentionPage(BaseModel):
    items: list[RetentionRecordOut]
    next_cursor: str | None


class AllowanceOut(BaseModel):
    events_per_second: float
    bytes_per_second: float
    burst_seconds: float


class AccountAllowance(AllowanceOut):
    account: str


class FlowUser(BaseModel):
    account: str | None = Field(description="public id of the account (as in GET /accounts)")
    user: str
    events: int
    bytes: int
    parked: int
    first_seen: str | None
    last_seen: str | None
    rate: float = Field(description="events/s, recent")
    parking: bool
    buffered: int = Field(description="events of this user parked in Redis now")


class ParkedUser(BaseModel):
    account: str | None
    user: str
    buffered: int


class SpoolState(BaseModel):
    bytes: int
    segments: int
    bad_segments: list[str]


class FlowOut(BaseModel):
    users: list[FlowUser]
    buffered: dict[str, int] = Field(description="parked events per medium (redis, spool)")
    buffered_by_user: list[ParkedUser]
    drain_rate: float
    oldest_parked_seconds: float | None
    pressure: list[str]
    redis: Literal["ok", "unusable", "none"]
    spool: SpoolState
    default_allowance: AllowanceOut
    allowances: dict[str, AllowanceOut] = Field(description="by account public id")


class ProjectionLag(BaseModel):
    pending: int = Field(description="stored events not yet merged into the graph (every process's)")
    lag_seconds: float = Field(description="age of the oldest of them")
    projected_through: str = Field(description="every event received before this time is in the graph")
    queued: int = Field(description="events this process holds in memory for its merge thread")


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]
    projection: ProjectionLag | None = None


# -- statistics (GET /stats, GET /stats/summary) ----------------------------------------------


class StatsFiles(BaseModel):
    received: int
    stored: int
    dropped: int
    expired: int
    deleted: int
    unconverted: int = Field(
        description="received in the window, and neither a flow's input nor dropped by its end plus the grace "
        "(FT_STATS_UNCONVERTED_GRACE_SECONDS); a window whose end plus grace is ahead counts those not converted yet"
    )


class StatsBytes(BaseModel):
    uploaded: int = Field(description="original bytes of the files stored (file.stored attrs.size)")
    stored: int = Field(description="bytes kept after compression (file.stored attrs.stored_size)")


class StatsActive(BaseModel):
    traces: int = Field(description="distinct traces with an event in the window")
    users: int = Field(description="distinct users (an event's own, else its trace's owner)")


class StatsLag(BaseModel):
    p50: float | None = Field(description="ms from event time to receipt, within 4.4 % (a log-scale histogram)")
    p95: float | None
    max: float | None


class StatsMeasures(BaseModel):
    events: dict[str, int] = Field(description="events by type, each counted once (duplicates apart)")
    files: StatsFiles
    data_produced: int = Field(description="data nodes produced by flows")
    outputs: int = Field(description="files and sinks produced by flows")
    drops: dict[str, int] = Field(description="file and data drops by reason (else code)")
    logs: LogCounts
    bytes: StatsBytes
    active: StatsActive
    duplicates: int = Field(description="events that repeated one that came over another channel: counted once")
    lag_ms: StatsLag


class StatsBucket(StatsMeasures):
    start: str
    end: str
    key: str | None = Field(description="the account id, user or drop reason (by=…); null for the whole service")


class StatsOut(BaseModel):
    window: Literal["15m", "30m", "1h", "3h", "6h", "12h"]
    since: str = Field(description="the range, widened to whole UTC-aligned windows")
    until: str = Field(description="exclusive")
    by: Literal["account", "user", "reason"] | None
    buckets: list[StatsBucket] = Field(description="windows with events, by start then key")


class StatsSummaryOut(StatsMeasures):
    since: str = Field(description="the range, widened to whole 15-minute buckets")
    until: str = Field(description="exclusive")


class StuckFile(BaseModel):
    key: str
    trace: str | None
    since: str = Field(description="its last event")
    minutes: float = Field(description="since then")


class DropRateAnomaly(BaseModel):
    by: Literal["user", "reason"]
    key: str
    rate: float = Field(description="drops per hour in the window")
    baseline: float = Field(description="drops per hour over the 24 hours before the window")
    window_start: str


class DropReasonCount(BaseModel):
    reason: str
    count: int


class SlowTrace(BaseModel):
    key: str
    seconds: float = Field(description="from its first event to its last")
    status: str


class RetentionForecast(BaseModel):
    bytes: int = Field(description="stored bytes held, as retention's size limit counts them")
    limit_bytes: int | None = Field(description="FT_RETENTION_MAX_BYTES (null: no size limit)")
    bytes_per_day: int = Field(description="stored bytes uploaded over the last 24 hours")
    days_left: float | None = Field(description="until the limit at that rate (null: no limit or no uploads)")


class InsightsOut(BaseModel):
    stuck_files: list[StuckFile]
    drop_rate_anomalies: list[DropRateAnomaly]
    top_drop_reasons: list[DropReasonCount]
    slowest_traces: list[SlowTrace]
    retention_forecast: RetentionForecast


class BackupStarted(BaseModel):
    id: str = Field(description="the backup's id: GET /admin/backups/{id}, `ftel restore --from-store ID`")


class BackupStatus(BaseModel):
    """A backup into the instance's object store (`backups/<id>/`: the manifest, table parts and objects)."""

    id: str
    status: Literal["running", "done", "failed"]
    started_at: str
    finished_at: str | None = None
    tables: dict[str, int] | None = Field(None, description="rows written per SQL table")
    rows: int | None = None
    objects: int | None = Field(None, description="stored files copied (their stored, compressed bytes)")
    missing_objects: int | None = Field(None, description="live files whose object was gone when copied")
    bytes: int | None = Field(None, description="bytes of the backup's parts and objects")
    error: str | None = None


class ExportIn(BaseModel):
    """What to export: one scope (a period, a trace or a key) and a content; see docs/exports.md."""

    model_config = ConfigDict(extra="forbid")

    content: Literal["events", "stats", "summaries", "openlineage"] = Field(
        description="events: the stored envelopes; stats: the rollups per window; summaries: the trace summaries; "
        "openlineage: the lineage as OpenLineage RunEvents (NDJSON)"
    )
    format: Literal["ndjson", "csv"] = "ndjson"
    compression: Literal["gzip", "none"] = "gzip"
    since: str | None = Field(None, description="period from (RFC 3339, inclusive)", json_schema_extra=DATE_TIME)
    until: str | None = Field(None, description="period to (RFC 3339, exclusive)", json_schema_extra=DATE_TIME)
    time: Literal["received", "event"] = Field(
        "received", description="events: the period is of receive time (default) or of the events' own time"
    )
    trace: str | None = Field(None, description="a trace's key: its events", json_schema_extra=KEY_SCHEMA)
    key: str | None = Field(
        None, description="a file or data key: the events and logs naming it", json_schema_extra=KEY_SCHEMA
    )
    direction: Literal["upstream", "downstream", "both"] | None = Field(
        None, description="with key: the nodes of its lineage this way too, to `depth` hops"
    )
    depth: int | None = Field(None, ge=1, le=20, description="with direction: hops (default 1)")
    window: Literal["15m", "30m", "1h", "3h", "6h", "12h"] | None = Field(
        None, description="stats: the window (default 1h)"
    )
    by: list[Literal["account", "user", "reason"]] = Field(
        default_factory=list, max_length=3, description="stats: a row per key of each of these too"
    )


class ExportChunkOut(BaseModel):
    seq: int
    name: str
    events: int = Field(description="records in the chunk (events, summaries, stats rows)")
    bytes: int
    sha256: str
    first: dict[str, Any] = Field(description="the first record's position (events: seq, id, time)")
    last: dict[str, Any]


class ExportOut(BaseModel):
    id: str
    content: str
    format: str
    compression: str
    query: dict[str, Any] = Field(description="the scope, as the service understood it")
    status: Literal["queued", "running", "done", "failed", "expired"]
    events: int = Field(description="records written so far")
    estimate: int | None = Field(description="records expected (events exports), for progress")
    chunks: int
    bytes: int
    error: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    expires_at: str


class ExportList(BaseModel):
    exports: list[ExportOut]


class ExportManifest(BaseModel):
    version: str
    id: str
    content: str
    format: str
    compression: str
    query: dict[str, Any]
    status: str
    created_at: str
    finished_at: str | None
    expires_at: str | None
    events: int
    bytes: int
    chunks: list[ExportChunkOut]
