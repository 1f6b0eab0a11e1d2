"""The file catalog on SQL: stored files and retention records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from uuid_utils import uuid7

from backend.db.base import LiveTotals, Mark, MarkPlanner, RetentionRow, StoredFileRow
from backend.db.engine import sql_errors, translated, utc
from backend.db.models import TABLES
from backend.errors import Conflict

_PAGE = 500
FILES = TABLES["stored_files"]
RECORDS = TABLES["retention_records"]
F, R = FILES.c, RECORDS.c
_RETENTION_LOCK = 0x6674656C  # "ftel": the PostgreSQL advisory lock of retention marking


def _file(row: Any) -> StoredFileRow:
    m = row._mapping
    return StoredFileRow(
        uuid=m["uuid"],
        key=m["key"],
        trace_key=m["trace_key"],
        group_key=m["group_key"],
        filename=m["filename"],
        content_type=m["content_type"],
        backend=m["backend"],
        object_name=m["object_name"],
        codec=m["codec"],
        size=int(m["size"]),
        stored_size=int(m["stored_size"]),
        sha256=m["sha256"],
        account_id=int(m["account_id"]) if m["account_id"] is not None else None,
        stored_at=utc(m["stored_at"]),
        state=m["state"],
        marked_at=utc(m["marked_at"]) if m["marked_at"] else None,
        marked_rule=m["marked_rule"],
        expired_at=utc(m["expired_at"]) if m["expired_at"] else None,
        id=int(m["id"]),
    )


def _record(row: Any) -> RetentionRow:
    m = row._mapping
    return RetentionRow(
        uuid=m["uuid"],
        file_id=int(m["file_id"]),
        file_key=m["file_key"],
        trace_key=m["trace_key"],
        group_key=m["group_key"],
        backend=m["backend"],
        rule=m["rule"],
        bytes=int(m["bytes"]),
        size=int(m["size"]),
        stored_at=utc(m["stored_at"]),
        marked_at=utc(m["marked_at"]),
        deleted_at=utc(m["deleted_at"]),
        id=int(m["id"]),
    )


def _after(after: tuple[datetime, int] | None) -> ColumnElement[bool] | None:
    if after is None:
        return None
    return or_(F.stored_at > after[0], and_(F.stored_at == after[0], F.id > after[1]))


class SqlFileCatalog:
    """FileCatalog (backend.db.base) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @translated
    def key_taken(self, key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(F.id).where(F.key == key)).first() is not None

    @translated
    def insert(self, row: StoredFileRow) -> StoredFileRow:
        values = asdict(row)
        values.pop("id")
        try:
            with self.engine.begin() as conn:
                stored = conn.execute(FILES.insert().returning(*FILES.c), values).one()
        except IntegrityError:
            raise Conflict(f"file key {row.key!r} is already taken", {"key": row.key}) from None
        return _file(stored)

    @translated
    def by_key(self, key: str) -> StoredFileRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(FILES).where(F.key == key)).first()
        return _file(row) if row else None

    @translated
    def group_exists(self, group: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(F.id).where(F.group_key == group).limit(1)).first() is not None

    def _pages_by_id(self, where: ColumnElement[bool]) -> Iterator[StoredFileRow]:
        """Rows in id (upload) order, a page at a time: a long archive holds neither a cursor nor every row."""
        last_id = 0
        while True:
            stmt = select(FILES).where(where, F.id > last_id).order_by(F.id).limit(_PAGE)
            with sql_errors(), self.engine.connect() as conn:
                rows = [_file(r) for r in conn.execute(stmt)]
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id or 0

    def in_group(self, group: str) -> Iterator[StoredFileRow]:
        return self._pages_by_id(and_(F.group_key == group, F.state != "expired"))

    def of_day(self, day: datetime) -> Iterator[StoredFileRow]:
        start = day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
        if start.date() == date.max:  # the calendar's last day has no next one to stop before
            return self._pages_by_id(and_(F.stored_at >= start, F.state != "expired"))
        return self._pages_by_id(
            and_(F.stored_at >= start, F.stored_at < start + timedelta(days=1), F.state != "expired")
        )

    @translated
    def plan_marks(self, backend: str, planner: MarkPlanner, now: datetime, *, apply: bool) -> list[Mark]:
        with self.engine.begin() as conn:
            if apply:  # the lock holds until the transaction ends: two runs never plan from the same totals
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RETENTION_LOCK})
                else:  # any write statement takes SQLite's single write lock for the rest of the transaction
                    conn.execute(text("UPDATE stored_files SET state = state WHERE 1 = 0"))
            count, total = conn.execute(
                select(func.count(), func.coalesce(func.sum(F.stored_size), 0)).where(
                    F.backend == backend, F.state == "stored"
                )
            ).one()
            marks = planner(LiveTotals(int(count), int(total)), self._live_oldest_first(conn, backend))
            if apply:
                for f, rule in marks:
                    conn.execute(
                        update(FILES)
                        .where(F.id == f.id, F.state == "stored")
                        .values(state="marked", marked_at=now, marked_rule=rule)
                    )
        return marks

    @staticmethod
    def _live_oldest_first(conn: Any, backend: str) -> Iterator[StoredFileRow]:
        after: tuple[datetime, int] | None = None
        while True:
            stmt = select(FILES).where(F.backend == backend, F.state == "stored")
            if (cond := _after(after)) is not None:
                stmt = stmt.where(cond)
            rows = [_file(r) for r in conn.execute(stmt.order_by(F.stored_at, F.id).limit(_PAGE))]
            if not rows:
                return
            yield from rows
            after = (rows[-1].stored_at, rows[-1].id or 0)

    @translated
    def marked(
        self,
        backend: str,
        before: datetime | None = None,
        limit: int | None = None,
        after: tuple[datetime, int] | None = None,
    ) -> list[StoredFileRow]:
        stmt = select(FILES).where(F.backend == backend, F.state == "marked")
        if before is not None:
            stmt = stmt.where(F.marked_at <= before)
        if (cond := _after(after)) is not None:
            stmt = stmt.where(cond)
        stmt = stmt.order_by(F.stored_at, F.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [_file(r) for r in conn.execute(stmt)]

    @translated
    def expire(self, f: StoredFileRow, now: datetime, delete_object: Callable[[str], None]) -> RetentionRow | None:
        record = RetentionRow(
            uuid=str(uuid7()),
            file_id=f.id or 0,
            file_key=f.key,
            trace_key=f.trace_key,
            group_key=f.group_key,
            backend=f.backend,
            rule=f.marked_rule or "unknown",
            bytes=f.stored_size,
            size=f.size,
            stored_at=f.stored_at,
            marked_at=f.marked_at or now,
            deleted_at=now,
        )
        values = asdict(record)
        values.pop("id")
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(FILES).where(F.id == f.id, F.state == "marked").values(state="expired", expired_at=now)
            ).rowcount
            if not claimed:
                return None
            record_id = conn.execute(RECORDS.insert().returning(R.id), values).scalar_one()
            delete_object(f.object_name)  # raises: the transaction rolls back, the file stays marked
        return RetentionRow(**{**values, "id": int(record_id)})

    @translated
    def retention_records(
        self, limit: int, before_id: int | None, key: str | None, rule: str | None
    ) -> list[RetentionRow]:
        stmt = select(RECORDS)
        if before_id is not None:
            stmt = stmt.where(R.id < before_id)
        if key is not None:
            stmt = stmt.where(R.file_key == key)
        if rule is not None:
            stmt = stmt.where(R.rule == rule)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(stmt.order_by(R.id.desc()).limit(limit))]

    @translated
    def usage(self, backend: str, since: datetime) -> tuple[int, int]:
        live = func.coalesce(func.sum(F.stored_size).filter(F.state == "stored"), 0)
        recent = func.coalesce(func.sum(F.stored_size).filter(F.stored_at >= since), 0)
        with self.engine.connect() as conn:
            held, added = conn.execute(select(live, recent).where(F.backend == backend)).one()
        return int(held), int(added)
