"""Whole tables over SQLAlchemy Core, for backup and restore (TableDump in backend/db/base.py): keyset pages
in primary-key order from one snapshot, JSON-safe rows, loads in one transaction with the ids kept (or, when
merging, through the same ON CONFLICT dedup as the event log)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Table,
    TypeDecorator,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel

from backend.db.base import DumpKey, DumpRow
from backend.db.engine import current_revision, sql_errors, translated
from backend.db.models import TABLES

# Transient tables, never in a backup: leases name processes of the instance that took them, and export jobs
# (with their chunks) expire on their own.
EXCLUDED = ("job_leases", "exports", "export_chunks")
# Which rows make an instance non-empty: restoring over them needs --merge.
OCCUPYING = ("events", "stored_files", "retention_records", "subscriptions")
_BATCH = 500  # rows per INSERT: SQLite's bound-parameter limit over the widest table


def _text(value: object) -> object:
    """A value as JSON carries it; naive datetimes were written as UTC."""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return value


def _time(value: object) -> object:
    """ISO-8601 text back to an aware UTC datetime (a naive one was written as UTC)."""
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _is_time(column: Column[Any]) -> bool:
    """DateTime, or the UTC-aware type SQLModel decorates it with."""
    kind = column.type
    return isinstance(kind, DateTime) or (isinstance(kind, TypeDecorator) and isinstance(kind.impl_instance, DateTime))


def _table(name: str) -> Table:
    if name not in TABLES or name in EXCLUDED:
        raise KeyError(f"no table {name!r} to dump")
    return TABLES[name]


def _key(table: Table) -> list[Column[Any]]:
    return list(table.primary_key.columns)


class SqlReader:
    """TableReader on one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def count(self, table: str) -> int:
        return int(self.conn.execute(select(func.count()).select_from(_table(table))).scalar_one())

    def rows(self, table: str, after: DumpKey | None, limit: int) -> list[DumpRow]:
        t = _table(table)
        key = _key(t)
        stmt = select(t).order_by(*key).limit(limit)
        if after is not None:
            values = [_time(v) if _is_time(c) else v for c, v in zip(key, after, strict=True)]
            stmt = stmt.where(key[0] > values[0] if len(key) == 1 else tuple_(*key) > tuple_(*values))
        with sql_errors():
            return [{str(k): _text(v) for k, v in row._mapping.items()} for row in self.conn.execute(stmt)]

    def key(self, table: str, row: DumpRow) -> DumpKey:
        return tuple(row[c.name] for c in _key(_table(table)))


