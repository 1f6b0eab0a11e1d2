"""The SQL stores as the rest of the service sees them: protocols with their own row types.

Every implementation (one per protocol, over SQLAlchemy, on SQLite and PostgreSQL) keeps these
guarantees, checked by the contract suites in tests/contract/ on both databases:
- A method that returns has committed: what it wrote is durable (SQLite WAL `synchronous=NORMAL`
  survives a process crash; PostgreSQL commits).
- A database that cannot be reached (or stays locked past its busy timeout) raises `SqlUnavailable`,
  never a driver exception; any other exception is a bug.
- Rows are plain frozen dataclasses owned by the caller; no ORM object or session leaves a store.
- Times are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from backend.errors import SqlUnavailable

__all__ = ["SqlUnavailable"]


# -- event log ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeLink:
    """A node an event names, and how: `node`, `input` or `output`."""

    key: str
    kind: str
    role: str


@dataclass(frozen=True)
class NewEvent:
    """An event ready to be stored: validated, its dedup key and canonical payload computed."""

    uuid: str
    dedup_key: str
    channel: str  # where it came from: rest:<account>, a stream key, service:files
    account_id: int | None
    type: str
    trace_key: str | None
    node_key: str | None
    level: str | None
    user_id: str | None
    created_at: datetime
    payload: str
    nodes: tuple[NodeLink, ...] = ()


@dataclass(frozen=True)
class LoggedEvent:
    """An event as the log holds it: its row id (insertion order), payload and settled trace."""

    id: int
    payload: str
    trace_key: str | None
    created_at: datetime


@dataclass(frozen=True)
class NodeEvent:
    """An event naming a node, with the node's role in it."""

    uuid: str
    type: str
    created_at: datetime
    trace_key: str | None
    role: str
    payload: str


@dataclass(frozen=True)
class TraceLog:
    """A log event of a trace that names no node."""

    created_at: datetime
    level: str | None
    payload: str


LogTarget = tuple[str, str | None]  # (node key, kind) or (trace key, None) for trace-level logs


class EventLog(Protocol):
    """The raw event log: the source of truth every projection is rebuilt from."""

    def insert(self, events: Sequence[NewEvent]) -> dict[str, int]:
        """Store each event once (by dedup key, and by uuid); {dedup key: row id} of the new ones.
        Idempotent: inserting the same events again returns {} and changes nothing."""
        ...

    def known_node_traces(self, keys: Iterable[str]) -> dict[str, str]:
        """For node keys already in the log, the trace an earlier event put them in."""
        ...

    def unprojected(
        self, limit: int, dedup_keys: Sequence[str] | None = None, received_before: datetime | None = None
    ) -> list[LoggedEvent]:
        """Events not yet merged into the graph, in insertion order (optionally only these, or only those
        received before a time)."""
        ...

    def mark_projected(self, ids: Sequence[int]) -> None: ...

    def reset_projection(self) -> int:
        """Mark every event unprojected (before a graph rebuild); how many there are."""
        ...

    def projection_backlog(self) -> tuple[int, datetime | None]:
        """How many events wait to be merged, and when the oldest of them (in insertion order) was received."""
        ...

    def oldest_unprojected(self) -> datetime | None:
        """When the oldest event waiting to be merged (in insertion order) was received; None when none waits."""
        ...

    def trace_backlog(self, trace_key: str) -> int:
        """How many events of this trace wait to be merged."""
        ...

    def log_counts(self, targets: set[LogTarget]) -> dict[LogTarget, dict[str, int]]:
        """Log counts by level of nodes (kind given) and of trace-level logs (kind None)."""
        ...

    def node_events(self, key: str, limit: int) -> list[NodeEvent]:
        """Events naming a node, in time order (then insertion order)."""
        ...

    def trace_logs(self, trace_key: str, limit: int) -> list[TraceLog]:
        """The newest `limit` log events of a trace that name no node, oldest first."""
        ...

    def search_keys(self, prefix: str, limit: int) -> list[tuple[str, str]]:
        """Keys in the log that start with `prefix` (case-sensitive), as (key, kind), kind `trace` or the node's
        kind: traces first, then nodes, each in key order, at most `limit` in all. Served by the key indexes."""
        ...

    def ping(self) -> None:
        """Raise SqlUnavailable when the database cannot be reached."""
        ...


