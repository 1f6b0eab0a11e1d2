"""Export jobs (POST /exports, `ftel export`): telemetry by period, trace or key, statistics or summaries,
cut into small chunks with a manifest, run in the background and kept until they expire.

Who may export what (docs/exports.md):
- role `export` is needed for any export (admin has every role); `ingest`-only and `read`-only accounts get 403;
- `events`: an account with `read` too (or admin) exports any events, as it may read them all page by page;
  an `export` account without `read` exports only the events it sent itself;
- `stats` and `summaries` describe the whole service, as GET /stats and GET /traces do: they need `read` too;
- an export is seen (status, manifest, chunks) only by the account that asked for it, and by admins.
"""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from backend.batch.stats import WINDOWS, Stats
from backend.db.base import BUCKET_MS, ChunkRow, EventScope, ExportRow, ExportStore
from backend.domain.auth import Principal
from backend.domain.queries import Queries
from backend.errors import (
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    ObjectNotFound,
    TooManyRequests,
    Unavailable,
)
from backend.exports.artifacts import MANIFEST, Artifacts
from backend.exports.chunks import ExportLost, Limits, manifest, write_chunks
from backend.exports.contents import Content, EventsContent, StatsContent, SummariesContent
from backend.exports.openlineage import LINEAGE_TYPES, OpenLineageContent, TraceFacts
from backend.metrics import EXPORT_RECORDS, EXPORTS
from backend.storage.base import ObjectStore

log = logging.getLogger("ftel.exports")

CONTENTS = ("events", "stats", "summaries", "openlineage")
FORMATS = ("ndjson", "csv")
MAX_LINEAGE_NODES = 10_000
MAX_STATS_WINDOWS = 100_000  # per dimension: a year and a half of 15-minute windows, 11 years of hourly ones
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ExportRequest:
    """What to export. One scope: a period (`since`/`until`, of receive or event `time`), a `trace`, or a
    `key` (its events and logs; with `direction` and `depth`, its lineage's nodes too). Stats: a period only,
    in windows of `window`, for the service and each dimension of `by`."""

    content: str
    format: str = "ndjson"
    compression: str = "gzip"
    since: datetime | None = None
    until: datetime | None = None
    time: Literal["received", "event"] = "received"
    trace: str | None = None
    key: str | None = None
    direction: Literal["upstream", "downstream", "both"] | None = None
    depth: int | None = None  # with direction: hops, 1..20 (default 1)
    window: str | None = None  # stats: default 1h
    by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportSettings:
    limits: Limits
    ttl: timedelta
    lease_seconds: float
    max_active: int  # queued or running exports per account


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None


