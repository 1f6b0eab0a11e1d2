"""The ParkMedium contract (backend/park/base.py), one suite over Redis (a flushed database of the real
test Redis) and the disk spool: durable parking, FIFO per queue, leases, exact depths, at-least-once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backend.bootstrap import sync_redis
from backend.errors import RedisUnavailable
from backend.park.base import ParkedBatch, ParkMedium
from backend.park.redis import RedisPark
from backend.park.spool import Spool, SpoolPark

Opener = Callable[[], ParkMedium]


@pytest.fixture(params=["redis", "spool"])
def open_medium(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the medium afresh on the same data (a restarted process sees what the last one parked)."""
    opened: list[ParkMedium] = []

    def open_one() -> ParkMedium:
        if request.param == "redis":
            medium: ParkMedium = RedisPark(sync_redis(request.getfixturevalue("stream_redis_url")))
        else:
            medium = SpoolPark(Spool(tmp_path / "spool", segment_bytes=4096))
        opened.append(medium)
        return medium

    yield open_one
    for medium in opened:
        medium.close()


def batch(user: str, first: int, n: int = 3, account: int | None = 7) -> ParkedBatch:
    return ParkedBatch(
        "rest:x",
        account,
        user,
        datetime(2026, 3, 1, tzinfo=UTC),
        [{"type": "trace.started", "trace": f"{user}-{i}", "user": user} for i in range(first, first + n)],
    )


def drain_all(medium: ParkMedium, holder: str = "d1") -> list[str]:
    """Every parked trace key, queue by queue, in the order the medium hands them out."""
    traces: list[str] = []
    for queue in medium.queues():
        while (lease := medium.take(queue, 1000, holder)) is not None:
            traces += [e["trace"] for b in lease.batches for e in b.events]
            medium.finish(lease, len(lease.batches))
    return traces


def test_parked_batches_survive_a_restart_and_come_back_in_order(open_medium: Opener) -> None:
    medium = open_medium()
    for i in range(4):
        medium.park(batch("u", 3 * i))
    medium.close()
    again = open_medium()
    assert sum(again.depths().values()) == 12
    assert drain_all(again) == [f"u-{i}" for i in range(12)]
    assert again.depths() == {} and again.queues() == []


def test_a_batch_keeps_its_channel_account_user_and_receive_time(open_medium: Opener) -> None:
    medium = open_medium()
    parked = batch("u", 0, account=None)
    medium.park(parked)
    [queue] = medium.queues()
    lease = medium.take(queue, 100, "d1")
    assert lease is not None and lease.batches == [parked]


def test_a_lease_holds_about_max_events_and_at_least_one_batch(open_medium: Opener) -> None:
    medium = open_medium()
    for i in range(5):
        medium.park(batch("u", 3 * i))
    [queue] = medium.queues()
    lease = medium.take(queue, 7, "d1")
    assert lease is not None and lease.events == 6
    medium.finish(lease, 2)
    lease = medium.take(queue, 1, "d1")
    assert lease is not None and lease.events == 3  # one batch even when it is larger than asked


def test_finish_removes_exactly_the_handled_batches_and_gives_the_rest_back(open_medium: Opener) -> None:
    medium = open_medium()
    for i in range(3):
        medium.park(batch("u", 3 * i))
    [queue] = medium.queues()
    lease = medium.take(queue, 100, "d1")
    assert lease is not None and len(lease.batches) == 3
    medium.finish(lease, 1)
    assert sum(medium.depths().values()) == 6
    assert drain_all(medium) == [f"u-{i}" for i in range(3, 9)]


def test_a_lease_never_finished_is_taken_again_after_a_restart(open_medium: Opener) -> None:
    medium = open_medium()
    medium.park(batch("u", 0))
    [queue] = medium.queues()
    assert medium.take(queue, 100, "crashed-drainer") is not None
    medium.close()  # the drainer died before finish
    again = open_medium()
    [queue] = again.queues()
    lease = again.take(queue, 100, "crashed-drainer")  # the same drainer name after the restart
    assert lease is not None and [e["trace"] for e in lease.batches[0].events] == ["u-0", "u-1", "u-2"]


def test_one_holder_per_queue_at_a_time(open_medium: Opener) -> None:
    medium = open_medium()
    medium.park(batch("u", 0))
    [queue] = medium.queues()
    lease = medium.take(queue, 100, "d1")
    assert lease is not None
    assert medium.take(queue, 100, "d2") is None
    medium.finish(lease, 0)
    again = medium.take(queue, 100, "d2")
    assert again is not None and again.events == 3


def test_depths_stay_exact_while_parkers_and_a_drainer_race(open_medium: Opener) -> None:
    medium = open_medium()
    stored: list[str] = []
    done = threading.Event()

    def park(n: int) -> None:
        for b in range(15):
            medium.park(batch(f"p{n}", 3 * b))

    def drain() -> None:
        while not done.is_set():
            stored.extend(drain_all(medium))

    drainer = threading.Thread(target=drain)
    drainer.start()
    parkers = [threading.Thread(target=park, args=(n,)) for n in range(3)]
    for t in parkers:
        t.start()
    for t in parkers:
        t.join()
    done.set()
    drainer.join()
    stored.extend(drain_all(medium))
    assert sorted(stored) == sorted(f"p{n}-{i}" for n in range(3) for i in range(45))
    assert medium.depths() == {} and medium.oldest_age() is None


def test_queues_name_their_owner_or_are_shared(open_medium: Opener) -> None:
    medium = open_medium()
    medium.park(batch("alice", 0, account=3))
    medium.park(batch("bob", 0, account=None))
    owners = {medium.owner(q) for q in medium.queues()}
    assert owners in ({(3, "alice"), (None, "bob")}, {None})  # Redis: per user; the spool: one shared queue
    assert medium.oldest_age() is not None and medium.health().reachable


def test_redis_unreachable_is_an_unavailable_error() -> None:
    medium = RedisPark(sync_redis("redis://127.0.0.1:1/0", timeout=0.5))
    with pytest.raises(RedisUnavailable):
        medium.park(batch("u", 0))
    with pytest.raises(RedisUnavailable):
        medium.queues()
    assert not medium.health().reachable
    medium.close()
