"""The event log on SQL (SQLite or PostgreSQL): dedup inserts, the projection cursor, per-node reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, false, func, select, text, update

from backend.db.base import LoggedEvent, LogTarget, NewEvent, NodeEvent, TraceLog
from backend.db.engine import ping, translated, utc
from backend.db.models import TABLES, TRACE_LOGS

_CHUNK = 500  # rows per INSERT statement: stays under SQLite's bound-parameter limit
EVENTS = TABLES["events"]
NODES = TABLES["event_nodes"]
E, N = EVENTS.c, NODES.c
_INSERT = (
    "INSERT INTO events (uuid, dedup_key, channel, type, trace_key, node_key, level, user_id, account_id, "
    "created_at, received_at, payload, projected) VALUES {values} ON CONFLICT DO NOTHING RETURNING id, dedup_key"
)
_LINKS = "INSERT INTO event_nodes (event_id, node_key, kind, role) VALUES ({p}, {p}, {p}, {p})"


def _same(value: datetime) -> datetime:
    return value


def _sqlite_time(value: datetime) -> str:
    """A UTC time as SQLAlchemy keeps it in SQLite (naive text, microseconds)."""
    value = value.astimezone(UTC) if value.tzinfo else value
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class SqlEventLog:
    """EventLog (backend.db.base) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        p, false = ("?", "0") if self._sqlite else ("%s", "false")  # the drivers' placeholders (qmark, format)
        self._row = "(" + ",".join([p] * 12) + f",{false})"
        self._links = _LINKS.format(p=p)

    @translated
    def insert(self, events: Sequence[NewEvent]) -> dict[str, int]:
        inserted: dict[str, int] = {}
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for start in range(0, len(events), _CHUNK):
                chunk = events[start : start + _CHUNK]
                new = self._insert_rows(conn, chunk, now)
                inserted.update(new)
                links = [
                    (new[ev.dedup_key], n.key, n.kind, n.role) for ev in chunk if ev.dedup_key in new for n in ev.nodes
                ]
                if links:
                    conn.exec_driver_sql(self._links, links)
        return inserted

    def _insert_rows(self, conn: Connection, chunk: Sequence[NewEvent], now: datetime) -> dict[str, int]:
        """INSERT … ON CONFLICT DO NOTHING RETURNING: duplicates (by dedup key or uuid) are skipped. One
        multi-row statement straight to the driver: SQLAlchemy's own batching cost as much as SQLite itself
        there. SQLite gets times in the text form SQLAlchemy writes and reads for it; psycopg, datetimes."""
        time = _sqlite_time if self._sqlite else _same
        received = time(now)
        params: list[object] = []
        for ev in chunk:
            params += (
                ev.uuid,
                ev.dedup_key,
                ev.channel,
                ev.type,
                ev.trace_key,
                ev.node_key,
                ev.level,
                ev.user_id,
                ev.account_id,
                time(ev.created_at),
                received,
                ev.payload,
            )
        statement = _INSERT.format(values=",".join([self._row] * len(chunk)))
        return {key: int(id_) for id_, key in conn.exec_driver_sql(statement, tuple(params))}

    @translated
    def known_node_traces(self, keys: Iterable[str]) -> dict[str, str]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        stmt = (
            select(N.node_key, func.min(E.trace_key))
            .join(EVENTS, E.id == N.event_id)
            .where(N.node_key.in_(wanted), E.trace_key.is_not(None))
            .group_by(N.node_key)
        )
        with self.engine.connect() as conn:
            return {str(k): str(t) for k, t in conn.execute(stmt)}

    @translated
    def unprojected(
        self, limit: int, dedup_keys: Sequence[str] | None = None, received_before: datetime | None = None
    ) -> list[LoggedEvent]:
        stmt = select(E.id, E.payload, E.trace_key, E.created_at).where(E.projected == false())
        if dedup_keys is not None:
            stmt = stmt.where(E.dedup_key.in_(list(dedup_keys)))
        if received_before is not None:
            stmt = stmt.where(E.received_at < received_before)
        stmt = stmt.order_by(E.id).limit(limit)
        with self.engine.connect() as conn:
            return [LoggedEvent(int(r.id), str(r.payload), r.trace_key, utc(r.created_at)) for r in conn.execute(stmt)]

    @translated
    def mark_projected(self, ids: Sequence[int]) -> None:
        """One UPDATE per run of consecutive ids (a merged batch is mostly one run)."""
        with self.engine.begin() as conn:
            for low, high in id_runs(sorted(set(ids))):
                conn.execute(update(EVENTS).where(E.id.between(low, high)).values(projected=True))

    @translated
    def reset_projection(self) -> int:
        with self.engine.begin() as conn:
            conn.execute(update(EVENTS).values(projected=False))
            return int(conn.execute(select(func.count()).select_from(EVENTS)).scalar_one())

    @translated
    def projection_backlog(self) -> tuple[int, datetime | None]:
        with self.engine.connect() as conn:
            count = int(
                conn.execute(select(func.count()).select_from(EVENTS).where(E.projected == false())).scalar_one()
            )
        return count, self.oldest_unprojected() if count else None

    @translated
    def oldest_unprojected(self) -> datetime | None:
        stmt = select(E.received_at).where(E.projected == false()).order_by(E.id).limit(1)
        with self.engine.connect() as conn:
            oldest = conn.execute(stmt).scalar_one_or_none()
        return utc(oldest) if oldest is not None else None

    @translated
    def trace_backlog(self, trace_key: str) -> int:
        stmt = select(func.count()).select_from(EVENTS).where(E.trace_key == trace_key, E.projected == false())
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    @translated
    def log_counts(self, targets: set[LogTarget]) -> dict[LogTarget, dict[str, int]]:
        out: dict[LogTarget, dict[str, int]] = {t: {} for t in targets}
        kinds = {k: kind for k, kind in targets if kind is not None}
        node_keys = sorted(kinds)
        trace_keys = sorted(k for k, kind in targets if kind is None)
        with self.engine.connect() as conn:
            for start in range(0, len(node_keys), _CHUNK):
                stmt = (
                    select(N.node_key, E.level, func.count())
                    .join(EVENTS, E.id == N.event_id)
                    .where(N.node_key.in_(node_keys[start : start + _CHUNK]), N.role == "node", E.type == "log")
                    .group_by(N.node_key, E.level)
                )
                for key, level, count in conn.execute(stmt):
                    out[(key, kinds[key])][level] = int(count)
            for start in range(0, len(trace_keys), _CHUNK):
                stmt = (
                    select(E.trace_key, E.level, func.count())
                    .where(
                        and_(E.type == "log", E.node_key.is_(None), E.trace_key.in_(trace_keys[start : start + _CHUNK]))
                    )
                    .group_by(E.trace_key, E.level)
                )
                for key, level, count in conn.execute(stmt):
                    out[(key, None)][level] = int(count)
        return out

    @translated
    def node_events(self, key: str, limit: int) -> list[NodeEvent]:
        stmt = (
            select(E.uuid, E.type, E.created_at, E.trace_key, E.payload, N.role)
            .join(NODES, N.event_id == E.id)
            .where(N.node_key == key)
            .order_by(E.created_at, E.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                NodeEvent(r.uuid, r.type, utc(r.created_at), r.trace_key, r.role, r.payload) for r in conn.execute(stmt)
            ]

    @translated
    def trace_logs(self, trace_key: str, limit: int) -> list[TraceLog]:
        stmt = (
            select(E.created_at, E.level, E.payload)
            .where(E.trace_key == trace_key, text(TRACE_LOGS))  # as written: the partial index's own condition
            .order_by(E.created_at.desc(), E.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = [TraceLog(utc(r.created_at), r.level, r.payload) for r in conn.execute(stmt)]
        return rows[::-1]

    @translated
    def search_keys(self, prefix: str, limit: int) -> list[tuple[str, str]]:
        """A range over each key index: [prefix, prefix + the last code point). PostgreSQL compares in the "C"
        collation there (its indexes of migration 0006), where a range is exactly a prefix whatever the
        database's own collation; SQLite compares bytes already."""
        if not prefix:
            return []
        high = prefix + "\U0010ffff"

        def keyed(column: Any) -> Any:
            return column if self._sqlite else column.collate("C")

        trace, node = keyed(E.trace_key), keyed(N.node_key)
        # grouped in index order, so each statement stops after `limit` keys instead of collecting the range
        traces = select(trace).where(trace >= prefix, trace < high).group_by(trace).order_by(trace).limit(limit)
        nodes = (
            select(node, func.min(N.kind)).where(node >= prefix, node < high).group_by(node).order_by(node).limit(limit)
        )
        with self.engine.connect() as conn:
            found = [(str(k), "trace") for (k,) in conn.execute(traces)]
            found += [(str(k), str(kind)) for k, kind in conn.execute(nodes)]
        return [(k, kind) for k, kind in found if k.startswith(prefix)][:limit]

    def ping(self) -> None:
        ping(self.engine)


def id_runs(ids: list[int]) -> list[tuple[int, int]]:
    """Sorted ids as (first, last) runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for i in ids:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs
