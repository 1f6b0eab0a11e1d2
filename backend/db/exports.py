"""Export jobs and the paged reads they are made of, on SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, Row, and_, delete, func, insert, or_, select, update

from backend.db.base import ChunkRow, EventScope, ExportedEvent, ExportRow, TraceSummaryRow
from backend.db.engine import translated, utc
from backend.db.models import TABLES
from backend.db.summaries import summary_row

EXPORTS, CHUNKS = TABLES["exports"], TABLES["export_chunks"]
EVENTS, NODES, ACCOUNTS, SUMMARIES = (
    TABLES["events"],
    TABLES["event_nodes"],
    TABLES["accounts"],
    TABLES["trace_summaries"],
)
X, C, E, N, A, S = EXPORTS.c, CHUNKS.c, EVENTS.c, NODES.c, ACCOUNTS.c, SUMMARIES.c
_ACTIVE = ("queued", "running")
_KEYS_PER_QUERY = 500  # node keys bound in one IN (...)


def _now() -> datetime:
    return datetime.now(UTC)


def _opt(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


def _export(r: Row[Any]) -> ExportRow:
    return ExportRow(
        uuid=r.uuid,
        account_id=r.account_id,
        content=r.content,
        format=r.format,
        compression=r.compression,
        query=orjson.loads(r.query),
        status=r.status,
        created_at=utc(r.created_at),
        expires_at=utc(r.expires_at),
        holder=r.holder,
        lease_until=_opt(r.lease_until),
        events=int(r.events),
        bytes=int(r.bytes),
        chunks=int(r.chunks),
        estimate=r.estimate,
        error=r.error,
        started_at=_opt(r.started_at),
        finished_at=_opt(r.finished_at),
    )


def _chunk(r: Row[Any]) -> ChunkRow:
    return ChunkRow(
        seq=r.seq,
        name=r.name,
        events=int(r.events),
        bytes=int(r.bytes),
        sha256=r.sha256,
        first=orjson.loads(r.first),
        last=orjson.loads(r.last),
        cursor=r.cursor,
    )


class SqlExports:
    """ExportStore (backend/db/base.py) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- jobs ------------------------------------------------------------------------------------

    @translated
    def create(self, row: ExportRow) -> ExportRow:
        values = {
            "uuid": row.uuid,
            "account_id": row.account_id,
            "content": row.content,
            "format": row.format,
            "compression": row.compression,
            "query": orjson.dumps(row.query).decode(),
            "status": row.status,
            "events": 0,
            "bytes": 0,
            "chunks": 0,
            "created_at": row.created_at,
            "expires_at": row.expires_at,
        }
        with self.engine.begin() as conn:
            conn.execute(insert(EXPORTS).values(**values))
        return row

    @translated
    def get(self, uuid: str) -> ExportRow | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(EXPORTS).where(X.uuid == uuid)).first()
        return None if r is None else _export(r)

    @translated
    def listed(self, account_id: int | None, limit: int) -> list[ExportRow]:
        query = select(EXPORTS).order_by(X.id.desc()).limit(limit)
        if account_id is not None:
            query = query.where(X.account_id == account_id)
        with self.engine.connect() as conn:
            return [_export(r) for r in conn.execute(query)]

    @translated
    def active(self, account_id: int | None) -> int:
        owner = X.account_id.is_(None) if account_id is None else X.account_id == account_id
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(owner, X.status.in_(_ACTIVE))).scalar_one())

    @translated
    def claim(self, holder: str, seconds: float) -> ExportRow | None:
        now = _now()
        free = or_(X.status == "queued", and_(X.status == "running", X.lease_until < now))
        with self.engine.begin() as conn:
            for (uuid,) in conn.execute(select(X.uuid).where(free).order_by(X.id).limit(5)).all():
                taken = conn.execute(  # conditional: of two claimers of the same row, one updates it
                    update(EXPORTS)
                    .where(X.uuid == uuid, free)
                    .values(
                        status="running",
                        holder=holder,
                        lease_until=now + timedelta(seconds=seconds),
                        started_at=func.coalesce(X.started_at, now),
                    )
                )
                if taken.rowcount == 1:
                    r = conn.execute(select(EXPORTS).where(X.uuid == uuid)).one()
                    return _export(r)
        return None

    @translated
    def record_chunk(self, uuid: str, holder: str, chunk: ChunkRow, seconds: float) -> bool:
        with self.engine.begin() as conn:
            held = conn.execute(
                update(EXPORTS)
                .where(X.uuid == uuid, X.holder == holder, X.status == "running")
                .values(
                    events=X.events + chunk.events,
                    bytes=X.bytes + chunk.bytes,
                    chunks=X.chunks + 1,
                    lease_until=_now() + timedelta(seconds=seconds),
                )
            )
            if held.rowcount != 1:
                return False
            export_id = conn.execute(select(X.id).where(X.uuid == uuid)).scalar_one()
            conn.execute(
                insert(CHUNKS).values(
                    export_id=export_id,
                    seq=chunk.seq,
                    name=chunk.name,
                    events=chunk.events,
                    bytes=chunk.bytes,
                    sha256=chunk.sha256,
                    first=orjson.dumps(chunk.first).decode(),
                    last=orjson.dumps(chunk.last).decode(),
                    cursor=chunk.cursor,
                )
            )
        return True

    @translated
    def renew(self, uuid: str, holder: str, seconds: float) -> bool:
        with self.engine.begin() as conn:
            held = conn.execute(
                update(EXPORTS)
                .where(X.uuid == uuid, X.holder == holder, X.status == "running")
                .values(lease_until=_now() + timedelta(seconds=seconds))
            )
        return held.rowcount == 1

    @translated
    def set_estimate(self, uuid: str, estimate: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(EXPORTS).where(X.uuid == uuid).values(estimate=estimate))

    @translated
    def finish(self, uuid: str, holder: str, error: str | None) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(EXPORTS)
                .where(X.uuid == uuid, X.holder == holder, X.status == "running")
                .values(status="failed" if error else "done", error=error, finished_at=_now(), lease_until=None)
            )
        return done.rowcount == 1

    @translated
    def chunks(self, uuid: str) -> list[ChunkRow]:
        with self.engine.connect() as conn:
            export_id = conn.execute(select(X.id).where(X.uuid == uuid)).scalar_one_or_none()
            if export_id is None:
                return []
            return [_chunk(r) for r in conn.execute(select(CHUNKS).where(C.export_id == export_id).order_by(C.seq))]

    @translated
    def due(self, now: datetime, limit: int) -> list[ExportRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(EXPORTS).where(X.expires_at < now, X.status != "expired").order_by(X.expires_at).limit(limit)
            )
            return [_export(r) for r in rows]

    @translated
    def expire(self, uuid: str) -> None:
        with self.engine.begin() as conn:
            export_id = conn.execute(select(X.id).where(X.uuid == uuid)).scalar_one_or_none()
            if export_id is None:
                return
            conn.execute(delete(CHUNKS).where(C.export_id == export_id))
            conn.execute(
                update(EXPORTS).where(X.id == export_id).values(status="expired", holder=None, lease_until=None)
            )

    # -- what exports are made of ----------------------------------------------------------------

    def _where(self, scope: EventScope) -> list[Any]:
        where: list[Any] = []
        column = E.created_at if scope.time == "event" else E.received_at
        if scope.since is not None:
            where.append(column >= scope.since)
        if scope.until is not None:
            where.append(column < scope.until)
        if scope.trace_key is not None:
            where.append(E.trace_key == scope.trace_key)
        if scope.types is not None:
            where.append(E.type.in_(scope.types))
        if scope.account_uuid is not None:
            where.append(E.account_id == select(A.id).where(A.uuid == scope.account_uuid).scalar_subquery())
        if scope.node_keys is not None:
            keys = list(scope.node_keys)
            naming = [
                E.id.in_(select(N.event_id).where(N.node_key.in_(keys[i : i + _KEYS_PER_QUERY])))
                for i in range(0, len(keys), _KEYS_PER_QUERY)
            ]
            where.append(or_(*naming) if naming else E.id < 0)
        return where

    def _time_text(self, column: Any) -> Any:
        """A time column as fixed-width UTC text, made by the database: SQLite keeps `YYYY-MM-DD HH:MM:SS.ffffff`
        (always with microseconds, as the event log writes it), PostgreSQL formats its timestamp."""
        if self.engine.dialect.name == "sqlite":
            return func.replace(column, " ", "T").concat("Z")
        return func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')

    @translated
    def event_page(self, scope: EventScope, after: int, limit: int) -> list[ExportedEvent]:
        query = (
            select(
                E.id,
                E.uuid,
                E.type,
                self._time_text(E.created_at),
                self._time_text(E.received_at),
                E.trace_key,
                E.node_key,
                E.user_id,
                E.channel,
                A.uuid,
                E.payload,
            )
            .select_from(EVENTS.outerjoin(ACCOUNTS, A.id == E.account_id))
            .where(E.id > after, *self._where(scope))
            .order_by(E.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            result = conn.execute(query)  # binds through SQLAlchemy; rows straight from the driver: no column needs
            return list(map(ExportedEvent._make, result.cursor.fetchall()))  # converting, and Rows cost 40 % more

    @translated
    def count_events(self, scope: EventScope) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(EVENTS).where(*self._where(scope))).scalar_one())

    @translated
    def traces_of(self, node_keys: Sequence[str]) -> set[str]:
        keys, out = list(node_keys), set[str]()
        with self.engine.connect() as conn:
            for i in range(0, len(keys), _KEYS_PER_QUERY):
                naming = select(N.event_id).where(N.node_key.in_(keys[i : i + _KEYS_PER_QUERY]))
                rows = conn.execute(select(E.trace_key).where(E.id.in_(naming), E.trace_key.is_not(None)).distinct())
                out.update(str(r[0]) for r in rows)
        return out

    @translated
    def summary_page(
        self, since: datetime | None, until: datetime | None, trace_keys: Sequence[str] | None, after: str, limit: int
    ) -> list[TraceSummaryRow]:
        where: list[Any] = [S.trace_key > after]
        if since is not None:
            where.append(S.last_at >= since)
        if until is not None:
            where.append(S.first_at < until)
        if trace_keys is not None:
            keys = list(trace_keys)
            where.append(
                or_(*[S.trace_key.in_(keys[i : i + _KEYS_PER_QUERY]) for i in range(0, len(keys), _KEYS_PER_QUERY)])
                if keys
                else S.trace_key < ""
            )
        query = select(SUMMARIES).where(*where).order_by(S.trace_key).limit(limit)
        with self.engine.connect() as conn:
            return [summary_row(r) for r in conn.execute(query)]
