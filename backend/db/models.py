"""SQL tables (SQLModel). BIGINT primary keys; a UUID text column is the public id."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

from backend.domain.ids import uuid7

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


class Event(SQLModel, table=True):
    """The event log: the source of truth every projection is rebuilt from."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_unprojected", "projected", "id"),
        Index("ix_events_trace_time", "trace_key", "created_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(max_length=36, unique=True)
    dedup_key: str = Field(max_length=64, unique=True)
    channel: str = Field(max_length=200)
    type: str = Field(max_length=32)
    trace_key: str | None = Field(default=None, max_length=512)
    node_key: str | None = Field(default=None, max_length=512, index=True)
    level: str | None = Field(default=None, max_length=8)
    user_id: str | None = Field(default=None, max_length=512)
    account_id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=True))
    created_at: datetime = Field(index=True)
    received_at: datetime = Field(default_factory=_now)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    projected: bool = Field(default=False)


class EventNode(SQLModel, table=True):
    """Which nodes an event names (node, inputs, outputs): answers 'events of node X' without scanning payloads."""

    __tablename__ = "event_nodes"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    event_id: int = Field(sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False, index=True))
    node_key: str = Field(max_length=512, index=True)
    kind: str = Field(max_length=8)
    role: str = Field(max_length=8)  # node | input | output


class Meta(SQLModel, table=True):
    """Server-wide values that every replica must share (e.g. the JWT signing key)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=100)
    value: str = Field(sa_column=Column(Text, nullable=False))
