"""SQL tables (SQLModel): accounts, the event log, subscriptions, stored files and retention records.
BIGINT primary keys; a UUID text column is the public id. Only the stores in backend/db use them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, Integer, Text, false, text
from sqlmodel import Field, SQLModel
from uuid_utils import uuid7

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT (identity).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _now() -> datetime:
    return datetime.now(UTC)


def _uuid() -> str:
    return str(uuid7())


class Account(SQLModel, table=True):
    __tablename__ = "accounts"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(default_factory=_uuid, max_length=36, unique=True, index=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)  # system | human
    roles: str = Field(max_length=200)  # comma separated, sorted
    client_id: str = Field(max_length=200, unique=True, index=True)
    secret_hash: str = Field(max_length=200)
    secret_version: int = Field(default=1)
    created_at: datetime = Field(default_factory=_now)
    disabled_at: datetime | None = None

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


TRACE_LOGS = "type = 'log' AND node_key IS NULL"  # the log events of a trace that name no node


class Event(SQLModel, table=True):
    """The event log: the source of truth every projection is rebuilt from."""

    __tablename__ = "events"
    __table_args__ = (
        # the projector's cursor: only events not yet merged into the graph (migration 0005)
        Index(
            "ix_events_unprojected", "id", sqlite_where=text("projected = 0"), postgresql_where=text("NOT projected")
        ),
        Index("ix_events_trace_time", "trace_key", "created_at"),
        Index("ix_events_trace_id", "trace_key", "id"),  # a trace's newest event: is its summary current (0009)
        # a trace's own log messages (migration 0006; PostgreSQL also indexes keys in the "C" collation there)
        Index(
            "ix_events_trace_logs",
            "trace_key",
            "created_at",
            sqlite_where=text(TRACE_LOGS),
            postgresql_where=text(TRACE_LOGS),
        ),
        # the rollups' cursor: only events not yet counted in the statistics (migration 0008)
        Index("ix_events_uncounted", "id", sqlite_where=text("counted = 0"), postgresql_where=text("NOT counted")),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(max_length=36, unique=True)
    dedup_key: str = Field(max_length=64, unique=True)
    channel: str = Field(max_length=200)
    type: str = Field(max_length=32)
    trace_key: str | None = Field(default=None, max_length=512)
    node_key: str | None = Field(default=None, max_length=512)
    level: str | None = Field(default=None, max_length=8)
    user_id: str | None = Field(default=None, max_length=512)
    account_id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=True)
    )
    created_at: datetime
    received_at: datetime = Field(default_factory=_now)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    projected: bool = Field(default=False)
    # counted in the statistics (backend/db/stats.py), and whether it repeats an event that arrived over
    # another channel (the id of the one counted; migrations 0008 and 0010)
    counted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    duplicate_of: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=True)
    )


class EventNode(SQLModel, table=True):
    """Which nodes an event names (node, inputs, outputs): answers 'events of node X' without scanning payloads."""

    __tablename__ = "event_nodes"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    event_id: int = Field(sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False))
    node_key: str = Field(max_length=512, index=True)
    kind: str = Field(max_length=8)
    role: str = Field(max_length=8)  # node | input | output


class JobLease(SQLModel, table=True):
    """Which batch process runs a job now, until when (backend/db/leases.py)."""

    __tablename__ = "job_leases"

    job: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=200)
    expires_at: datetime


class TraceSummary(SQLModel, table=True):
    """A trace's summary as the batch job computed it, through the trace's newest event then
    (backend/db/summaries.py); `fill_pending`: the fill job has not looked at it since."""

    __tablename__ = "trace_summaries"
    __table_args__ = (
        Index("ix_trace_summaries_fill", "fill_pending"),
        Index("ix_trace_summaries_status", "status", "last_at"),
    )

    trace_key: str = Field(primary_key=True, max_length=512)
    user_id: str | None = Field(default=None, max_length=512)
    started: bool = Field(default=False)  # a trace.started came
    status: str = Field(max_length=16)  # open | ended | idle-ended
    files: int = 0
    dropped: int = 0
    unconverted: int = 0
    data: int = 0
    outputs: int = 0
    drop_reasons: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON {reason: count}
    first_at: datetime | None = None  # the trace's first and last event times
    last_at: datetime | None = None
    duration_seconds: float = 0.0
    user_missing: bool = Field(default=False)
    through_id: int = Field(sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False))
    computed_at: datetime
    fill_pending: bool = Field(default=True)


class UserFill(SQLModel, table=True):
    """One fill: a node's user set from the trace that owns it (`previous_user`: what a fill set before)."""

    __tablename__ = "user_fills"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    node_key: str = Field(max_length=512, index=True)
    kind: str = Field(max_length=8)
    trace_key: str = Field(max_length=512, index=True)
    user_id: str = Field(max_length=512)
    previous_user: str | None = Field(default=None, max_length=512)
    filled_at: datetime


