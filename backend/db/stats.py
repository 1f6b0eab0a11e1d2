"""The rollups on SQL (SQLite or PostgreSQL): a pass counts uncounted events under their mark, in one
transaction with the dedup marks and the bucket upserts; reads sum 15-minute buckets into windows."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from backend.db.base import CountedEvent, RollupDelta, RollupPass, StatsCell
from backend.db.engine import translated, utc
from backend.db.event_log import id_runs
from backend.db.models import TABLES

log = logging.getLogger("ftel.stats")

_CHUNK = 500  # ids or keys per IN list: stays under SQLite's bound-parameter limit
EVENTS, ACCOUNTS = TABLES["events"], TABLES["accounts"]
COUNTS, MEMBERS, FILES, SETTLED = (
    TABLES[t] for t in ("rollup_counts", "rollup_members", "rollup_files", "rollup_settled")
)
E = EVENTS.c
# Times as epoch milliseconds, computed by the database (exactly: integers, no float on a window's edge).
# SQLite keeps them as text "YYYY-MM-DD HH:MM:SS.ffffff" (always microseconds: SQLAlchemy and the event log
# write them so); PostgreSQL's EXTRACT(EPOCH) is an exact numeric.
_MS = {
    "sqlite": "(CAST(strftime('%s', {c}) AS INTEGER) * 1000 + CAST(substr({c}, 21, 3) AS INTEGER))",
    "postgresql": "CAST(floor(EXTRACT(EPOCH FROM {c}) * 1000) AS BIGINT)",
}
PAYLOAD_TYPES = ("file.dropped", "data.dropped", "flow", "file.stored")  # the ones whose payload the fold reads


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


class SqlStats:
    """StatsStore (backend/db/base.py) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._insert: Any = sqlite.insert if self._sqlite else postgresql.insert
        self._accounts: dict[int, str] = {}  # account id -> public id (never changes)
        ms = _MS[engine.dialect.name]
        self._columns = (
            E.id,
            E.type,
            E.trace_key,
            E.node_key,
            E.level,
            E.user_id,
            E.account_id,
            literal_column(ms.format(c="events.created_at"), BigInteger).label("created_ms"),
            literal_column(ms.format(c="events.received_at"), BigInteger).label("received_ms"),
            case((E.type.in_(PAYLOAD_TYPES), E.payload), else_=None).label("payload"),
            E.duplicate_of,
        )

    # -- counting ------------------------------------------------------------------------------

    @translated
    def roll_up(self, limit: int, fold: Callable[[Sequence[CountedEvent]], RollupDelta]) -> RollupPass:
        with self.engine.begin() as conn:
            rows = conn.execute(select(*self._columns).where(E.counted == false()).order_by(E.id).limit(limit)).all()
            if not rows:
                return RollupPass(0, 0, 0)
            duplicates = self._dedup(conn, rows)
            owners, late, conflict = self._owners(conn, rows, duplicates)
            if conflict:
                log.warning("rollups: trace %s changed owner after its events were counted; counting again", conflict)
                self._reset(conn)
                return RollupPass(0, 0, 0, reset=True)
            events = self._counted(conn, rows, duplicates, owners)
            delta = fold(events)
            if late:  # user-less events counted before their trace.started: their user parts, added now
                earlier = self._earlier(conn, sorted(late))
                if earlier:
                    _merge(delta, _user_parts(fold(self._counted(conn, earlier, {}, owners))))
            self._write(conn, delta)
            ids = sorted(r.id for r in rows)
            for low, high in id_runs(ids):
                conn.execute(update(EVENTS).where(E.id.between(low, high)).values(counted=True))
        marked = sum(1 for r in rows if r.id in duplicates)
        if marked:
            log.info("dedup: %d event(s) repeated one that came over another channel; marked, counted once", marked)
        return RollupPass(len(rows), marked, len(late))

    def _earlier(self, conn: Connection, traces: list[str]) -> list[Any]:
        out: list[Any] = []
        for chunk in _chunks(traces):
            out += conn.execute(
                select(*self._columns).where(E.trace_key.in_(list(chunk)), E.counted == true(), E.user_id.is_(None))
            ).all()
        return out

    def _dedup(self, conn: Connection, rows: Sequence[Any]) -> dict[int, int]:
        """{id: the id it repeats} for this pass's events, new marks written, earlier marks kept. Of identical
        events the one counted already is kept, else the lowest id (uncounted ones beyond this pass have higher
        ids: a later pass finds this one counted)."""
        marked = {r.id: int(r.duplicate_of) for r in rows if r.duplicate_of is not None}
        fresh = [r.id for r in rows if r.duplicate_of is None]
        if not fresh:
            return marked
        n, o = EVENTS.alias("n"), EVENTS.alias("o")
        same = and_(
            o.c.created_at == n.c.created_at,
            o.c.type == n.c.type,
            o.c.payload == n.c.payload,
            o.c.id != n.c.id,
            o.c.duplicate_of.is_(None),
        )
        groups: dict[int, dict[int, bool]] = defaultdict(dict)
        mine = and_(n.c.counted == false(), n.c.duplicate_of.is_(None), n.c.id <= max(fresh))  # this pass's
        traced = [o.c.trace_key == n.c.trace_key]
        if any(r.trace_key is None for r in rows):
            traced.append(and_(o.c.trace_key.is_(None), n.c.trace_key.is_(None), o.c.node_key == n.c.node_key))
        for joined in traced:
            stmt = select(n.c.id, o.c.id.label("other"), o.c.counted).select_from(n.join(o, and_(joined, same)))
            for id_, other, counted in conn.execute(stmt.where(mine)):
                groups[int(id_)][int(other)] = bool(counted)
        new: dict[int, int] = {}
        for id_, others in groups.items():
            counted = [i for i, c in others.items() if c]
            keep = min(counted) if counted else min(id_, *others)
            if keep != id_:
                new[id_] = keep
        if new:
            conn.execute(
                update(EVENTS).where(E.id == bindparam("i")).values(duplicate_of=bindparam("d")),
                [{"i": i, "d": d} for i, d in new.items()],
            )
        return marked | new

    def _owners(
        self, conn: Connection, rows: Sequence[Any], duplicates: dict[int, int]
    ) -> tuple[dict[str, str], set[str], str | None]:
        """Each trace's owner once this pass is counted (its earliest trace.started, counted or in this pass);
        the traces whose owner this pass names first (their user-less counted events move to it); and a trace
        whose owner would change under counted events (a conflict), if any."""
        ids = {r.id for r in rows}
        traces = sorted({r.trace_key for r in rows if r.trace_key is not None})
        before: dict[str, tuple[datetime, int, str]] = {}
        after: dict[str, tuple[datetime, int, str]] = {}
        for chunk in _chunks(traces):
            stmt = select(E.trace_key, E.created_at, E.id, E.user_id, E.counted).where(
                E.type == "trace.started", E.trace_key.in_(list(chunk)), E.duplicate_of.is_(None)
            )
            for trace, created, id_, user, counted in conn.execute(stmt):
                if user is None or id_ in duplicates or not (counted or id_ in ids):
                    continue
                mark = (utc(created), int(id_), str(user))
                if counted and (trace not in before or mark < before[trace]):
                    before[trace] = mark
                if trace not in after or mark < after[trace]:
                    after[trace] = mark
        for trace, (_, _, user) in after.items():
            if trace in before and before[trace][2] != user:
                return {}, set(), trace
        late = {t for t in after if t not in before}
        return {t: m[2] for t, m in after.items()}, late, None

    def _counted(
        self, conn: Connection, rows: Sequence[Any], duplicates: dict[int, int], owners: dict[str, str]
    ) -> list[CountedEvent]:
        wanted = {r.account_id for r in rows if r.account_id is not None} - self._accounts.keys()
        for chunk in _chunks(sorted(wanted)):
            stmt = select(ACCOUNTS.c.id, ACCOUNTS.c.uuid).where(ACCOUNTS.c.id.in_(list(chunk)))
            self._accounts.update((int(i), str(u)) for i, u in conn.execute(stmt))
        accounts = self._accounts
        return [  # by position: a Row's attributes by name cost more than the rest of the pass
            CountedEvent(
                id_,
                type_,
                trace,
                node,
                level,
                user or owners.get(trace) if trace is not None else user,
                accounts.get(account) if account is not None else None,
                int(created),
                int(received),
                payload,
                dup is not None or id_ in duplicates,
            )
            for id_, type_, trace, node, level, user, account, created, received, payload, dup in rows
        ]

    def _write(self, conn: Connection, delta: RollupDelta) -> None:
        ins = self._insert
        biggest = func.max if self._sqlite else func.greatest
        least = func.min if self._sqlite else func.least
        if delta.counts:
            stmt = ins(COUNTS)
            c = COUNTS.c
            stmt = stmt.on_conflict_do_update(
                index_elements=[c.dim, c.bucket, c.key, c.measure],
                set_={
                    "value": case(
                        (c.measure == "lag_max", biggest(c.value, stmt.excluded.value)),
                        else_=c.value + stmt.excluded.value,
                    )
                },
            )
            conn.execute(
                stmt,
                [
                    {"dim": d, "bucket": b, "key": k, "measure": m, "value": v}
                    for (d, b, k, m), v in sorted(delta.counts.items())
                ],
            )
        if delta.members:
            conn.execute(
                ins(MEMBERS).on_conflict_do_nothing(),
                [
                    {"dim": d, "bucket": b, "key": k, "kind": kind, "member": m}
                    for d, b, k, kind, m in sorted(delta.members)
                ],
            )
        if delta.files:
            conn.execute(
                ins(FILES).on_conflict_do_nothing(),
                [{"dim": d, "bucket": b, "key": k, "file_key": f} for d, b, k, f in sorted(delta.files)],
            )
        if delta.settled:
            stmt = ins(SETTLED)
            stmt = stmt.on_conflict_do_update(
                index_elements=[SETTLED.c.file_key],
                set_={"settled_ms": least(SETTLED.c.settled_ms, stmt.excluded.settled_ms)},
            )
            conn.execute(stmt, [{"file_key": k, "settled_ms": v} for k, v in sorted(delta.settled.items())])

    @translated
    def reset(self) -> int:
        with self.engine.begin() as conn:
            return self._reset(conn)

    def _reset(self, conn: Connection) -> int:
        for table in (COUNTS, MEMBERS, FILES, SETTLED):
            conn.execute(delete(table))
        conn.execute(update(EVENTS).where(E.counted == true()).values(counted=False))
        return int(conn.execute(select(func.count()).select_from(EVENTS)).scalar_one())

    @translated
    def backlog(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(EVENTS).where(E.counted == false())).scalar_one())

    # -- reading -------------------------------------------------------------------------------

    @translated
    def read(self, dim: str, first: int, end: int, width: int, grace_ms: int) -> list[StatsCell]:
        """Three grouped reads over the buckets' primary keys; windows are (bucket - first) / width, an integer
        division of non-negative integers on both databases (the integers are ours, inlined)."""
        first, end, width, grace_ms = int(first), int(end), int(width), int(grace_ms)
        win = f"(bucket - {first}) / {width}"
        where = f"dim = :dim AND bucket >= {first} AND bucket < {end}"
        cells: dict[tuple[int, str], StatsCell] = {}

        def cell(window: int, key: str) -> StatsCell:
            found = cells.get((window, key))
            if found is None:
                found = cells[(window, key)] = StatsCell(window, key, {}, {}, 0)
            return found

        counts = text(
            f"SELECT {win} AS win, key, measure, SUM(value) AS total, MAX(value) AS top FROM rollup_counts "
            f"WHERE {where} GROUP BY {win}, key, measure"
        )
        members = text(
            f"SELECT {win} AS win, key, kind, COUNT(DISTINCT member) AS n FROM rollup_members "
            f"WHERE {where} GROUP BY {win}, key, kind"
        )
        window_end = f"(((f.bucket - {first}) / {width}) + 1) * {width * 900_000} + {first * 900_000}"
        unconverted = text(
            f"SELECT (f.bucket - {first}) / {width} AS win, f.key, COUNT(DISTINCT f.file_key) AS n "
            "FROM rollup_files f LEFT JOIN rollup_settled s ON s.file_key = f.file_key "
            f"WHERE f.dim = :dim AND f.bucket >= {first} AND f.bucket < {end} "
            f"AND (s.settled_ms IS NULL OR s.settled_ms >= {window_end} + {grace_ms}) "
            f"GROUP BY (f.bucket - {first}) / {width}, f.key"
        )
        with self.engine.connect() as conn:
            for window, key, measure, total, top in conn.execute(counts, {"dim": dim}):
                cell(int(window), key).measures[measure] = int(top if measure == "lag_max" else total)
            for window, key, kind, n in conn.execute(members, {"dim": dim}):
                cell(int(window), key).members[kind] = int(n)
            for window, key, n in conn.execute(unconverted, {"dim": dim}):
                found = cell(int(window), key)
                cells[(int(window), key)] = StatsCell(found.window, key, found.measures, found.members, int(n))
        return [cells[k] for k in sorted(cells)]


def _user_parts(delta: RollupDelta) -> RollupDelta:
    """What depends on the events' user: the `user` dimension, and who was active as a user."""
    return RollupDelta(
        {k: v for k, v in delta.counts.items() if k[0] == "user"},
        {m for m in delta.members if m[0] == "user" or m[3] == "user"},
        {f for f in delta.files if f[0] == "user"},
        {},
    )


def _merge(into: RollupDelta, more: RollupDelta) -> None:
    for k, v in more.counts.items():
        into.counts[k] = max(into.counts.get(k, v), v) if k[3] == "lag_max" else into.counts.get(k, 0) + v
    into.members |= more.members
    into.files |= more.files
    for f, ms in more.settled.items():
        into.settled[f] = min(into.settled.get(f, ms), ms)
