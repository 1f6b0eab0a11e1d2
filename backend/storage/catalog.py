"""SQL access for the file catalog (stored_files) and the retention records."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from backend.db.files_models import RetentionRecord, StoredFile
from backend.domain.errors import Conflict

_PAGE = 500
FILES = cast(Table, StoredFile.__table__)  # type: ignore[attr-defined]
RECORDS = cast(Table, RetentionRecord.__table__)  # type: ignore[attr-defined]
F, R = FILES.c, RECORDS.c


def utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def key_taken(engine: Engine, key: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(F.id).where(F.key == key)).first() is not None


def insert_file(engine: Engine, row: StoredFile) -> StoredFile:
    """Record an uploaded file; Conflict when its key is taken (a key names one file, for good)."""
    values = row.model_dump(exclude={"id"})
    try:
        with engine.begin() as conn:
            row.id = conn.execute(FILES.insert().returning(F.id), values).scalar_one()
    except IntegrityError:
        raise Conflict(f"file key {row.key!r} is already taken", {"key": row.key}) from None
    return row


def _file(row: Any) -> StoredFile:
    f = StoredFile.model_validate(dict(row._mapping))
    f.stored_at = utc(f.stored_at)
    f.marked_at = utc(f.marked_at) if f.marked_at else None
    f.expired_at = utc(f.expired_at) if f.expired_at else None
    return f


def file_by_key(engine: Engine, key: str) -> StoredFile | None:
    with engine.connect() as conn:
        row = conn.execute(select(FILES).where(F.key == key)).first()
    return _file(row) if row else None


def group_exists(engine: Engine, group: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(F.id).where(F.group_key == group).limit(1)).first() is not None


def _pages_by_id(engine: Engine, where: Any) -> Iterator[StoredFile]:
    """Rows matching `where` in id (upload) order, a page at a time: a long archive holds neither a
    cursor nor every row."""
    last_id = 0
    while True:
        stmt = select(FILES).where(where, F.id > last_id).order_by(F.id).limit(_PAGE)
        with engine.connect() as conn:
            rows = [_file(r) for r in conn.execute(stmt)]
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id or 0


def files_in_group(engine: Engine, group: str) -> Iterator[StoredFile]:
    """The group's files still held (stored or marked), in upload order."""
    return _pages_by_id(engine, and_(F.group_key == group, F.state != "expired"))


def files_of_day(engine: Engine, day: datetime) -> Iterator[StoredFile]:
    """Files stored on one UTC day and still held, in upload order."""
    start = day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
    where = and_(F.stored_at >= start, F.stored_at < start + timedelta(days=1),
                 F.state != "expired")
    return _pages_by_id(engine, where)


# -- retention ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveTotals:
    files: int
    stored_bytes: int


_RETENTION_LOCK = 0x6674656C  # "ftel": the PostgreSQL advisory lock of retention marking


@contextmanager
def marking_lock(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the retention marking lock until it ends, so two runs (the schedule
    of several replicas, `ftel retention run`) never plan from the same totals and mark twice as much."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _RETENTION_LOCK})
        else:  # any write statement takes SQLite's single write lock for the rest of the transaction
            conn.execute(text("UPDATE stored_files SET state = state WHERE 1 = 0"))
        yield conn


def live_totals(conn: Connection, backend: str) -> LiveTotals:
    """Count and stored bytes of the files retention has not marked yet."""
    stmt = select(func.count(), func.coalesce(func.sum(F.stored_size), 0)).where(
        F.backend == backend, F.state == "stored")
    count, total = conn.execute(stmt).one()
    return LiveTotals(int(cast(int, count)), int(cast(int, total)))


def live_oldest_first(conn: Connection, backend: str) -> Iterator[StoredFile]:
    """Unmarked files of a backend, oldest first (stored_at, then id), read a page at a time."""
    after: tuple[datetime, int] | None = None
    while True:
        stmt = select(FILES).where(F.backend == backend, F.state == "stored")
        if after is not None:
            stmt = stmt.where(or_(F.stored_at > after[0], and_(F.stored_at == after[0], F.id > after[1])))
        stmt = stmt.order_by(F.stored_at, F.id).limit(_PAGE)
        rows = [_file(r) for r in conn.execute(stmt)]
        if not rows:
            return
        yield from rows
        after = (rows[-1].stored_at, rows[-1].id or 0)


def mark(conn: Connection, marks: Sequence[tuple[int, str]], now: datetime) -> int:
    """Mark files for deletion with their rule (only files still unmarked)."""
    done = 0
    for file_id, rule in marks:
        result = conn.execute(update(FILES).where(F.id == file_id, F.state == "stored")
                              .values(state="marked", marked_at=now, marked_rule=rule))
        done += result.rowcount
    return done


def marked_due(engine: Engine, backend: str, before: datetime, limit: int,
               after: tuple[datetime, int] | None = None) -> list[StoredFile]:
    """Marked files whose grace period ended (marked at or before `before`), oldest first, a page
    after `after` (the (stored_at, id) of the previous page's last file)."""
    stmt = select(FILES).where(F.backend == backend, F.state == "marked",
                                              F.marked_at <= before)
    if after is not None:
        stmt = stmt.where(or_(F.stored_at > after[0], and_(F.stored_at == after[0], F.id > after[1])))
    stmt = stmt.order_by(F.stored_at, F.id).limit(limit)
    with engine.connect() as conn:
        return [_file(r) for r in conn.execute(stmt)]


def marked_files(engine: Engine, backend: str) -> list[StoredFile]:
    stmt = (select(FILES).where(F.backend == backend, F.state == "marked")
            .order_by(F.stored_at, F.id))
    with engine.connect() as conn:
        return [_file(r) for r in conn.execute(stmt)]


def expire(engine: Engine, f: StoredFile, now: datetime, delete_object: Any) -> RetentionRecord | None:
    """Claim a marked file, delete its object, write its retention record: one transaction, so a
    crash or a failed delete leaves it marked for the next run. None when another run took it."""
    record = RetentionRecord(file_id=f.id or 0, file_key=f.key, trace_key=f.trace_key, group_key=f.group_key,
                             backend=f.backend, rule=f.marked_rule or "unknown", bytes=f.stored_size, size=f.size,
                             stored_at=f.stored_at, marked_at=f.marked_at or now, deleted_at=now)
    with engine.begin() as conn:
        claimed = conn.execute(update(FILES).where(F.id == f.id, F.state == "marked")
                               .values(state="expired", expired_at=now)).rowcount
        if not claimed:
            return None
        conn.execute(RECORDS.insert(), [record.model_dump(exclude={"id"})])
        delete_object(f.object_name)  # raises: the transaction rolls back, the file stays marked
    return record


def retention_records(engine: Engine, limit: int, before_id: int | None, key: str | None, rule: str | None) -> list[RetentionRecord]:
    """Newest first; page with `before_id` (the last id of the previous page)."""
    stmt = select(RECORDS)
    if before_id is not None:
        stmt = stmt.where(R.id < before_id)
    if key is not None:
        stmt = stmt.where(R.file_key == key)
    if rule is not None:
        stmt = stmt.where(R.rule == rule)
    stmt = stmt.order_by(R.id.desc()).limit(limit)
    with engine.connect() as conn:
        out = []
        for row in conn.execute(stmt):
            r = RetentionRecord.model_validate(dict(row._mapping))
            r.stored_at, r.marked_at, r.deleted_at = utc(r.stored_at), utc(r.marked_at), utc(r.deleted_at)
            out.append(r)
        return out