class SummaryCursor(SQLModel, table=True):
    """How far the summaries job has read the event log (by event id)."""

    __tablename__ = "summary_cursor"

    name: str = Field(primary_key=True, max_length=32)
    through_id: int = Field(sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False))


class Meta(SQLModel, table=True):
    """Server-wide values that every replica must share (e.g. the JWT signing key)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_column=Column(Text, nullable=False))


class Subscription(SQLModel, table=True):
    """A channel an account opened for one user id: a Redis stream or a key on the Kafka topic.
    Soft-deleted (unsubscribe, idle expiry): the row stays, with when and why."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_live", "deleted_at", "transport"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(max_length=36, unique=True, index=True)
    stream_key: str = Field(max_length=200, unique=True)
    transport: str = Field(max_length=16)  # redis | kafka
    # Owner; NULL when rebuilt from Redis after the SQL store was lost and the account is unknown.
    account_id: int | None = Field(
        default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=True, index=True)
    )
    owner_uuid: str | None = Field(default=None, max_length=36)
    user_id: str = Field(max_length=512)
    user_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=_now)
    deleted_at: datetime | None = None
    delete_reason: str | None = Field(default=None, max_length=32)  # unsubscribed | idle
    # SHA-256 (hex) of the password of its Redis writer user; the password itself is shown once, never kept
    secret_sha256: str | None = Field(default=None, max_length=64)


# Original and stored sizes go past 2 GiB: BIGINT on PostgreSQL (SQLite integers are 64-bit anyway).
_BigCount = BigInteger().with_variant(Integer(), "sqlite")


class StoredFile(SQLModel, table=True):
    """One uploaded file: its lineage key, its storage group, and the object holding its compressed bytes."""

    __tablename__ = "stored_files"
    __table_args__ = (
        # retention walks the live files of one backend oldest first
        Index("ix_stored_files_backend_state_time", "backend", "state", "stored_at", "id"),
        Index("ix_stored_files_group", "group_key", "stored_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(default_factory=_uuid, max_length=36, unique=True)
    key: str = Field(max_length=512, unique=True)
    trace_key: str = Field(max_length=512)
    group_key: str = Field(max_length=512)
    filename: str | None = Field(default=None, max_length=512)
    content_type: str | None = Field(default=None, max_length=200)
    backend: str = Field(max_length=16)  # local | s3
    object_name: str = Field(max_length=1024)
    codec: str = Field(max_length=8)  # zstd | gzip
    size: int = Field(sa_column=Column(_BigCount, nullable=False))
    stored_size: int = Field(sa_column=Column(_BigCount, nullable=False))
    sha256: str = Field(max_length=64)
    account_id: int | None = Field(default=None, sa_column=Column(_BigCount, nullable=True))
    stored_at: datetime = Field(default_factory=_now, index=True)
    state: str = Field(default="stored", max_length=8)
    marked_at: datetime | None = None
    marked_rule: str | None = Field(default=None, max_length=16)
    expired_at: datetime | None = None


class RetentionRecord(SQLModel, table=True):
    """One deletion by retention: which file, under which rule, how many stored bytes, when."""

    __tablename__ = "retention_records"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(default_factory=_uuid, max_length=36, unique=True)
    file_id: int = Field(sa_column=Column(_BigCount, nullable=False, unique=True))  # a file is deleted once
    file_key: str = Field(max_length=512, index=True)
    trace_key: str = Field(max_length=512)
    group_key: str = Field(max_length=512)
    backend: str = Field(max_length=16)
    rule: str = Field(max_length=16)  # max_age | max_files | max_bytes
    bytes: int = Field(sa_column=Column(_BigCount, nullable=False))  # stored (compressed) bytes freed
    size: int = Field(sa_column=Column(_BigCount, nullable=False))  # original size of the file
    stored_at: datetime
    marked_at: datetime
    deleted_at: datetime = Field(default_factory=_now, index=True)


class RollupCount(SQLModel, table=True):
    """An additive measure of the event log (or the lag's max) per UTC 15-minute bucket and dimension."""

    __tablename__ = "rollup_counts"

    dim: str = Field(primary_key=True, max_length=8)  # all | account | user | reason
    bucket: int = Field(sa_column=Column(BigInteger, primary_key=True))  # floor(epoch ms / 900,000)
    key: str = Field(primary_key=True, max_length=512)  # '' for all
    measure: str = Field(primary_key=True, max_length=600)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))


