"""The StatsStore contract (backend/db/base.py) on SQLite and PostgreSQL, with the rollups' own fold and reads
(backend/batch): exact counts on window edges in all six windows, a late event that moves exactly its
buckets, passes that change nothing the second time, a rebuild that gives the same rows, the cross-channel
dedup pass, late owners, unconverted files and lag percentiles."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select, text, update

from backend.batch.rollups import Rollups, fold
from backend.batch.stats import WINDOWS, Stats
from backend.db.event_log import SqlEventLog
from backend.db.models import TABLES
from backend.db.stats import SqlStats
from backend.errors import SqlUnavailable
from backend.settings import Settings
from tests.conftest import log_rows

DAY = datetime(2026, 12, 1, tzinfo=UTC)
EDGE_BEFORE = "2026-12-01T14:59:59.999Z"
EDGE_AFTER = "2026-12-01T15:00:00.000Z"
EV = TABLES["events"]
ROLLUP_TABLES = ("rollup_counts", "rollup_members", "rollup_files", "rollup_settled")


def at(hh_mm_ss: str) -> str:
    return f"2026-12-01T{hh_mm_ss}Z"


def send(engine: Engine, raw: list[dict[str, Any]], channel: str = "rest:a", account_id: int | None = None) -> None:
    SqlEventLog(engine).insert(log_rows(raw, channel, account_id))


def file(key: str) -> dict[str, str]:
    return {"kind": "file", "key": key}


def edge_events() -> list[dict[str, Any]]:
    return [
        {"type": "trace.started", "trace": "T", "user": "team-7", "time": at("14:50:00")},
        {"type": "file.received", "trace": "T", "node": file("F1"), "time": EDGE_BEFORE},
        {"type": "file.received", "trace": "T", "node": file("F2"), "time": EDGE_AFTER},
        {"type": "log", "trace": "T", "node": file("F2"), "level": "warn", "message": "slow", "time": EDGE_AFTER},
    ]


def roll_up(engine: Engine, batch: int = 20_000) -> None:
    rollups = Rollups(SqlStats(engine), batch)
    while rollups.run():
        pass


def stats(engine: Engine, grace_seconds: float = 0) -> Stats:
    return Stats(SqlStats(engine), grace_seconds, now=lambda: DAY + timedelta(hours=20))


def windows(engine: Engine, window: str, by: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    answer = stats(engine, **kw).windows(window, DAY, DAY + timedelta(days=1), by)
    return answer["buckets"]  # type: ignore[no-any-return]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {t: sorted(tuple(r) for r in conn.execute(select(TABLES[t]))) for t in ROLLUP_TABLES}


def test_events_on_window_edges_count_exactly_in_all_six_windows(sql_engine: Engine) -> None:
    send(sql_engine, edge_events())
    roll_up(sql_engine)
    expected = {  # window → [(start, events, files received, logs warn)]
        "15m": [("14:45", 2, 1, 0), ("15:00", 2, 1, 1)],
        "30m": [("14:30", 2, 1, 0), ("15:00", 2, 1, 1)],
        "1h": [("14:00", 2, 1, 0), ("15:00", 2, 1, 1)],
        "3h": [("12:00", 2, 1, 0), ("15:00", 2, 1, 1)],
        "6h": [("12:00", 4, 2, 1)],
        "12h": [("12:00", 4, 2, 1)],
    }
    assert set(expected) == set(WINDOWS)
    for window, want in expected.items():
        got = [
            (b["start"][11:16], sum(b["events"].values()), b["files"]["received"], b["logs"]["warn"])
            for b in windows(sql_engine, window)
        ]
        assert got == want, window
    (whole,) = windows(sql_engine, "12h")
    assert whole["start"] == "2026-12-01T12:00:00.000000Z" and whole["end"] == "2026-12-02T00:00:00.000000Z"
    assert whole["active"] == {"traces": 1, "users": 1}
    assert whole["events"] == {"file.received": 2, "log": 1, "trace.started": 1}
    by_user = windows(sql_engine, "15m", by="user")  # F1, F2 and the log carry no user: their trace's owner
    assert [(b["start"][11:16], b["key"], sum(b["events"].values())) for b in by_user] == [
        ("14:45", "team-7", 2),
        ("15:00", "team-7", 2),
    ]


def test_a_late_event_moves_exactly_its_windows_and_a_second_run_changes_nothing(sql_engine: Engine) -> None:
    send(sql_engine, edge_events())
    roll_up(sql_engine)
    before = {w: windows(sql_engine, w) for w in WINDOWS}
    rows_before = snapshot(sql_engine)
    send(sql_engine, [{"type": "log", "trace": "T", "message": "late", "level": "error", "time": EDGE_BEFORE}])
    roll_up(sql_engine)
    for w in WINDOWS:
        after = windows(sql_engine, w)
        changed = [a["start"][11:16] for a, b in zip(after, before[w], strict=True) if a != b]
        assert changed == (["12:00"] if w in ("6h", "12h") else [before[w][0]["start"][11:16]]), w
        assert after[0]["logs"]["error"] == 1
    rows_after = snapshot(sql_engine)
    changed_buckets = {r[1] for t in ROLLUP_TABLES[:3] for r in set(rows_after[t]) ^ set(rows_before[t])}
    assert changed_buckets == {int(datetime(2026, 12, 1, 14, 45, tzinfo=UTC).timestamp()) // 900}
    assert SqlStats(sql_engine).roll_up(100, fold).counted == 0
    assert snapshot(sql_engine) == rows_after


def test_a_rebuild_from_the_log_gives_the_same_rows_as_the_passes(sql_engine: Engine) -> None:
    send(sql_engine, edge_events(), account_id=None)
    send(
        sql_engine,
        [
            {
                "type": "file.stored",
                "trace": "T",
                "node": file("F1"),
                "time": at("15:01:00"),
                "attrs": {"size": 1000, "stored_size": 300},
            },
            {
                "type": "flow",
                "trace": "T",
                "inputs": [file("F1")],
                "outputs": [{"kind": "data", "key": "d1"}],
                "time": at("15:02:00"),
            },
            {
                "type": "flow",
                "trace": "T",
                "inputs": [{"kind": "data", "key": "d1"}],
                "outputs": [file("F9"), {"kind": "sink", "key": "s"}],
                "time": at("15:03:00"),
            },
            {"type": "file.dropped", "trace": "T", "node": file("F2"), "reason": "empty file", "time": at("15:04:00")},
            {
                "type": "data.dropped",
                "trace": "U",
                "node": {"kind": "data", "key": "d7"},
                "code": "E42",
                "time": at("16:00:00"),
            },
            {"type": "trace.started", "trace": "U", "user": "team-9", "time": at("16:30:00")},
        ],
    )
    roll_up(sql_engine, batch=3)  # passes of three events
    incremental = snapshot(sql_engine)
    assert Rollups(SqlStats(sql_engine)).rebuild() == 10
    assert snapshot(sql_engine) == incremental
    (whole,) = windows(sql_engine, "12h")
    assert whole["bytes"] == {"uploaded": 1000, "stored": 300}
    assert (whole["data_produced"], whole["outputs"]) == (1, 2)
    assert whole["drops"] == {"E42": 1, "empty file": 1}
    assert whole["files"]["dropped"] == 1
    by_reason = {b["key"]: b["events"] for b in windows(sql_engine, "12h", by="reason")}
    assert by_reason == {"E42": {"data.dropped": 1}, "empty file": {"file.dropped": 1}}


def test_the_same_events_over_two_channels_count_once_and_are_marked(sql_engine: Engine) -> None:
    send(sql_engine, edge_events(), channel="rest:a")
    roll_up(sql_engine)
    send(sql_engine, edge_events(), channel="ft:s:sub-1")  # the same events again, over a stream
    send(sql_engine, edge_events()[:2], channel="ft:s:sub-2")  # and partly through a second subscription
    roll_up(sql_engine)
    (whole,) = windows(sql_engine, "12h")
    assert whole["events"] == {"file.received": 2, "log": 1, "trace.started": 1}
    assert whole["duplicates"] == 6
    with sql_engine.connect() as conn:
        marks = conn.execute(text("SELECT channel, duplicate_of IS NOT NULL FROM events ORDER BY id")).all()
    assert [m for _, m in marks] == [False] * 4 + [True] * 6
    assert Rollups(SqlStats(sql_engine)).rebuild() == 10
    assert windows(sql_engine, "12h") == [whole]


def test_duplicates_in_one_pass_keep_the_lowest_id(sql_engine: Engine) -> None:
    send(sql_engine, edge_events(), channel="ft:s:sub-1")
    send(sql_engine, edge_events(), channel="rest:a")
    SqlStats(sql_engine).roll_up(100, fold)
    with sql_engine.connect() as conn:
        rows = conn.execute(text("SELECT id, duplicate_of FROM events ORDER BY id")).all()
    assert [d for _, d in rows] == [None] * 4 + [i for i, _ in rows[:4]]


def test_a_late_trace_started_moves_its_traces_events_to_its_user(sql_engine: Engine) -> None:
    events = edge_events()
    send(sql_engine, events[1:])
    roll_up(sql_engine)
    assert windows(sql_engine, "1h", by="user") == []
    send(sql_engine, events[:1])
    roll_up(sql_engine)
    incremental = snapshot(sql_engine)
    by_user = windows(sql_engine, "1h", by="user")
    assert [(b["key"], sum(b["events"].values()), b["active"]["users"]) for b in by_user] == [
        ("team-7", 2, 1),
        ("team-7", 2, 1),
    ]
    assert [b["active"]["users"] for b in windows(sql_engine, "1h")] == [1, 1]
    Rollups(SqlStats(sql_engine)).rebuild()
    assert snapshot(sql_engine) == incremental


def test_an_owner_that_changes_under_counted_events_counts_everything_again(sql_engine: Engine) -> None:
    send(sql_engine, edge_events())
    roll_up(sql_engine)
    send(sql_engine, [{"type": "trace.started", "trace": "T", "user": "team-1", "time": at("14:00:00")}])
    roll_up(sql_engine)  # the earliest trace.started names the owner: team-1 now
    incremental = snapshot(sql_engine)
    assert {b["key"] for b in windows(sql_engine, "1h", by="user")} == {"team-1", "team-7"}  # trace.started's own
    Rollups(SqlStats(sql_engine)).rebuild()
    assert snapshot(sql_engine) == incremental


def test_unconverted_files_are_those_not_flowed_on_by_the_window_end_plus_grace(sql_engine: Engine) -> None:
    send(
        sql_engine,
        [
            {"type": "file.received", "trace": "T", "node": file("A"), "time": at("14:00:00")},
            {"type": "file.received", "trace": "T", "node": file("B"), "time": at("14:01:00")},
            {"type": "file.received", "trace": "T", "node": file("C"), "time": at("14:02:00")},
            {
                "type": "flow",
                "trace": "T",
                "inputs": [file("A")],
                "outputs": [{"kind": "data", "key": "a"}],
                "time": at("14:20:00"),
            },
            {"type": "file.dropped", "trace": "T", "node": file("B"), "reason": "bad", "time": at("14:05:00")},
        ],
    )
    roll_up(sql_engine)
    assert [b["files"]["unconverted"] for b in windows(sql_engine, "15m")] == [2, 0]  # A (flowed at 14:20), C
    assert [b["files"]["unconverted"] for b in windows(sql_engine, "30m")] == [1]  # C
    assert [b["files"]["unconverted"] for b in windows(sql_engine, "15m", grace_seconds=600)] == [1, 0]
    assert stats(sql_engine).summary(DAY, DAY + timedelta(days=1))["files"]["unconverted"] == 1


def test_lag_percentiles_and_max_from_the_merged_histograms(sql_engine: Engine) -> None:
    raw = [
        {"type": "log", "trace": "T", "message": str(i), "time": at("14:00:00" if i < 50 else "15:10:00")}
        for i in range(100)
    ]
    send(sql_engine, raw)
    with sql_engine.begin() as conn:  # a fixed receive clock: 100 ms late for 95 of them, 60 s for five
        for row in conn.execute(select(EV.c.id, EV.c.created_at, EV.c.payload)).all():
            late = int(orjson.loads(row.payload)["message"]) >= 95
            lag = timedelta(seconds=60) if late else timedelta(milliseconds=100)
            conn.execute(update(EV).where(EV.c.id == row.id).values(received_at=row.created_at + lag))
    roll_up(sql_engine)
    summary = stats(sql_engine).summary(DAY, DAY + timedelta(days=1))
    lag = summary["lag_ms"]
    assert lag["max"] == 60_000
    assert lag["p50"] == pytest.approx(100, rel=0.045) and lag["p95"] == pytest.approx(100, rel=0.045)
    first, second = windows(sql_engine, "1h")
    assert first["lag_ms"]["max"] == 100 and second["lag_ms"]["max"] == 60_000
    assert second["lag_ms"]["p95"] == pytest.approx(60_000, rel=0.045)


@pytest.fixture
def pg_engine(pg_url: str, tmp_path: Path) -> Iterator[Engine]:
    """PostgreSQL alone: the case below cannot happen on SQLite, whose one writer commits ids in order."""
    from backend.bootstrap import open_engine
    from backend.db.engine import upgrade

    engine = open_engine(Settings(data_dir=tmp_path, database_url=pg_url))
    upgrade(engine)
    yield engine
    engine.dispose()


def test_an_event_committed_late_with_a_lower_id_is_counted_once(pg_engine: Engine) -> None:
    """PostgreSQL hands out ids at insert, commits in any order: a cursor on ids would skip the late one."""
    sql_engine = pg_engine
    started = threading.Event()
    release = threading.Event()

    def slow_insert() -> None:
        with sql_engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO events (uuid, dedup_key, channel, type, trace_key, created_at, received_at, payload, projected)"
                " VALUES ('u-slow', 'k-slow', 'rest:a', 'trace.ended', 'T', %s, %s, '{}', false)",
                (DAY + timedelta(hours=15), DAY + timedelta(hours=15)),
            )
            started.set()
            release.wait(30)

    writer = threading.Thread(target=slow_insert)
    writer.start()
    assert started.wait(30)
    send(sql_engine, edge_events())  # higher ids, committed first
    roll_up(sql_engine)
    release.set()
    writer.join()
    roll_up(sql_engine)
    (whole,) = windows(sql_engine, "12h")
    assert whole["events"] == {"file.received": 2, "log": 1, "trace.ended": 1, "trace.started": 1}
    assert SqlStats(sql_engine).backlog() == 0


def test_an_unreachable_database_raises_sql_unavailable(unreachable_engine: Engine) -> None:
    with pytest.raises(SqlUnavailable):
        SqlStats(unreachable_engine).roll_up(10, fold)
    with pytest.raises(SqlUnavailable):
        SqlStats(unreachable_engine).read("all", 0, 10, 1, 0)
