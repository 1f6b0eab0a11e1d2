"""Trace summaries, the summaries job's cursor and the user fill records on SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, Row, and_, bindparam, false, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.base import LoggedEvent, TraceSummaryRow, UserFillRow
from backend.db.engine import translated, utc
from backend.db.models import TABLES

SUMMARIES, FILLS, CURSOR = TABLES["trace_summaries"], TABLES["user_fills"], TABLES["summary_cursor"]
EVENTS, NODES = TABLES["events"], TABLES["event_nodes"]
S, F, E, N = SUMMARIES.c, FILLS.c, EVENTS.c, NODES.c
_CHUNK = 500  # keys per IN list: under SQLite's bound-parameter limit
_NAME = "summaries"


def _chunks(keys: Sequence[str]) -> list[list[str]]:
    unique = sorted(set(keys))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


def _values(row: TraceSummaryRow) -> dict[str, Any]:
    return {
        "trace_key": row.trace_key,
        "user_id": row.user_id,
        "started": row.started,
        "status": row.status,
        "files": row.files,
        "dropped": row.dropped,
        "unconverted": row.unconverted,
        "data": row.data,
        "outputs": row.outputs,
        "drop_reasons": orjson.dumps(row.drop_reasons, option=orjson.OPT_SORT_KEYS).decode(),
        "first_at": row.first_at,
        "last_at": row.last_at,
        "duration_seconds": row.duration_seconds,
        "user_missing": row.user_missing,
        "through_id": row.through_id,
        "computed_at": row.computed_at,
        "fill_pending": True,
    }


def summary_row(r: Row[Any]) -> TraceSummaryRow:
    return TraceSummaryRow(
        trace_key=r.trace_key,
        user_id=r.user_id,
        started=bool(r.started),
        status=r.status,
        files=int(r.files),
        dropped=int(r.dropped),
        unconverted=int(r.unconverted),
        data=int(r.data),
        outputs=int(r.outputs),
        drop_reasons={str(k): int(v) for k, v in orjson.loads(r.drop_reasons).items()},
        first_at=utc(r.first_at) if r.first_at is not None else None,
        last_at=utc(r.last_at) if r.last_at is not None else None,
        user_missing=bool(r.user_missing),
        through_id=int(r.through_id),
        computed_at=utc(r.computed_at),
    )


class SqlTraceSummaries:
    """TraceSummaries (backend/db/base.py) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert: Any = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert

    # -- summaries ------------------------------------------------------------------------------

    @translated
    def save(self, rows: Sequence[TraceSummaryRow]) -> None:
        if not rows:
            return
        stmt = self._insert(SUMMARIES)
        columns = [c.name for c in SUMMARIES.c if c.name != "trace_key"]
        stmt = stmt.on_conflict_do_update(  # never back to a row computed through an older event
            index_elements=[S.trace_key],
            set_={name: stmt.excluded[name] for name in columns},
            where=S.through_id <= stmt.excluded.through_id,
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, [_values(r) for r in rows])

    @translated
    def get(self, trace_key: str) -> TraceSummaryRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(SUMMARIES).where(S.trace_key == trace_key)).first()
        return None if row is None else summary_row(row)

    @translated
    def current(self, trace_keys: Sequence[str]) -> dict[str, TraceSummaryRow]:
        # the trace's newest event by the (trace_key, id) index: one probe per row
        newest = select(func.max(E.id)).where(E.trace_key == S.trace_key).scalar_subquery()
        out: dict[str, TraceSummaryRow] = {}
        with self.engine.connect() as conn:
            for keys in _chunks(trace_keys):
                for r in conn.execute(select(SUMMARIES).where(S.trace_key.in_(keys), S.through_id == newest)):
                    out[r.trace_key] = summary_row(r)
        return out

    @translated
    def newest_events(self, trace_keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        with self.engine.connect() as conn:
            for keys in _chunks(trace_keys):
                newest = conn.execute(
                    select(E.trace_key, func.max(E.id)).where(E.trace_key.in_(keys)).group_by(E.trace_key)
                ).all()
                waiting: dict[str, int] = dict(
                    conn.execute(  # through the partial index of unprojected events: few rows
                        select(E.trace_key, func.count())
                        .where(E.projected == false(), E.trace_key.in_(keys))
                        .group_by(E.trace_key)
                    ).all()
                )
                out.update({str(k): (int(top), int(waiting.get(k, 0))) for k, top in newest})
        return out

    # -- the job's cursor over the event log ----------------------------------------------------

    @translated
    def cursor(self) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(CURSOR.c.through_id).where(CURSOR.c.name == _NAME)).scalar_one_or_none()
        return int(value or 0)

    @translated
    def advance(self, through_id: int) -> None:
        stmt = self._insert(CURSOR).values(name=_NAME, through_id=through_id)
        stmt = stmt.on_conflict_do_update(
            index_elements=[CURSOR.c.name],
            set_={"through_id": stmt.excluded.through_id},
            where=CURSOR.c.through_id < stmt.excluded.through_id,
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    @translated
    def events_after(self, after_id: int, limit: int, received_before: datetime) -> list[LoggedEvent]:
        oldest_waiting = select(func.min(E.id)).where(E.projected == false()).scalar_subquery()
        stmt = (
            select(E.id, E.payload, E.trace_key, E.created_at, E.received_at)
            .where(E.id > after_id, (oldest_waiting.is_(None)) | (E.id < oldest_waiting))
            .order_by(E.id)
            .limit(limit)
        )
        out: list[LoggedEvent] = []
        with self.engine.connect() as conn:
            for r in conn.execute(stmt):
                if utc(r.received_at) >= received_before:  # stop, not skip: the cursor must not pass it
                    break
                out.append(LoggedEvent(int(r.id), str(r.payload), r.trace_key, utc(r.created_at)))
        return out

    @translated
    def node_traces(self, node_keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as conn:
            for keys in _chunks(node_keys):
                stmt = (
                    select(E.trace_key)
                    .join(NODES, N.event_id == E.id)
                    .where(N.node_key.in_(keys), E.trace_key.is_not(None))
                    .distinct()
                )
                found.update(str(t) for (t,) in conn.execute(stmt))
        return found

    # -- what time changes ----------------------------------------------------------------------

    @translated
    def age(self, idle_before: datetime) -> int:
        stmt = update(SUMMARIES).where(S.status == "open", S.last_at < idle_before).values(status="idle-ended")
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    @translated
    def flag_user_missing(self, first_before: datetime) -> int:
        stmt = (
            update(SUMMARIES)
            .where(S.started == false(), S.user_missing == false(), S.first_at < first_before)
            .values(user_missing=True)
        )
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    # -- fills ----------------------------------------------------------------------------------

    @translated
    def fill_pending(self, limit: int) -> list[tuple[str, int]]:
        stmt = select(S.trace_key, S.through_id).where(S.fill_pending == true()).order_by(S.trace_key).limit(limit)
        with self.engine.connect() as conn:
            return [(str(k), int(t)) for k, t in conn.execute(stmt)]

    @translated
    def refill_all(self) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(update(SUMMARIES).values(fill_pending=True)).rowcount)

    @translated
    def filled(self, done: Sequence[tuple[str, int]]) -> None:
        if not done:
            return
        stmt = (
            update(SUMMARIES)
            .where(and_(S.trace_key == bindparam("k"), S.through_id == bindparam("t")))
            .values(fill_pending=False)
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, [{"k": k, "t": t} for k, t in done])

    @translated
    def record_fills(self, fills: Sequence[UserFillRow]) -> None:
        if not fills:
            return
        rows = [
            {
                "node_key": f.node_key,
                "kind": f.kind,
                "trace_key": f.trace_key,
                "user_id": f.user_id,
                "previous_user": f.previous_user,
                "filled_at": f.filled_at,
            }
            for f in fills
        ]
        with self.engine.begin() as conn:
            conn.execute(FILLS.insert(), rows)

    @translated
    def fills(self, trace_keys: Sequence[str]) -> list[UserFillRow]:
        latest: dict[str, UserFillRow] = {}
        with self.engine.connect() as conn:
            for keys in _chunks(trace_keys):
                for r in conn.execute(select(FILLS).where(F.trace_key.in_(keys)).order_by(F.id)):
                    latest[r.node_key] = UserFillRow(
                        r.node_key, r.kind, r.trace_key, r.user_id, r.previous_user, utc(r.filled_at)
                    )
        return list(latest.values())