def _window_edge(value: datetime, window: str, up: bool) -> datetime:
    width = BUCKET_MS * WINDOWS[window]
    ms = (value - _EPOCH) // timedelta(milliseconds=1)
    edge = -(-ms // width) * width if up else ms // width * width
    try:
        return _EPOCH + timedelta(milliseconds=edge)
    except OverflowError:  # a window edge beyond the calendar's last day
        raise InvalidInput(f"until must be a window ({window}) before the end of year 9999") from None


def normalise(request: ExportRequest, principal: Principal | None, now: datetime) -> dict[str, Any]:
    """The request checked and written down as the export's query (stored, and shown in its manifest). A field
    the scope or content does not take is refused, never silently dropped."""
    if request.content not in CONTENTS:
        raise InvalidInput(f"content must be one of {', '.join(CONTENTS)}", {"content": request.content})
    if request.format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", {"format": request.format})
    if request.content == "openlineage" and request.format != "ndjson":
        raise InvalidInput("openlineage exports are NDJSON (one RunEvent per line)", {"format": request.format})
    if request.compression not in ("gzip", "none"):
        raise InvalidInput("compression must be gzip or none", {"compression": request.compression})
    period = request.since is not None or request.until is not None
    scopes = [name for name, given in (("period", period), ("trace", request.trace), ("key", request.key)) if given]
    if len(scopes) > 1:
        raise InvalidInput(f"one scope at a time: a period, a trace or a key (got {' and '.join(scopes)})")
    if request.since and request.until and request.since >= request.until:
        raise InvalidInput("since must be before until")
    if request.depth is not None and request.direction is None:
        raise InvalidInput("depth goes with direction (upstream, downstream or both)")
    if request.direction is not None and not request.key:
        raise InvalidInput("direction and depth go with a key")
    if request.depth is not None and not 1 <= request.depth <= 20:
        raise InvalidInput("depth must be 1..20", {"depth": request.depth})
    if request.time != "received" and (not period or request.content not in ("events", "openlineage")):
        raise InvalidInput("time (received or event) chooses what since/until apply to, for events: leave it out")
    if request.content != "stats" and (request.window is not None or request.by):
        raise InvalidInput("window and by go with stats")
    query: dict[str, Any] = {}
    if request.content == "stats":
        if request.trace or request.key:
            raise InvalidInput("statistics are exported by period (since/until), not by trace or key")
        window = request.window or "1h"
        if window not in WINDOWS:
            raise InvalidInput(f"window must be one of {', '.join(WINDOWS)}", {"window": window})
        bad = sorted(set(request.by) - {"account", "user", "reason"})
        if bad:
            raise InvalidInput("by takes account, user and reason", {"by": bad})
        until = _window_edge(request.until or now, window, up=True)
        since = _window_edge(request.since or until - timedelta(hours=24), window, up=False)
        if (until - since) / timedelta(minutes=15 * WINDOWS[window]) > MAX_STATS_WINDOWS:
            raise InvalidInput(
                f"at most {MAX_STATS_WINDOWS:,} windows of {window} in one export: narrow since/until or widen the window",
                {"since": _iso(since), "until": _iso(until)},
            )
        query = {"since": _iso(since), "until": _iso(until), "window": window, "by": list(request.by)}
    else:
        if not scopes:
            raise InvalidInput("say what to export: since/until, trace or key")
        if period:
            query = {"since": _iso(request.since), "until": _iso(request.until)}
            if request.content in ("events", "openlineage"):
                query["time"] = request.time
        elif request.trace:
            query = {"trace": request.trace}
        else:
            query = {"key": request.key}
            if request.direction:
                query.update(direction=request.direction, depth=request.depth or 1)
    if principal is not None:
        if request.content in ("stats", "summaries") and not principal.has("read"):
            raise Forbidden(f"{request.content} exports describe the whole service: role 'read' needed too")
        if not principal.has("read"):  # the account's own events only
            query["sent_by"] = principal.uuid
    return query


class Exports:
    """Export jobs: create and read them (the API), run them (a periodic task of the serving and batch
    processes: one runner per export at a time, under a lease), expire them, and write one straight to a
    folder (the CLI)."""

    def __init__(
        self,
        store: ExportStore,
        objects: ObjectStore | None,
        queries: Queries,
        stats: Stats,
        settings: ExportSettings,
        holder: str,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.store, self.objects, self.queries, self.stats = store, objects, queries, stats
        self.settings, self.holder = settings, holder
        self.now = now or (lambda: datetime.now(UTC))

    # -- the API ----------------------------------------------------------------------------------

    def create(self, principal: Principal, request: ExportRequest) -> ExportRow:
        if self.objects is None:
            raise Unavailable("exports need the object store, which this process does not open")
        now = self.now()
        query = normalise(request, principal, now)
        self._check_exists(query)
        if self.store.active(principal.account_id) >= self.settings.max_active:
            raise TooManyRequests(
                f"{self.settings.max_active} exports of this account are queued or running: wait for one to finish",
                retry_after=5,
            )
        row = ExportRow(
            uuid=str(uuidlib.uuid4()),
            account_id=principal.account_id,
            content=request.content,
            format=request.format,
            compression=request.compression,
            query=query,
            status="queued",
            created_at=now,
            expires_at=now + self.settings.ttl,
        )
        log.info("export %s queued: %s %s %s", row.uuid, row.content, row.format, query)
        return self.store.create(row)

    def _check_exists(self, query: dict[str, Any]) -> None:
        """NotFound for a trace or key without events (that this account may export: no oracle for others')."""
        owner = query.get("sent_by")
        if "trace" in query and not self.store.event_page(
            EventScope(trace_key=query["trace"], account_uuid=owner), 0, 1
        ):
            raise NotFound(f"no events of trace {query['trace']!r}")
        if "key" in query and not self.store.event_page(
            EventScope(node_keys=(query["key"],), account_uuid=owner), 0, 1
        ):
            raise NotFound(f"no events name {query['key']!r}")

    def get(self, principal: Principal, export_id: str) -> ExportRow:
        row = self.store.get(export_id) if _is_uuid(export_id) else None
        if row is None or (row.account_id != principal.account_id and not principal.has("admin")):
            raise NotFound(f"no export {export_id!r}")
        return row

    def listed(self, principal: Principal, limit: int = 50) -> list[ExportRow]:
        return self.store.listed(None if principal.has("admin") else principal.account_id, limit)

    def manifest(self, principal: Principal, export_id: str) -> dict[str, Any]:
        row = self._live(principal, export_id)
        return manifest(row, self.store.chunks(row.uuid))

    def chunk(self, principal: Principal, export_id: str, seq: int) -> tuple[ChunkRow, Iterator[bytes]]:
        """A written chunk's record and its bytes (streamed); NotFound when it is not written (yet)."""
        row = self._live(principal, export_id)
        found = [c for c in self.store.chunks(row.uuid) if c.seq == seq]
        if not found:
            raise NotFound(f"export {export_id} has no chunk {seq} (yet): see its manifest", {"chunks": row.chunks})
        assert self.objects is not None
        try:
            return found[0], self._folder(row).read(found[0].name)
        except ObjectNotFound:
            raise NotFound(f"chunk {seq} of export {export_id} is missing from the object store") from None

    def _live(self, principal: Principal, export_id: str) -> ExportRow:
        row = self.get(principal, export_id)
        if row.status == "expired":
            raise Gone(f"export {export_id} expired at {_iso(row.expires_at)} and its chunks were deleted")
        return row

    def _folder(self, row: ExportRow) -> Artifacts:
        assert self.objects is not None
        return Artifacts(self.objects, f"exports/{row.uuid}")

    # -- the runner -------------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Expire what is due, then run one export to its end (or resume one whose runner died); True when
        one ran (another may wait)."""
        self.expire_due()
        if self.objects is None:
            return False
        row = self.store.claim(self.holder, self.settings.lease_seconds)
        if row is None:
            return False
        log.info("export %s: running (%d chunks written before)", row.uuid, row.chunks)
        folder = self._folder(row)
        try:
            content = self.content(row)
            if row.estimate is None and (estimate := content.estimate()) is not None:
                self.store.set_estimate(row.uuid, estimate)
            done = self.store.chunks(row.uuid)
            write_chunks(
                content,
                row,
                self.settings.limits,
                (len(done), done[-1].cursor if done else ""),
                folder.put,
                lambda c: self._record(row.uuid, c),
                self._heartbeat(row.uuid),
            )
            finished = replace(row, status="done", finished_at=self.now())
            folder.put_json(MANIFEST, manifest(finished, self.store.chunks(row.uuid)))
            if self.store.finish(row.uuid, self.holder, None):
                EXPORTS.labels("done").inc()
                log.info("export %s: done", row.uuid)
        except ExportLost:
            EXPORTS.labels("lost").inc()
            log.warning("export %s: taken over or expired while running; this runner stops", row.uuid)
        except Unavailable:
            raise  # a store outage: the lease runs out and a runner resumes after the last written chunk
        except Exception as exc:
            EXPORTS.labels("failed").inc()
            log.exception("export %s failed", row.uuid)
            self.store.finish(row.uuid, self.holder, getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
        return True

    def _heartbeat(self, uuid: str) -> Callable[[], bool]:
        """Renew the lease while a chunk is being made (at most every quarter of the lease): a chunk that takes
        long to gather is not mistaken for a dead runner. False: the export was taken over or expired."""
        every = self.settings.lease_seconds / 4
        last = time.monotonic()

        def beat() -> bool:
            nonlocal last
            if time.monotonic() - last < every:
                return True
            last = time.monotonic()
            return self.store.renew(uuid, self.holder, self.settings.lease_seconds)

        return beat

    def _record(self, uuid: str, chunk: ChunkRow) -> bool:
        held = self.store.record_chunk(uuid, self.holder, chunk, self.settings.lease_seconds)
        if held:
            EXPORT_RECORDS.inc(chunk.events)
        return held

    def expire_due(self) -> int:
        """Delete the chunks of exports past their expiry and mark them expired; how many."""
        due = self.store.due(self.now(), 100)
        for row in due:
            if self.objects is not None:
                self._folder(row).delete_all()
            self.store.expire(row.uuid)
            EXPORTS.labels("expired").inc()
            log.info("export %s expired", row.uuid)
        return len(due)

    def content(self, row: ExportRow) -> Content:
        """The records of an export, from its stored query."""
        q = row.query
        since, until = _parse(q.get("since")), _parse(q.get("until"))
        if row.content == "stats":
            assert since is not None and until is not None
            by: list[str | None] = [None, *q.get("by", [])]
            return StatsContent(self.stats, q["window"], since, until, by, row.format)
        keys = self._keys(q)
        if row.content == "summaries":
            traces = sorted(self.store.traces_of(keys)) if keys is not None else None
            if q.get("trace"):
                traces = [q["trace"]]
            return SummariesContent(self.store, since, until, traces, row.format)
        scope = EventScope(
            since=since,
            until=until,
            time=q.get("time", "received"),
            trace_key=q.get("trace"),
            node_keys=tuple(keys) if keys is not None else None,
            account_uuid=q.get("sent_by"),
            types=LINEAGE_TYPES if row.content == "openlineage" else None,
        )
        if row.content == "openlineage":
            return OpenLineageContent(self.store, scope, self._facts())
        return EventsContent(self.store, scope, row.format)

    def _facts(self) -> TraceFacts:
        return TraceFacts(self.queries.graph, self.queries.trace_graph_limit)

    def trace_run_events(self, trace: str) -> Iterator[bytes]:
        """GET /traces/{key}/openlineage: the trace's lineage as OpenLineage RunEvents, one per NDJSON line
        (NotFound before the first line when the log holds no event of the trace)."""
        self._check_exists({"trace": trace})
        scope = EventScope(trace_key=trace, types=LINEAGE_TYPES)
        content = OpenLineageContent(self.store, scope, self._facts())

        def lines() -> Iterator[bytes]:
            for page, _ in content.pages(""):
                yield b"".join(page)

        return lines()

    def _keys(self, q: dict[str, Any]) -> list[str] | None:
        key = q.get("key")
        if key is None:
            return None
        if not q.get("direction"):
            return [key]
        found = self.queries.lineage(key, q["direction"], int(q.get("depth", 1)), max_nodes=MAX_LINEAGE_NODES)
        if found["truncated"] and len(found["nodes"]) >= MAX_LINEAGE_NODES:
            raise InvalidInput(f"the lineage of {key!r} holds more than {MAX_LINEAGE_NODES} nodes: lower the depth")
        return sorted(n["key"] for n in found["nodes"])

    # -- the CLI ----------------------------------------------------------------------------------

    def _unstored(self, request: ExportRequest) -> ExportRow:
        """An export the CLI runs itself: no job row, no expiry."""
        now = self.now()
        return ExportRow(
            uuid=str(uuidlib.uuid4()),
            account_id=None,
            content=request.content,
            format=request.format,
            compression=request.compression,
            query=normalise(request, None, now),
            status="running",
            created_at=now,
            expires_at=now,
        )

    def write_to(
        self, folder: Artifacts, request: ExportRequest, on_chunk: Callable[[ChunkRow], None] | None = None
    ) -> dict[str, Any]:
        """Run an export straight into `folder`: chunks, then manifest.json; the manifest."""
        row = self._unstored(request)
        self._check_exists(row.query)
        chunks: list[ChunkRow] = []

        def record(chunk: ChunkRow) -> bool:
            chunks.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
            return True

        write_chunks(self.content(row), row, self.settings.limits, (0, ""), folder.put, record)
        done = manifest(replace(row, status="done", finished_at=self.now()), chunks)
        done["expires_at"] = None
        folder.put_json(MANIFEST, done)
        return done

    def estimate(self, request: ExportRequest) -> int | None:
        """How many records an export would hold (events exports; None: not known before)."""
        return self.content(self._unstored(request)).estimate()


def _is_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True
