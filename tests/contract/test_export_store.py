"""The ExportStore contract (backend/db/base.py) on SQLite and PostgreSQL: one runner per export (claimed
atomically, taken over when its lease runs out), chunks recorded only by the holder, expiry, and keyset pages
of events (period of receive or event time, trace, nodes, sender) and of trace summaries."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from backend.db.accounts import SqlAccounts
from backend.db.base import ChunkRow, EventScope, ExportRow, TraceSummaryRow
from backend.db.event_log import SqlEventLog
from backend.db.exports import SqlExports
from backend.db.summaries import SqlTraceSummaries
from tests.conftest import log_rows

NOW = datetime.now(UTC)


def _export(uuid: str, account_id: int | None = 1, expires: timedelta = timedelta(hours=1)) -> ExportRow:
    return ExportRow(
        uuid=uuid,
        account_id=account_id,
        content="events",
        format="ndjson",
        compression="gzip",
        query={"trace": "A"},
        status="queued",
        created_at=NOW,
        expires_at=NOW + expires,
    )


def _chunk(seq: int, events: int = 10) -> ChunkRow:
    return ChunkRow(seq, f"chunk-{seq:06d}.ndjson.gz", events, 100 * events, "ab" * 32, {"seq": 1}, {"seq": 9}, "9")


def test_an_export_is_claimed_by_one_runner_and_its_chunks_counted(sql_engine: Engine) -> None:
    store = SqlExports(sql_engine)
    store.create(_export("00000000-0000-0000-0000-000000000001"))
    assert store.active(1) == 1 and store.active(2) == 0
    claimed = store.claim("runner-a", 60)
    assert claimed is not None and claimed.status == "running" and claimed.started_at is not None
    assert store.claim("runner-b", 60) is None  # held
    assert store.record_chunk(claimed.uuid, "runner-a", _chunk(1), 60)
    assert not store.record_chunk(claimed.uuid, "runner-b", _chunk(2), 60)  # not b's
    assert store.record_chunk(claimed.uuid, "runner-a", _chunk(2, events=5), 60)
    row = store.get(claimed.uuid)
    assert row is not None and (row.events, row.chunks, row.bytes) == (15, 2, 1500)
    assert [c.seq for c in store.chunks(claimed.uuid)] == [1, 2]
    assert store.chunks(claimed.uuid)[0] == _chunk(1)
    assert store.renew(claimed.uuid, "runner-a", 60) and not store.renew(claimed.uuid, "runner-b", 60)
    assert not store.finish(claimed.uuid, "runner-b", None)
    assert store.finish(claimed.uuid, "runner-a", None)
    assert not store.renew(claimed.uuid, "runner-a", 60)  # finished: nothing to hold
    done = store.get(claimed.uuid)
    assert done is not None and done.status == "done" and done.finished_at is not None
    assert store.active(1) == 0


def test_a_dead_runners_export_is_taken_over_after_its_lease(sql_engine: Engine) -> None:
    store = SqlExports(sql_engine)
    store.create(_export("00000000-0000-0000-0000-000000000002"))
    first = store.claim("killed", 0.3)
    assert first is not None and store.record_chunk(first.uuid, "killed", _chunk(1), 0.3)
    time.sleep(0.5)
    again = store.claim("next", 60)
    assert again is not None and again.uuid == first.uuid and again.chunks == 1  # resumes after chunk 1
    assert again.started_at == first.started_at
    assert not store.record_chunk(first.uuid, "killed", _chunk(2), 60)  # the dead runner, back, is refused


def test_of_concurrent_claimers_each_export_goes_to_one(sql_engine: Engine) -> None:
    store = SqlExports(sql_engine)
    for i in range(3):
        store.create(_export(f"00000000-0000-0000-0000-00000000001{i}"))
    got: list[str] = []
    start = threading.Barrier(6)

    def claim(holder: str) -> None:
        start.wait()
        row = store.claim(holder, 60)
        if row is not None:
            got.append(row.uuid)

    threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(set(got)) and len(got) == 3


def test_due_exports_expire_and_forget_their_chunks(sql_engine: Engine) -> None:
    store = SqlExports(sql_engine)
    store.create(_export("00000000-0000-0000-0000-000000000021", expires=timedelta(seconds=-1)))
    store.create(_export("00000000-0000-0000-0000-000000000022"))
    row = store.claim("r", 60)
    assert row is not None and store.record_chunk(row.uuid, "r", _chunk(1), 60)
    due = store.due(datetime.now(UTC), 10)
    assert [d.uuid for d in due] == ["00000000-0000-0000-0000-000000000021"]
    store.expire(due[0].uuid)
    expired = store.get(due[0].uuid)
    assert expired is not None and expired.status == "expired" and store.chunks(due[0].uuid) == []
    assert store.due(datetime.now(UTC), 10) == []
    assert not store.record_chunk(due[0].uuid, "r", _chunk(2), 60)  # an expired export takes no more chunks
    assert store.listed(1, 10)[0].uuid == "00000000-0000-0000-0000-000000000022"  # newest first


def test_event_pages_follow_the_scope_in_log_order(sql_engine: Engine) -> None:
    log, store = SqlEventLog(sql_engine), SqlExports(sql_engine)
    accounts = SqlAccounts(sql_engine)
    mine = accounts.insert("sender", "system", frozenset({"ingest", "export"}), "sender", "x")
    old = "2020-01-01T00:00:00Z"
    log.insert(
        log_rows(
            [
                {"type": "trace.started", "trace": "A", "user": "u"},
                {"type": "file.received", "trace": "A", "node": {"kind": "file", "key": "F1"}, "time": old},
                {"type": "log", "trace": "A", "node": {"kind": "file", "key": "F1"}, "message": "hi"},
                {
                    "type": "flow",
                    "trace": "A",
                    "inputs": [{"kind": "file", "key": "F1"}],
                    "outputs": [{"kind": "data", "key": "D1"}],
                },
            ],
            account_id=mine.id,
        )
    )
    log.insert(log_rows([{"type": "file.received", "trace": "B", "node": {"kind": "file", "key": "F2"}}]))
    every = store.event_page(EventScope(), 0, 100)
    assert [e.seq for e in every] == sorted(e.seq for e in every) and len(every) == 5
    assert every[0].account == mine.uuid and every[-1].account is None
    assert [e.type for e in store.event_page(EventScope(trace_key="A"), 0, 100)] == [
        "trace.started",
        "file.received",
        "log",
        "flow",
    ]
    f1 = store.event_page(EventScope(node_keys=("F1",)), 0, 100)
    assert [e.type for e in f1] == ["file.received", "log", "flow"]  # its events and its logs
    assert len(store.event_page(EventScope(node_keys=("F1", "F2")), 0, 100)) == 4
    assert store.event_page(EventScope(node_keys=()), 0, 100) == []
    # pages: after the last row, exactly the rest
    first = store.event_page(EventScope(), 0, 2)
    rest = store.event_page(EventScope(), first[-1].seq, 100)
    assert [e.seq for e in first + rest] == [e.seq for e in every]
    # by event time: the 2020 event alone; by receive time, it was received now
    by_event = EventScope(since=datetime(2019, 1, 1, tzinfo=UTC), until=datetime(2021, 1, 1, tzinfo=UTC), time="event")
    assert [e.node_key for e in store.event_page(by_event, 0, 100)] == ["F1"]
    by_receipt = EventScope(since=datetime(2019, 1, 1, tzinfo=UTC), until=datetime(2021, 1, 1, tzinfo=UTC))
    assert store.event_page(by_receipt, 0, 100) == []
    assert store.count_events(EventScope(since=NOW - timedelta(minutes=5))) == 5
    assert store.count_events(EventScope(account_uuid=mine.uuid)) == 4
    assert store.traces_of(["F1", "F2", "nope"]) == {"A", "B"}


def test_summary_pages_by_key_period_and_traces(sql_engine: Engine) -> None:
    summaries, store = SqlTraceSummaries(sql_engine), SqlExports(sql_engine)

    def row(key: str, first: datetime, last: datetime) -> TraceSummaryRow:
        return TraceSummaryRow(key, "u", True, "ended", 1, 0, 0, 1, 1, {}, first, last, False, 1, NOW)

    day = datetime(2026, 12, 1, tzinfo=UTC)
    summaries.save(
        [
            row("t1", day, day + timedelta(hours=1)),
            row("t2", day + timedelta(hours=2), day + timedelta(hours=3)),
            row("t3", day + timedelta(hours=5), day + timedelta(hours=6)),
        ]
    )
    assert [s.trace_key for s in store.summary_page(None, None, None, "", 10)] == ["t1", "t2", "t3"]
    assert [s.trace_key for s in store.summary_page(None, None, None, "t1", 1)] == ["t2"]
    span = store.summary_page(day + timedelta(minutes=30), day + timedelta(hours=2, minutes=30), None, "", 10)
    assert [s.trace_key for s in span] == ["t1", "t2"]  # traces whose events overlap the period
    assert [s.trace_key for s in store.summary_page(None, None, ["t3", "t9"], "", 10)] == ["t3"]
    assert store.summary_page(None, None, [], "", 10) == []