class RollupMember(SQLModel, table=True):
    """Who was active in a bucket (a trace, a user): counted distinct over any window when read."""

    __tablename__ = "rollup_members"

    dim: str = Field(primary_key=True, max_length=8)
    bucket: int = Field(sa_column=Column(BigInteger, primary_key=True))
    key: str = Field(primary_key=True, max_length=512)
    kind: str = Field(primary_key=True, max_length=8)  # trace | user
    member: str = Field(primary_key=True, max_length=512)


class RollupFile(SQLModel, table=True):
    """A file received in a bucket: with rollup_settled, the unconverted files of any window."""

    __tablename__ = "rollup_files"

    dim: str = Field(primary_key=True, max_length=8)
    bucket: int = Field(sa_column=Column(BigInteger, primary_key=True))
    key: str = Field(primary_key=True, max_length=512)
    file_key: str = Field(primary_key=True, max_length=512)


class RollupSettled(SQLModel, table=True):
    """When a file first flowed on (a flow's input) or was dropped, in epoch milliseconds."""

    __tablename__ = "rollup_settled"

    file_key: str = Field(primary_key=True, max_length=512)
    settled_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Export(SQLModel, table=True):
    """An export job (#14): what to export (`query`, JSON), who asked, its state, and where it is up to."""

    __tablename__ = "exports"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(max_length=36, unique=True)
    account_id: int | None = Field(default=None, sa_column=Column(_BigCount, nullable=True, index=True))
    content: str = Field(max_length=16)  # events | stats | summaries
    format: str = Field(max_length=8)  # ndjson | csv
    compression: str = Field(max_length=8)  # gzip | none
    query: str = Field(sa_column=Column(Text, nullable=False))  # JSON: the scope, as normalised
    status: str = Field(max_length=8, index=True)  # queued | running | done | failed | expired
    holder: str | None = Field(default=None, max_length=200)  # the process running it
    lease_until: datetime | None = Field(default=None)
    events: int = Field(default=0, sa_column=Column(_BigCount, nullable=False))  # records written so far
    bytes: int = Field(default=0, sa_column=Column(_BigCount, nullable=False))
    chunks: int = Field(default=0)
    estimate: int | None = Field(default=None, sa_column=Column(_BigCount, nullable=True))  # records expected
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=_now)
    started_at: datetime | None = Field(default=None)
    finished_at: datetime | None = Field(default=None)
    expires_at: datetime = Field(index=True)


class ExportChunk(SQLModel, table=True):
    """One written chunk of an export: its object, size, hash, record count and first/last record."""

    __tablename__ = "export_chunks"

    export_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    seq: int = Field(primary_key=True)
    name: str = Field(max_length=64)
    events: int = Field(sa_column=Column(_BigCount, nullable=False))
    bytes: int = Field(sa_column=Column(_BigCount, nullable=False))
    sha256: str = Field(max_length=64)
    first: str = Field(sa_column=Column(Text, nullable=False))  # JSON: the first record's position
    last: str = Field(sa_column=Column(Text, nullable=False))
    cursor: str = Field(sa_column=Column(Text, nullable=False))  # where the next chunk starts


TABLES = SQLModel.metadata.tables  # by name: what the stores query (SQLModel does not type `Model.__table__`)
