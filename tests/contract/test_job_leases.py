"""The JobLeases contract (backend/db/base.py) on SQLite and PostgreSQL: one holder per job at a time,
renewed by its holder, free again when released or expired, decided atomically among concurrent callers."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine

from backend.db.leases import SqlJobLeases


def test_one_holder_at_a_time_until_released(sql_engine: Engine) -> None:
    leases = SqlJobLeases(sql_engine)
    assert leases.acquire("rollups", "a", 60)
    assert not leases.acquire("rollups", "b", 60)
    assert leases.acquire("summaries", "b", 60)  # leases are per job
    assert leases.acquire("rollups", "a", 60)  # renewed by its holder
    assert leases.holder("rollups") == "a"
    leases.release("rollups", "b")  # not b's to release
    assert leases.holder("rollups") == "a"
    leases.release("rollups", "a")
    assert leases.holder("rollups") is None
    assert leases.acquire("rollups", "b", 60)


def test_an_expired_lease_is_taken_over(sql_engine: Engine) -> None:
    """A batch process killed mid-run never releases: its lease ends on its own."""
    leases = SqlJobLeases(sql_engine)
    assert leases.acquire("fill", "killed", 0.3)
    assert not leases.acquire("fill", "next", 60)
    time.sleep(0.5)
    assert leases.holder("fill") is None
    assert leases.acquire("fill", "next", 60)
    assert not leases.acquire("fill", "killed", 60)


def test_of_concurrent_callers_exactly_one_gets_the_lease(sql_engine: Engine) -> None:
    leases = SqlJobLeases(sql_engine)
    won: list[str] = []
    start = threading.Barrier(8)

    def contend(holder: str) -> None:
        start.wait()
        if leases.acquire("insights", holder, 60):
            won.append(holder)

    threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and leases.holder("insights") == won[0]
