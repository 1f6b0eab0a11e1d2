"""Per-user accounting and allowances: counts, token buckets, parking transitions."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from backend.bootstrap import open_engine, open_graph, wire_ingest
from backend.db.accounts import SqlAccounts
from backend.db.engine import upgrade
from backend.db.event_log import SqlEventLog
from backend.domain.ingest import Ingest
from backend.flow.accounting import Accounting, Allowance
from backend.flow.control import FlowControl
from backend.settings import Settings


def test_events_within_the_burst_fit_and_the_rest_do_not() -> None:
    acc = Accounting(Allowance(events_per_second=10, bytes_per_second=1e9, burst_seconds=2))
    assert acc.admit(1, "u", [10] * 15, now=100.0) == 15
    assert acc.admit(1, "u", [10] * 15, now=100.0) == 5  # burst of 20 used up
    assert acc.admit(1, "u", [10] * 15, now=101.0) == 10  # one second refills 10


def test_byte_allowance_limits_too() -> None:
    acc = Accounting(Allowance(events_per_second=1e6, bytes_per_second=100, burst_seconds=1))
    assert acc.admit(1, "u", [40, 40, 40], now=0.0) == 2


def test_each_user_of_an_account_has_its_own_bucket() -> None:
    acc = Accounting(Allowance(events_per_second=5, bytes_per_second=1e9, burst_seconds=1))
    assert acc.admit(1, "heavy", [1] * 50, now=0.0) == 5
    assert acc.admit(1, "light", [1] * 3, now=0.0) == 3


def test_account_allowance_overrides_the_default() -> None:
    acc = Accounting(Allowance(events_per_second=5, bytes_per_second=1e9, burst_seconds=1))
    acc.set_allowance(7, Allowance(events_per_second=100, bytes_per_second=1e9, burst_seconds=1))
    assert acc.admit(7, "u", [1] * 50, now=0.0) == 50
    assert acc.admit(8, "u", [1] * 50, now=0.0) == 5


def test_counters_and_rate_are_kept_per_user() -> None:
    acc = Accounting(Allowance(events_per_second=1e6, bytes_per_second=1e9))
    for second in range(6):
        acc.admit(1, "u", [100] * 50, now=1000.0 + second)
    [flow] = acc.users.values()
    assert (flow.events, flow.bytes, flow.first_seen, flow.last_seen) == (300, 30000, 1000.0, 1005.0)
    assert 40 <= flow.rate <= 60


def test_parking_transitions_are_reported_once() -> None:
    acc = Accounting(Allowance(events_per_second=1, bytes_per_second=1e9))
    acc.admit(1, "u", [1], now=0.0)
    assert acc.note_parked(1, "u", 5) is True
    assert acc.note_parked(1, "u", 3) is None
    assert acc.note_parked(1, "u", 0) is False
    assert acc.note_parked(1, "u", 0) is None
    [flow] = acc.users.values()
    assert flow.parked == 8


# -- admission with the stores (SQLite + embedded graph, no Redis: the spool is the park) -----------


class Stack:
    """The production ingest pipeline and flow control (bootstrap.wire_ingest) on real stores; the SQL
    database may be unreachable (never migrated then)."""

    def __init__(self, tmp_path: Path, **overrides: object) -> None:
        values: dict[str, object] = {
            "data_dir": tmp_path,
            "flow_drain_events_per_second": 1000,
            "flow_tick_seconds": 1.0,
            **overrides,
        }
        self.settings = Settings(**values)  # type: ignore[arg-type]
        self.settings.ensure_data_dir()
        self.engine = open_engine(self.settings)
        if self.settings.is_sqlite:
            upgrade(self.engine)
        self.graph = open_graph(self.settings)
        self.closers: list[tuple[str, Any]] = []
        ingest, flow = wire_ingest(
            self.settings, SqlEventLog(self.engine), self.graph, SqlAccounts(self.engine), self.closers, flow=True
        )
        assert flow is not None
        self.ingest: Ingest = ingest
        self.flow: FlowControl = flow

    def admit(self, raw: list[Any], channel: str, account_id: int | None) -> Any:
        return self.ingest.admit(raw, channel, account_id)

    def close(self) -> None:
        for _, close in self.closers:
            close()
        self.graph.close()
        self.engine.dispose()


def _stack(tmp_path: Path, **overrides: object) -> tuple[Settings, Stack]:
    stack = Stack(tmp_path, **overrides)
    return stack.settings, stack


def test_event_log_unreachable_parks_on_disk_and_drains_once_it_is_back(tmp_path: Path) -> None:
    _, down = _stack(tmp_path, database_url="postgresql://nobody:x@127.0.0.1:1/none")
    events = [{"type": "trace.started", "trace": f"t-{i}", "user": "u"} for i in range(30)] + [{"type": "nope"}]
    result = down.admit(events, "rest:x", None)
    assert (result.accepted, result.buffered, [r.index for r in result.rejected]) == (0, 30, [30])
    assert down.flow.snapshot()["buffered"]["spool"] == 30 and down.flow.pressing() == ["sql"]
    down.close()
    _, up = _stack(tmp_path)
    assert up.flow.snapshot()["buffered"]["spool"] == 30  # counted again from the segments after a restart
    assert up.flow.drain_once() == 30
    again = up.admit(events[:30], "rest:x", None)
    assert (again.accepted, again.duplicates) == (0, 30)  # the drained events kept their dedup keys
    assert up.flow.snapshot()["buffered"]["spool"] == 0
    up.close()


def test_drain_is_bounded_per_tick(tmp_path: Path) -> None:
    _, flow = _stack(
        tmp_path,
        flow_events_per_second=5,
        flow_burst_seconds=1,
        flow_drain_events_per_second=10,
        flow_drain_user_quantum=5,
    )
    result = flow.admit([{"type": "trace.started", "trace": f"b-{i}", "user": "u"} for i in range(50)], "rest:x", None)
    assert (result.accepted, result.buffered) == (5, 45)
    assert flow.flow.drain_once() == 10  # one tick of FT_FLOW_TICK_SECONDS=1 at 10 events/s
    assert flow.flow.drain_once() == 10
    flow.close()


def test_a_spool_with_a_corrupted_last_record_drains_every_intact_record_and_reports_the_bad_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, down = _stack(tmp_path, database_url="postgresql://nobody:x@127.0.0.1:1/none", flow_drain_user_quantum=10)
    result = down.admit([{"type": "trace.started", "trace": f"c-{i}", "user": "u"} for i in range(30)], "rest:x", None)
    assert result.buffered == 30
    down.close()
    [segment] = sorted((tmp_path / "spool").glob("seg-*.log"))
    data = bytearray(segment.read_bytes())
    data[-5] ^= 0xFF  # the third record (events c-20..c-29) no longer matches its checksum
    segment.write_bytes(bytes(data))
    _, up = _stack(tmp_path)
    with caplog.at_level(logging.ERROR, logger="ftel.park"):
        assert up.flow.drain_once() == 20
    assert "damaged record" in caplog.text and "checksum mismatch" in caplog.text
    assert up.flow.snapshot()["spool"]["bad_segments"] == [segment.with_suffix(".bad").name]
    with up.engine.connect() as conn:
        stored = conn.execute(text("SELECT payload FROM events")).scalars().all()
    assert sorted(int(json.loads(p)["trace"].split("-")[1]) for p in stored) == list(range(20))
    up.close()


def test_spool_depth_stays_exact_while_parking_and_draining_race(tmp_path: Path) -> None:
    """Parking threads append to the spool while the drainer seals and drains it: every event is stored
    once and the reported spool depth returns to exactly 0 (a count taken after the append went stale)."""
    import threading
    from datetime import UTC, datetime

    from backend.park.base import ParkedBatch

    _, flow = _stack(tmp_path, flow_drain_events_per_second=100_000, flow_tick_seconds=1.0)
    parkers, batches, per_batch = 4, 20, 3
    done = threading.Event()
    spool = flow.flow.parking.spool.spool
    append = spool.append

    def slow_append(payload: bytes) -> None:  # a parker descheduled right after its write (a loaded machine)
        append(payload)
        time.sleep(0.05)

    spool.append = slow_append  # type: ignore[method-assign]

    def park(n: int) -> None:
        for b in range(batches):
            events = [{"type": "trace.started", "trace": f"race-{n}-{b}-{i}", "user": "u"} for i in range(per_batch)]
            flow.flow.parking.park(ParkedBatch("rest:x", None, "u", datetime.now(UTC), events), "test")
            time.sleep(0.02)  # the drainer keeps up, so it reaches the newest record again and again

    def drain() -> None:
        while not done.is_set():
            flow.flow.drain_once()

    drainer = threading.Thread(target=drain)
    drainer.start()
    threads = [threading.Thread(target=park, args=(n,)) for n in range(parkers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    drainer.join()
    while flow.flow.drain_once():
        pass
    with flow.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
    assert stored == parkers * batches * per_batch
    assert flow.flow.snapshot()["buffered"]["spool"] == 0
    assert not list((tmp_path / "spool").glob("seg-*.log"))
    flow.close()


def test_process_memory_over_its_threshold_parks_everyone_until_it_falls(tmp_path: Path) -> None:
    settings, flow = _stack(tmp_path, flow_max_memory_mb=1)  # any process is above 1 MiB
    flow.flow.check()
    assert flow.flow.pressing() == ["memory"]
    result = flow.admit([{"type": "trace.started", "trace": "mem-1", "user": "quiet"}], "rest:x", None)
    assert (result.accepted, result.buffered) == (0, 1)  # even a user well within the allowance
    assert flow.flow.drain_once() == 0  # nothing drains under pressure
    settings.flow_max_memory_mb = 100_000
    flow.flow.check()
    assert flow.flow.pressing() == []
    assert flow.flow.drain_once() == 1
    assert flow.flow.snapshot()["buffered"]["spool"] == 0
    flow.close()