# -- batch job leases ---------------------------------------------------------------------------


class JobLeases(Protocol):
    """Who runs a batch job now: one holder per job at a time, for a bounded time.

    - ``acquire`` takes the job's lease when it is free, expired or already this holder's (then it is
      renewed), atomically: of concurrent callers at most one gets True. Durable on return.
    - ``release`` frees it, only if this holder has it.
    """

    def acquire(self, job: str, holder: str, seconds: float) -> bool: ...

    def release(self, job: str, holder: str) -> None: ...

    def holder(self, job: str) -> str | None:
        """The holder of an unexpired lease, if any."""
        ...


# -- trace summaries and user fills (the batch app) ---------------------------------------------


@dataclass(frozen=True)
class TraceSummaryRow:
    """A trace's summary as computed through its newest event then (`through_id`)."""

    trace_key: str
    user_id: str | None
    started: bool  # a trace.started came
    status: str  # open | ended | idle-ended, as of `computed_at`
    files: int
    dropped: int
    unconverted: int
    data: int
    outputs: int
    drop_reasons: dict[str, int]
    first_at: datetime | None  # the trace's first and last event times
    last_at: datetime | None
    user_missing: bool
    through_id: int
    computed_at: datetime

    @property
    def duration_seconds(self) -> float:
        return (self.last_at - self.first_at).total_seconds() if self.first_at and self.last_at else 0.0


@dataclass(frozen=True)
class UserFillRow:
    """One fill: a node's user set from the trace that owns it, in place of `previous_user` (what an
    earlier fill had set; None: the node had no user)."""

    node_key: str
    kind: str
    trace_key: str
    user_id: str
    previous_user: str | None
    filled_at: datetime