class SqlLoader:
    """TableLoader on one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    def _rows(self, table: Table, rows: Sequence[DumpRow], drop: Sequence[str] = ()) -> list[dict[str, object]]:
        times = {c.name for c in table.columns if _is_time(c)}
        known = set(table.columns.keys())
        out = []
        for row in rows:
            unknown = set(row) - known
            if unknown:
                raise ValueError(f"{table.name}: unknown columns {sorted(unknown)}")
            out.append({k: (_time(v) if k in times else v) for k, v in row.items() if k not in drop})
        return out

    def clear(self, tables: Sequence[str]) -> None:
        for name in reversed(tables):
            self.conn.execute(delete(_table(name)))

    def load(self, table: str, rows: Sequence[DumpRow]) -> None:
        t = _table(table)
        values = self._rows(t, rows)
        for start in range(0, len(values), _BATCH):
            self.conn.execute(insert(t), values[start : start + _BATCH])

    def _insert_new(self, t: Table, values: list[dict[str, object]], returning: Sequence[str]) -> list[Any]:
        """INSERT … ON CONFLICT DO NOTHING RETURNING: rows that meet a unique value already there are skipped."""
        dialect = postgresql if self.postgres else sqlite
        found: list[Any] = []
        for start in range(0, len(values), _BATCH):
            stmt = dialect.insert(t).on_conflict_do_nothing().returning(*(t.c[c] for c in returning))
            for value in values[start : start + _BATCH]:  # one row a statement: RETURNING pairs with its row
                found.extend(self.conn.execute(stmt, value).all())
        return found

    def account_ids(self, uuids: Sequence[str]) -> dict[str, int]:
        t = _table("accounts")
        found: dict[str, int] = {}
        wanted = list(uuids)
        for start in range(0, len(wanted), _BATCH):
            stmt = select(t.c.uuid, t.c.id).where(t.c.uuid.in_(wanted[start : start + _BATCH]))
            found.update({str(u): int(i) for u, i in self.conn.execute(stmt)})
        return found

    def merge_events(self, rows: Sequence[DumpRow]) -> dict[int, int]:
        t = _table("events")
        values = self._rows(t, rows, drop=("id",))
        for value in values:
            value.update(projected=False, counted=False, duplicate_of=None)
        by_uuid = {str(r["uuid"]): int(str(r["id"])) for r in rows}
        return {by_uuid[str(uuid)]: int(new) for new, uuid in self._insert_new(t, values, ("id", "uuid"))}

    def merge_event_nodes(self, rows: Sequence[DumpRow], events: dict[int, int]) -> int:
        t = _table("event_nodes")
        kept = [{**r, "event_id": events[int(str(r["event_id"]))]} for r in rows if int(str(r["event_id"])) in events]
        values = self._rows(t, kept, drop=("id",))
        for start in range(0, len(values), _BATCH):
            self.conn.execute(insert(t), values[start : start + _BATCH])
        return len(values)

    def merge_files(self, rows: Sequence[DumpRow]) -> dict[int, int]:
        t = _table("stored_files")
        values = self._rows(t, rows, drop=("id",))
        by_uuid = {str(r["uuid"]): int(str(r["id"])) for r in rows}
        return {by_uuid[str(uuid)]: int(new) for new, uuid in self._insert_new(t, values, ("id", "uuid"))}

    def merge_retention(self, rows: Sequence[DumpRow], files: dict[int, int]) -> int:
        t = _table("retention_records")
        kept = [{**r, "file_id": files[int(str(r["file_id"]))]} for r in rows if int(str(r["file_id"])) in files]
        return len(self._insert_new(t, self._rows(t, kept, drop=("id",)), ("id",)))

    def reset_sequences(self) -> None:
        """PostgreSQL: each serial id's sequence to just past the largest id (rows were loaded with theirs)."""
        if not self.postgres:
            return
        for t in SQLModel.metadata.sorted_tables:
            key = _key(t)
            if len(key) == 1 and key[0].autoincrement is True and t.name not in EXCLUDED:
                self.conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{t.name}', '{key[0].name}'), "
                        f"COALESCE((SELECT MAX({key[0].name}) FROM {t.name}), 0) + 1, false)"
                    )
                )


class SqlTableDump:
    """TableDump (backend.db.base) over SQLAlchemy, on SQLite and PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def revision(self) -> str | None:
        return current_revision(self.engine)

    def tables(self) -> list[str]:
        return [str(t.name) for t in SQLModel.metadata.sorted_tables if t.name not in EXCLUDED]

    def columns(self, table: str) -> list[str]:
        return [str(c) for c in _table(table).columns.keys()]

    @translated
    def occupied(self) -> list[str]:
        with self.engine.connect() as conn:
            return [
                name for name in OCCUPYING if conn.execute(select(text("1")).select_from(TABLES[name]).limit(1)).first()
            ]

    @contextmanager
    def snapshot(self) -> Iterator[SqlReader]:
        with sql_errors(), self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield SqlReader(conn)
                return
            # pysqlite begins no transaction for reads: begin one, so the pages share one WAL snapshot
            conn.exec_driver_sql("BEGIN")
            try:
                yield SqlReader(conn)
            finally:
                conn.rollback()

    @contextmanager
    def loading(self) -> Iterator[SqlLoader]:
        with sql_errors(), self.engine.begin() as conn:
            loader = SqlLoader(conn)
            yield loader
            loader.reset_sequences()
