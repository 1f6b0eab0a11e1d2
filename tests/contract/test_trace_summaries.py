"""The TraceSummaries contract (backend/db/base.py) on SQLite and PostgreSQL: stored summaries that are current
only through the trace's newest event and never go back to an older row, the summaries job's cursor over what
the graph fully holds, what time changes (idle-ended, user_missing), and the record of user fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from backend.db.base import TraceSummaryRow, UserFillRow
from backend.db.event_log import SqlEventLog
from backend.db.summaries import SqlTraceSummaries
from backend.demo import seed_events
from tests.contract.test_event_log import store

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def summaries(sql_engine: Engine) -> SqlTraceSummaries:
    return SqlTraceSummaries(sql_engine)


def row(trace: str, through: int, **changes: object) -> TraceSummaryRow:
    values: dict[str, object] = {
        "trace_key": trace,
        "user_id": "team-7",
        "started": True,
        "status": "open",
        "files": 3,
        "dropped": 2,
        "unconverted": 0,
        "data": 6,
        "outputs": 1,
        "drop_reasons": {"E_HEADER": 1, "E_CHECKSUM": 1},
        "first_at": T0,
        "last_at": T0 + timedelta(seconds=22),
        "user_missing": False,
        "through_id": through,
        "computed_at": T0 + timedelta(hours=1),
    }
    values.update(changes)
    return TraceSummaryRow(**values)  # type: ignore[arg-type]


def log_event(log: SqlEventLog, trace: str, second: int, **fields: object) -> int:
    event = {"type": "log", "trace": trace, "message": f"m{second}", "time": f"2026-01-01T10:00:{second:02d}Z"}
    (event_id,) = store(log, [{**event, **fields}]).values()
    return event_id


def test_a_stored_summary_is_current_until_its_trace_has_a_newer_event(
    sql_engine: Engine, summaries: SqlTraceSummaries
) -> None:
    log = SqlEventLog(sql_engine)
    newest = max(store(log, seed_events("A")).values())
    log_event(log, "B", 1)
    summaries.save([row("A", newest)])
    assert summaries.get("A") == row("A", newest)
    assert summaries.current(["A", "B", "C"]) == {"A": row("A", newest)}
    log_event(log, "B", 2)  # another trace's event changes nothing
    assert set(summaries.current(["A"])) == {"A"}
    log_event(log, "A", 3)
    assert summaries.current(["A"]) == {}
    assert summaries.get("A") == row("A", newest)  # still stored: the job recomputes it


def test_a_row_never_goes_back_to_one_computed_through_an_older_event(summaries: SqlTraceSummaries) -> None:
    summaries.save([row("A", 20, files=4)])
    summaries.save([row("A", 10, files=1)])  # a slow pass finishing late
    summaries.save([row("A", 20, files=4)])
    got = summaries.get("A")
    assert got is not None and (got.files, got.through_id) == (4, 20)
    summaries.save([row("A", 30, files=5, drop_reasons={})])
    assert summaries.get("A") == row("A", 30, files=5, drop_reasons={})
    assert summaries.get("missing") is None


def test_newest_events_say_how_many_wait_for_the_graph(sql_engine: Engine, summaries: SqlTraceSummaries) -> None:
    log = SqlEventLog(sql_engine)
    ids = sorted(store(log, seed_events("A")).values())
    assert summaries.newest_events(["A", "B"]) == {"A": (ids[-1], len(ids))}
    log.mark_projected(ids[:-2])
    assert summaries.newest_events(["A"]) == {"A": (ids[-1], 2)}


def test_the_cursor_reads_only_what_the_graph_holds_and_never_passes_an_unsettled_event(
    sql_engine: Engine, summaries: SqlTraceSummaries
) -> None:
    log = SqlEventLog(sql_engine)
    ids = sorted(store(log, seed_events("A")).values())
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert summaries.events_after(0, 100, later) == []  # nothing merged into the graph yet
    log.mark_projected(ids[:5])
    assert [e.id for e in summaries.events_after(0, 100, later)] == ids[:5]
    log.mark_projected(ids)
    assert [e.id for e in summaries.events_after(ids[2], 4, later)] == ids[3:7]
    got = summaries.events_after(0, 100, later)
    assert [e.id for e in got] == ids and {e.trace_key for e in got} == {"A"}
    assert summaries.events_after(0, 100, datetime.now(UTC) - timedelta(minutes=1)) == []  # received too recently
    assert summaries.cursor() == 0
    summaries.advance(ids[5])
    summaries.advance(ids[2])  # never back
    assert summaries.cursor() == ids[5]


def test_node_traces_are_every_trace_whose_events_name_the_node(
    sql_engine: Engine, summaries: SqlTraceSummaries
) -> None:
    log = SqlEventLog(sql_engine)
    store(log, seed_events("A"))
    store(log, [{"type": "flow", "trace": "B", "inputs": [{"kind": "file", "key": "File4"}],
                 "outputs": [{"kind": "sink", "key": "warehouse"}], "time": "2026-01-01T10:00:00Z"}])  # fmt: skip
    assert summaries.node_traces(["File4"]) == {"A", "B"}
    assert summaries.node_traces(["File1", "warehouse"]) == {"A", "B"}
    assert summaries.node_traces(["nowhere"]) == set()


def test_open_rows_become_idle_ended_and_unstarted_ones_user_missing(summaries: SqlTraceSummaries) -> None:
    summaries.save(
        [
            row("open-old", 1),
            row("open-new", 2, last_at=T0 + timedelta(hours=2)),
            row("ended", 3, status="ended"),
            row("unstarted", 4, started=False, user_id=None),
        ]
    )
    assert summaries.age(T0 + timedelta(hours=1)) == 2  # open-old and unstarted
    status = {k: (summaries.get(k) or row(k, 0)).status for k in ("open-old", "open-new", "ended", "unstarted")}
    assert status == {"open-old": "idle-ended", "open-new": "open", "ended": "ended", "unstarted": "idle-ended"}
    assert summaries.flag_user_missing(T0) == 0  # its first event is not older than that
    assert summaries.flag_user_missing(T0 + timedelta(seconds=1)) == 1
    assert summaries.flag_user_missing(T0 + timedelta(seconds=1)) == 0
    assert [k for k in ("open-old", "unstarted") if (summaries.get(k) or row(k, 0)).user_missing] == ["unstarted"]


def test_saved_rows_wait_for_the_fill_until_filled_through_the_same_event(summaries: SqlTraceSummaries) -> None:
    summaries.save([row("A", 5), row("B", 7)])
    assert summaries.fill_pending(10) == [("A", 5), ("B", 7)]
    assert summaries.fill_pending(1) == [("A", 5)]
    summaries.save([row("B", 9)])  # recomputed while the fill ran: stays pending
    summaries.filled([("A", 5), ("B", 7)])
    assert summaries.fill_pending(10) == [("B", 9)]
    summaries.filled([("B", 9)])
    assert summaries.fill_pending(10) == []
    summaries.save([row("A", 6)])
    assert summaries.fill_pending(10) == [("A", 6)]


def test_a_graph_rebuild_puts_every_row_back_to_the_fill(summaries: SqlTraceSummaries) -> None:
    summaries.save([row("A", 5), row("B", 7)])
    summaries.filled([("A", 5), ("B", 7)])
    assert summaries.fill_pending(10) == []
    assert summaries.refill_all() == 2
    assert summaries.fill_pending(10) == [("A", 5), ("B", 7)]


def test_fills_are_recorded_and_the_latest_of_each_node_read_back(summaries: SqlTraceSummaries) -> None:
    first = [
        UserFillRow("File1", "file", "A", "early", None, T0),
        UserFillRow("data1", "data", "A", "early", None, T0),
        UserFillRow("x", "file", "B", "u", None, T0),
    ]
    summaries.record_fills(first)
    corrected = UserFillRow("File1", "file", "A", "team-7", "early", T0 + timedelta(hours=1))
    summaries.record_fills([corrected])
    got = sorted(summaries.fills(["A"]), key=lambda f: f.node_key)
    assert got == [corrected, first[1]]
    assert summaries.fills(["C"]) == []