class TraceSummaries(Protocol):
    """Stored trace summaries, the summaries job's cursor over the event log, and the record of user fills.

    - ``save`` is idempotent and never goes back: a row replaces the trace's row only when it was computed
      through the same or a newer event (a slow pass does not overwrite a newer row). A saved row waits for
      the fill job (``fill_pending``) until ``filled`` clears it.
    - ``current`` returns only rows computed through the trace's newest event in the log, so a reader falls
      back to computing any other trace's summary itself: a stored summary is never older than the trace's own
      events.
    - ``advance`` only moves the cursor forward. Every write is durable on return.
    """

    def save(self, rows: Sequence[TraceSummaryRow]) -> None: ...

    def get(self, trace_key: str) -> TraceSummaryRow | None: ...

    def current(self, trace_keys: Sequence[str]) -> dict[str, TraceSummaryRow]: ...

    def newest_events(self, trace_keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per trace with events: (its newest event id, how many of its events are not merged into the graph)."""
        ...

    def cursor(self) -> int:
        """The id of the last event the summaries job has read (0 before it ever ran)."""
        ...

    def advance(self, through_id: int) -> None: ...

    def events_after(self, after_id: int, limit: int, received_before: datetime) -> list[LoggedEvent]:
        """Events after `after_id` in id order, received before the time and stopping before the oldest event
        not yet merged into the graph: what the graph fully holds."""
        ...

    def node_traces(self, node_keys: Sequence[str]) -> set[str]:
        """Every trace whose events name one of these nodes (the traces that contain them)."""
        ...

    def age(self, idle_before: datetime) -> int:
        """Open rows whose last event is older than `idle_before` become idle-ended; how many."""
        ...

    def flag_user_missing(self, first_before: datetime) -> int:
        """Rows without trace.started whose first event is older than `first_before` get user_missing; how many."""
        ...

    def fill_pending(self, limit: int) -> list[tuple[str, int]]:
        """Up to `limit` (trace key, through_id) saved since the fill job last looked at them."""
        ...

    def refill_all(self) -> int:
        """Mark every row for the fill job again (the graph was rebuilt from events, without the fills); how many."""
        ...

    def filled(self, done: Sequence[tuple[str, int]]) -> None:
        """Clear `fill_pending` of rows still computed through the given event (a newer row stays pending)."""
        ...

    def record_fills(self, fills: Sequence[UserFillRow]) -> None: ...

    def fills(self, trace_keys: Sequence[str]) -> list[UserFillRow]:
        """The latest fill of each node filled from these traces."""
        ...


# -- statistics (the batch app's rollups) -------------------------------------------------------

BUCKET_MS = 900_000  # the finest rollup window: 15 minutes, UTC-aligned; every larger window is made of them


def bucket_of(ms: int) -> int:
    """The 15-minute bucket of a time in epoch milliseconds (floor: times before 1970 too)."""
    return ms // BUCKET_MS


class CountedEvent(NamedTuple):
    """An event as the rollups count it, its dimensions resolved: `user` is its own or else its trace's owner
    (the earliest trace.started), `account` the public id of the account that sent it. A tuple: a pass makes
    tens of thousands. `payload` only for the types whose payload the fold reads (drops, flows, file.stored)."""

    id: int
    type: str
    trace_key: str | None
    node_key: str | None
    level: str | None
    user: str | None
    account: str | None
    created_ms: int
    received_ms: int
    payload: str | None
    duplicate: bool  # repeats an event counted under another id (cross-channel dedup)


Cell = tuple[str, int, str]  # (dimension: all | account | user | reason, bucket, key; '' for all)


@dataclass
class RollupDelta:
    """What some events add to the rollups: counts (the measure `lag_max` is a maximum, every other one a sum),
    active members, received files and the earliest time each file settled (flowed on or was dropped)."""

    counts: dict[tuple[str, int, str, str], int]  # (dim, bucket, key, measure)
    members: set[tuple[str, int, str, str, str]]  # (dim, bucket, key, kind: trace | user, member)
    files: set[tuple[str, int, str, str]]  # (dim, bucket, key, file key)
    settled: dict[str, int]  # file key -> epoch ms


@dataclass(frozen=True)
class RollupPass:
    counted: int  # events counted by this pass
    duplicates: int  # of them, marked as duplicates
    reattributed: int  # traces whose earlier events moved to the user a late trace.started named
    reset: bool = False  # an owner changed under counted events: everything is to be counted again


@dataclass(frozen=True)
class StatsCell:
    """One window of one key, as read: summed measures (lag_max: the max), distinct members by kind, and the
    files received in it that had not settled by the window's end plus the grace."""

    window: int  # (bucket - first bucket) // width
    key: str
    measures: dict[str, int]
    members: dict[str, int]
    unconverted: int


class StatsStore(Protocol):
    """The rollups of the event log, per 15-minute bucket; larger windows are summed when read.

    - ``roll_up`` counts up to `limit` events not counted yet, in one transaction with their mark
      (`events.counted`), so each event is counted exactly once whatever the commit order of the log's ids
      (PostgreSQL sequences commit out of order: an event not visible now is counted by a later pass).
      Before counting, it marks each event that repeats one already counted or a lower id in the same pass
      (same type, trace, event time and canonical payload, whatever the channel) with `duplicate_of`: it then
      adds only to the `duplicates` measure. `fold` (the domain's) turns events into a delta. A trace.started
      arriving after its trace's user-less events were counted moves them to its user (the delta of their
      user parts: dimension `user`, members of kind `user`); one that names another user than the counted
      owner resets the rollups (everything is counted again by the next passes). Durable on return.
    - The rows are a function of the log alone: ``reset`` and passes until none is left give the same rows.
    - ``read`` sums the buckets [first, end) of a dimension in windows of `width` buckets.
    """

    def roll_up(self, limit: int, fold: Callable[[Sequence[CountedEvent]], RollupDelta]) -> RollupPass: ...

    def reset(self) -> int:
        """Forget every rollup and mark every event uncounted (duplicate marks stay); how many events there are."""
        ...

    def backlog(self) -> int:
        """How many events wait to be counted."""
        ...

    def read(self, dim: str, first: int, end: int, width: int, grace_ms: int) -> list[StatsCell]: ...


# -- accounts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    id: int
    uuid: str
    name: str
    kind: str
    roles: frozenset[str]
    client_id: str
    secret_hash: str
    secret_version: int
    created_at: datetime
    disabled_at: datetime | None

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


class AccountStore(Protocol):
    """Accounts (hashed secrets only) and the server-wide values every replica shares."""

    def insert(self, name: str, kind: str, roles: frozenset[str], client_id: str, secret_hash: str) -> AccountRow:
        """Create an account; Conflict when the client id is taken."""
        ...

    def by_client_id(self, client_id: str) -> AccountRow | None: ...

    def by_uuid(self, uuid: str) -> AccountRow | None: ...

    def listed(self) -> list[AccountRow]:
        """Every account, oldest first."""
        ...

    def uuids(self, ids: set[int]) -> dict[int, str]: ...

    def client_id(self, account_id: int) -> str | None: ...

    def ids_for(self, uuids: set[str], client_ids: set[str]) -> tuple[dict[str, int], dict[str, int]]:
        """Enabled accounts by uuid and by client id."""
        ...

    def set_secret(self, uuid: str, secret_hash: str, *, enable: bool = False) -> AccountRow:
        """New secret hash, secret version + 1 (tokens of the old secret stop working); NotFound."""
        ...

    def disable(self, uuid: str, at: datetime) -> AccountRow:
        """Disable (idempotent); Conflict when it is the last enabled admin; NotFound."""
        ...

    def any_enabled_admin(self) -> bool: ...

    def meta(self, key: str, default: Callable[[], str]) -> str:
        """A shared value, created from `default()` by the first caller (every replica gets the same)."""
        ...


# -- subscriptions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionRow:
    """A channel an account opened for one user id: a Redis stream or a key on the Kafka topic."""

    uuid: str
    stream_key: str
    transport: str
    account_id: int | None  # None when rebuilt from Redis and the owner is unknown
    owner_uuid: str | None
    user_id: str
    user_name: str | None
    created_at: datetime
    deleted_at: datetime | None = None
    delete_reason: str | None = None
    secret_sha256: str | None = None  # of its Redis writer's password (None: no writer of its own)
    id: int | None = None  # set once stored

    @property
    def live(self) -> bool:
        return self.deleted_at is None


class SubscriptionStore(Protocol):
    """The durable copy of the subscription registry; soft deletes only."""

    def insert(self, sub: SubscriptionRow) -> SubscriptionRow: ...

    def remove(self, uuid: str) -> None:
        """Undo an insert whose Redis half failed."""
        ...

    def get(self, uuid: str) -> SubscriptionRow | None: ...

    def listed(self, account_id: int | None, include_deleted: bool) -> list[SubscriptionRow]:
        """Of one account (None: every account), oldest first."""
        ...

    def soft_delete(self, uuids: Sequence[str], reason: str, at: datetime) -> list[str]:
        """Mark live ones deleted; the uuids that were live (deleting twice is a no-op)."""
        ...

    def restore(self, subs: Sequence[SubscriptionRow]) -> int:
        """Insert subscriptions known elsewhere (the Redis registry); existing ones are left alone."""
        ...

    def set_secret(self, uuid: str, secret_sha256: str) -> bool:
        """Replace the hash of a live subscription's writer password; False when none is live by that uuid."""
        ...


# -- file catalog -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFileRow:
    """One uploaded file: its lineage key, its storage group, and the object holding its bytes."""

    uuid: str
    key: str
    trace_key: str
    group_key: str
    filename: str | None
    content_type: str | None
    backend: str
    object_name: str
    codec: str
    size: int
    stored_size: int
    sha256: str
    account_id: int | None
    stored_at: datetime
    state: str = "stored"
    marked_at: datetime | None = None
    marked_rule: str | None = None
    expired_at: datetime | None = None
    id: int | None = None  # set once stored


@dataclass(frozen=True)
class RetentionRow:
    """One deletion by retention: which file, under which rule, how many stored bytes, when."""

    uuid: str
    file_id: int
    file_key: str
    trace_key: str
    group_key: str
    backend: str
    rule: str
    bytes: int
    size: int
    stored_at: datetime
    marked_at: datetime
    deleted_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class LiveTotals:
    files: int
    stored_bytes: int


Mark = tuple[StoredFileRow, str]  # a file and the retention rule that marks it
MarkPlanner = Callable[[LiveTotals, Iterator[StoredFileRow]], list[Mark]]


class FileCatalog(Protocol):
    """Stored files and retention records. Retention never deletes a row: `state` goes stored →
    marked → expired, and each deletion writes one RetentionRow."""

    def key_taken(self, key: str) -> bool: ...

    def insert(self, row: StoredFileRow) -> StoredFileRow:
        """Record an uploaded file; Conflict when its key is taken."""
        ...

    def by_key(self, key: str) -> StoredFileRow | None: ...

    def group_exists(self, group: str) -> bool: ...

    def in_group(self, group: str) -> Iterator[StoredFileRow]:
        """The group's files still held (stored or marked), in upload order, read a page at a time."""
        ...

    def of_day(self, day: datetime) -> Iterator[StoredFileRow]:
        """Files stored on one UTC day and still held, in upload order."""
        ...

    def plan_marks(self, backend: str, planner: MarkPlanner, now: datetime, *, apply: bool) -> list[Mark]:
        """Give `planner` the totals and the unmarked files of a backend (oldest first); with `apply`, mark
        what it returns, holding a lock so that two runs never plan from the same totals."""
        ...

    def marked(
        self,
        backend: str,
        before: datetime | None = None,
        limit: int | None = None,
        after: tuple[datetime, int] | None = None,
    ) -> list[StoredFileRow]:
        """Marked files (marked at or before `before`), oldest first, a page after `after` (stored_at, id)."""
        ...

    def expire(self, f: StoredFileRow, now: datetime, delete_object: Callable[[str], None]) -> RetentionRow | None:
        """Claim a marked file, delete its object, write its retention record, in one transaction (a failed
        delete leaves it marked). None when another run took it."""
        ...

    def retention_records(
        self, limit: int, before_id: int | None, key: str | None, rule: str | None
    ) -> list[RetentionRow]:
        """Newest first; page with `before_id`."""
        ...

    def usage(self, backend: str, since: datetime) -> tuple[int, int]:
        """(stored bytes of the backend's live files, as retention's size limit counts them; stored bytes of
        the files stored at or after `since`, whatever became of them)."""
        ...


# -- exports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRow:
    """An export job: what to export (`query`, normalised by the domain), who asked, where it is up to."""

    uuid: str
    account_id: int | None  # None: made by an operator on the command line
    content: str  # events | stats | summaries
    format: str  # ndjson | csv
    compression: str  # gzip | none
    query: dict[str, Any]
    status: str  # queued | running | done | failed | expired
    created_at: datetime
    expires_at: datetime
    holder: str | None = None
    lease_until: datetime | None = None
    events: int = 0  # records written so far
    bytes: int = 0
    chunks: int = 0
    estimate: int | None = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class ChunkRow:
    """One written chunk: its name under the export's prefix, records, bytes, sha256, first and last record
    (their positions, as the content describes them) and the cursor the next chunk starts after."""

    seq: int
    name: str
    events: int
    bytes: int
    sha256: str
    first: dict[str, Any]
    last: dict[str, Any]
    cursor: str


@dataclass(frozen=True)
class EventScope:
    """Which stored events an export takes: a period (of receive or event time, [since, until)), a trace, the
    events naming any of some nodes, and only those an account sent; every field given narrows it."""

    since: datetime | None = None
    until: datetime | None = None
    time: str = "received"  # received | event
    trace_key: str | None = None
    node_keys: tuple[str, ...] | None = None
    account_uuid: str | None = None  # the public id of the account that sent them
    types: tuple[str, ...] | None = None  # only events of these types


class ExportedEvent(NamedTuple):
    """A stored event as exports write it: the log's row id (`seq`, insertion order), the envelope's id, where
    it came from, and the canonical payload as stored. Times come as the fixed-width UTC text exports write
    (`2026-01-01T00:00:00.000000Z`): an export of a million events spends nothing on parsing and printing them.
    A tuple: an export reads them by the million."""

    seq: int
    uuid: str
    type: str
    created: str
    received: str
    trace_key: str | None
    node_key: str | None
    user_id: str | None
    channel: str
    account: str | None  # the public id of the account that sent it
    payload: str


class ExportStore(Protocol):
    """Export jobs, their chunks, and the paged reads exports are made of.

    - ``claim`` hands one export to one holder at a time: a queued one, or a running one whose holder's lease
      ran out (it resumes after its last recorded chunk). Of concurrent callers at most one gets each export.
    - ``record_chunk`` adds a chunk, its counts and a renewed lease in one transaction, only while the caller
      still holds the export (False: it was taken over or expired; the caller stops). ``finish`` likewise.
    - Pages are keyset pages in a stable order (events by log id, summaries by trace key): a page after the
      last row of the previous one continues exactly where it stopped, whatever was added meanwhile after it.
    - Every write is durable on return.
    """

    def create(self, row: ExportRow) -> ExportRow: ...

    def get(self, uuid: str) -> ExportRow | None: ...

    def listed(self, account_id: int | None, limit: int) -> list[ExportRow]:
        """Newest first; of one account, or (None) of every account."""
        ...

    def active(self, account_id: int | None) -> int:
        """How many exports of this account are queued or running."""
        ...

    def claim(self, holder: str, seconds: float) -> ExportRow | None: ...

    def record_chunk(self, uuid: str, holder: str, chunk: ChunkRow, seconds: float) -> bool: ...

    def renew(self, uuid: str, holder: str, seconds: float) -> bool:
        """Extend the holder's lease; False when it no longer holds the export."""
        ...

    def set_estimate(self, uuid: str, estimate: int) -> None: ...

    def finish(self, uuid: str, holder: str, error: str | None) -> bool:
        """Done (error None) or failed with the error; False when the caller no longer holds it."""
        ...

    def chunks(self, uuid: str) -> list[ChunkRow]: ...

    def due(self, now: datetime, limit: int) -> list[ExportRow]:
        """Exports past their expiry time not marked expired yet, oldest first."""
        ...

    def expire(self, uuid: str) -> None:
        """Mark it expired and forget its chunks (their objects were deleted)."""
        ...

    def event_page(self, scope: EventScope, after: int, limit: int) -> list[ExportedEvent]:
        """Events of the scope with a log id above `after`, in id order."""
        ...

    def count_events(self, scope: EventScope) -> int: ...

    def traces_of(self, node_keys: Sequence[str]) -> set[str]:
        """Every trace whose events name one of these nodes."""
        ...

    def summary_page(
        self, since: datetime | None, until: datetime | None, trace_keys: Sequence[str] | None, after: str, limit: int
    ) -> list[TraceSummaryRow]:
        """Stored trace summaries with a key above `after` in key order: of these traces, and (period) those
        whose events span any part of [since, until)."""
        ...


# -- whole tables (backup and restore) ----------------------------------------------------------

DumpRow = dict[str, object]  # one row by column name, JSON-safe: datetimes as ISO-8601 UTC text, bools, ints, None
DumpKey = tuple[object, ...]  # a row's primary key values, in the key's column order


class TableReader(Protocol):
    """The tables as they were when the snapshot began (PostgreSQL: one REPEATABLE READ transaction; SQLite:
    one read transaction of the WAL), so every page of every table agrees with the others."""

    def count(self, table: str) -> int: ...

    def rows(self, table: str, after: DumpKey | None, limit: int) -> list[DumpRow]:
        """At most `limit` rows in primary-key order, those after `after`: keyset paging, memory bounded by
        `limit` whatever the table's size."""
        ...

    def key(self, table: str, row: DumpRow) -> DumpKey:
        """The primary key of a row `rows` returned, to page on from it."""
        ...


class TableLoader(Protocol):
    """Writes inside one transaction: all of it is committed when `TableDump.loading` returns, or none of it
    (an exception rolls it back). On PostgreSQL every serial sequence is moved past the largest id before the
    commit, so rows inserted later do not collide with loaded ones."""

    def clear(self, tables: Sequence[str]) -> None:
        """Delete every row of these tables (replaced by a backup's: accounts, meta)."""
        ...

    def load(self, table: str, rows: Sequence[DumpRow]) -> None:
        """Insert rows as they are, primary keys included (a key already present is an error)."""
        ...

    def account_ids(self, uuids: Sequence[str]) -> dict[str, int]:
        """The ids of the accounts with these uuids (public ids) in this database: {uuid: id}."""
        ...

    def merge_events(self, rows: Sequence[DumpRow]) -> dict[int, int]:
        """Insert event rows under new ids, unprojected and uncounted, skipping those the log already holds
        (the event log's dedup: same dedup key, or same uuid); {backup id: new id} of those added."""
        ...

    def merge_event_nodes(self, rows: Sequence[DumpRow], events: dict[int, int]) -> int:
        """Insert the node links of the events `merge_events` added (event ids mapped), under new ids."""
        ...

    def merge_files(self, rows: Sequence[DumpRow]) -> dict[int, int]:
        """Insert stored-file rows whose key and uuid are free, under new ids; {backup id: new id} of those."""
        ...

    def merge_retention(self, rows: Sequence[DumpRow], files: dict[int, int]) -> int:
        """Insert the retention records of the files `merge_files` added (file ids mapped), under new ids."""
        ...


class TableDump(Protocol):
    """Every table of the SQL schema as rows, to write a backup of and to load one into (backend/db/dump.py).

    Guarantees (tests/contract/test_table_dump.py, on SQLite and PostgreSQL):
    - `tables()` lists the tables worth keeping in foreign-key order (parents first), without the transient
      ones (`EXCLUDED`: job leases, export jobs); loading them in that order never breaks a reference.
    - Rows read by `snapshot()` and written by `loading()` round-trip: loaded into an empty database of the
      same revision, they read back equal, on either database, whichever one they came from.
    - `loading()` is all or nothing (see TableLoader); a snapshot sees no write made after it began.
    """

    def revision(self) -> str | None:
        """The schema (alembic) revision of the database."""
        ...

    def tables(self) -> list[str]: ...

    def columns(self, table: str) -> list[str]: ...

    def occupied(self) -> list[str]:
        """The tables that make an instance non-empty and hold rows now (events, stored files, retention
        records, subscriptions); [] for an instance that was only started."""
        ...

    def snapshot(self) -> AbstractContextManager[TableReader]: ...

    def loading(self) -> AbstractContextManager[TableLoader]: ...
