"""Batch job leases on SQL (SQLite or PostgreSQL): one upsert decides who holds a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.engine import translated
from backend.db.models import TABLES

LEASES = TABLES["job_leases"]
L = LEASES.c


def _now() -> datetime:
    return datetime.now(UTC)


class SqlJobLeases:
    """JobLeases (backend/db/base.py) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert: Any = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert

    @translated
    def acquire(self, job: str, holder: str, seconds: float) -> bool:
        now = _now()
        stmt = self._insert(LEASES).values(job=job, holder=holder, expires_at=now + timedelta(seconds=seconds))
        stmt = stmt.on_conflict_do_update(  # taken over only when free (expired) or renewed by its holder
            index_elements=[L.job],
            set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
            where=(L.holder == holder) | (L.expires_at < now),
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
            return bool(conn.execute(select(L.holder).where(L.job == job)).scalar_one() == holder)

    @translated
    def release(self, job: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(LEASES).where(L.job == job, L.holder == holder))

    @translated
    def holder(self, job: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(L.holder).where(L.job == job, L.expires_at >= _now())).first()
        return None if row is None else str(row.holder)
