"""The crash matrix: every transport, SIGKILLed at every step of the ingest path, loses no acknowledged event,
stores none twice, and ends with the graph of a clean run.

Per variant, a seeded schedule of FT_CRASH_ROUNDS (default 20) kills takes the kill points in turn, each
at a random hit count, or (`timer`) at a random moment; the next round's process recovers from the last
one's crash. Kill points are failpoints (backend/failpoints.py):

- rest: `ftel serve`, an app posting batches. ingest.stored (the log committed; not answered, not merged),
  projector.merged (the graph merged; the events not marked projected), timer.
- drain: `ftel serve` over its allowance, so most events are parked, in its Redis and (every other round)
  on the disk spool. park.parked (parked; not answered), drain.stored (drained into the log; the medium not
  told), projector.merged, timer.
- redis: `ftel worker` consuming a Redis stream an app writes to meanwhile. consumer.stored (stored; not
  XACKed), ingest.stored, projector.merged, timer.
- kafka: `ftel worker` consuming Kafka (a static group member). consumer.stored (stored; the offset not
  committed), ingest.stored, projector.merged, timer.

After every round the event log holds everything a 202 said was stored, and nothing twice. At the end a
process that is not killed finishes the work; then every event is stored exactly once and the graph equals
a clean run's (tests/crash_fixtures.py).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from backend.settings import Settings
from tests.conftest import wait_for
from tests.crash_fixtures import (
    TIMER,
    Kill,
    MatrixRow,
    Proc,
    RestSender,
    StreamWriter,
    Workload,
    clean_run,
    crash_round,
    graph_difference,
    graph_dump,
    open_subscription,
    print_matrix,
    schedule,
    settle,
    stop_orphaned_redis,
    stored,
    traces_of,
    unprojected,
)

ROUNDS = int(os.environ.get("FT_CRASH_ROUNDS", "20"))
SEED = int(os.environ.get("FT_CRASH_SEED", "18"))
BACKLOG = 50  # entries of 10 events waiting in the stream before the first worker starts

pytestmark = pytest.mark.timeout(max(900, ROUNDS * 30))


class Matrix:
    def __init__(self, transport: str, points: list[str]) -> None:
        self.transport = transport
        self.rows = {p: MatrixRow(transport, p) for p in points}

    def ran(self, kill: Kill, outcome: str, events_so_far: int) -> None:
        row = self.rows[kill.point]
        row.runs += 1
        row.events = events_so_far

    def close(self, events: int, lost: int, duplicated: int, graph_equal: bool) -> list[MatrixRow]:
        for row in self.rows.values():
            row.events, row.lost, row.duplicated, row.graph_equal = events, lost, duplicated, graph_equal
        print("\n" + print_matrix(list(self.rows.values())))
        return list(self.rows.values())


def _serve_variant(tmp_path: Path, name: str, points: list[str], env_for: Any) -> None:
    data = tmp_path / name
    workload = Workload(f"crash-{name}")
    sender = RestSender(workload, batch=50)
    matrix = Matrix(name, points)
    try:
        outcomes: list[str] = []
        for n, kill in enumerate(schedule(SEED, points, ROUNDS)):
            proc = Proc("serve", data, {**env_for(n), **kill.env}, f"round-{n:02}")
            done = crash_round(proc, kill, sender)
            outcomes.append(f"{n:2} {kill}: {done.outcome} in {done.seconds:.1f} s")
            after = stored(data, "rest:")
            assert after.duplicated == 0, f"round {n} ({kill}) stored {after.duplicated} events twice"
            lost = after.lost(sender.direct_events())
            assert lost == 0, f"round {n} ({kill}): {lost} events answered as stored are not in the event log"
            matrix.ran(kill, done.outcome, len(sender.direct))
        print("\n".join(outcomes))
        assert sender.posts > ROUNDS, "the sender hardly sent anything: the rounds tested nothing"

        final = Proc("serve", data, env_for(0), "final")
        try:
            assert final.up()
            sender.finish(final)
            settle(final)
        finally:
            final.stop()
    finally:
        stop_orphaned_redis(data)  # when a round failed before the last process stopped its Redis
    events = workload.events
    after = stored(data, "rest:")
    crashed = graph_dump(data, traces_of(events))
    clean = clean_run(tmp_path / "clean", events, "rest:clean")
    rows = matrix.close(len(events), after.lost(events), after.duplicated, crashed == clean)
    assert crashed == clean, graph_difference(crashed, clean)
    assert after.rows == len(events), f"{after.rows} rows for {len(events)} events"
    assert all(r.lost == 0 and r.duplicated == 0 and r.graph_equal for r in rows)
    if name == "drain":
        assert sender.parked > 0, "nothing was parked: the drain was not exercised"


def test_all_in_one_over_rest(tmp_path: Path) -> None:
    _serve_variant(tmp_path, "rest", ["ingest.stored", "projector.merged", TIMER], lambda n: {})


def test_all_in_one_draining_parked_events(tmp_path: Path) -> None:
    """Over its allowance (100 events/s) most of each batch is parked: in the embedded Redis, and in every
    other round on the disk spool (Redis counts as full above 1 MB)."""

    def env(n: int) -> dict[str, str]:
        base = {
            "FT_FLOW_EVENTS_PER_SECOND": "100",
            "FT_FLOW_BURST_SECONDS": "1",
            "FT_FLOW_DRAIN_EVENTS_PER_SECOND": "3000",
        }
        return {**base, "FT_FLOW_REDIS_MAX_MEMORY_MB": "1"} if n % 2 else base

    _serve_variant(tmp_path, "drain", ["park.parked", "drain.stored", "projector.merged", TIMER], env)


def _worker_variant(tmp_path: Path, transport: str, redis_url: str, kafka_bootstrap: str | None = None) -> None:
    data = tmp_path / transport
    env = {
        "FT_REDIS_URL": redis_url,
        "FT_STREAM_READ_COUNT": "10",
        "FT_STREAM_BATCH_EVENTS": "100",
        "FT_STREAM_BLOCK_MS": "200",
        "FT_CONSUMER_NAME": "crash-worker",  # the same consumer after each crash (Kafka: a static member)
        "FT_STREAM_CLAIM_IDLE_MS": "1000",
    }
    settings = Settings(data_dir=data)
    kafka: tuple[str, str] | None = None
    if kafka_bootstrap is not None:
        kafka = (kafka_bootstrap, f"ftel-crash-{uuid.uuid4().hex[:8]}")
        env.update(FT_KAFKA_BOOTSTRAP=kafka[0], FT_KAFKA_TOPIC=kafka[1], FT_KAFKA_PARTITIONS="2")
        settings = settings.model_copy(update={"kafka_bootstrap": kafka[0], "kafka_topic": kafka[1]})
    stream = open_subscription(settings, redis_url, transport)
    workload = Workload(f"crash-{transport}")
    writer = StreamWriter(workload, stream, redis_url=redis_url, kafka=kafka)
    writer.write(BACKLOG)  # a backlog before the first start, then more while each round runs

    points = ["consumer.stored", "ingest.stored", "projector.merged", TIMER]
    matrix = Matrix(transport, points)
    outcomes: list[str] = []
    for n, kill in enumerate(schedule(SEED, points, ROUNDS)):
        proc = Proc("worker", data, {**env, **kill.env}, f"round-{n:02}")
        done = crash_round(proc, kill, writer)
        outcomes.append(f"{n:2} {kill}: {done.outcome} in {done.seconds:.1f} s")
        after = stored(data, stream)
        assert after.duplicated == 0, f"round {n} ({kill}) stored {after.duplicated} events twice"
        matrix.ran(kill, done.outcome, after.rows)
    print("\n".join(outcomes))

    events = workload.events
    final = Proc("worker", data, env, "final")
    try:
        assert final.up()

        def finished() -> bool:
            return len(set(stored(data, stream).times)) == len(events) and unprojected(data) == 0

        if not wait_for(finished, timeout=180, interval=0.5):
            now = stored(data, stream)
            raise AssertionError(
                f"{len(set(now.times))} of {len(events)} events stored ({now.rows} rows), "
                f"{unprojected(data)} unprojected:\n{final.log()}"
            )
        if transport == "redis":  # every entry written was acknowledged
            client = redis.Redis.from_url(redis_url, decode_responses=True)

            def acked_all() -> bool:
                group = client.xinfo_groups(stream)[0]
                return bool(
                    group["pending"] == 0
                    and group["last-delivered-id"] == client.xinfo_stream(stream)["last-generated-id"]
                )

            assert wait_for(acked_all, timeout=60), final.log()
            assert client.xlen("ft:dlq") == 0
            client.close()
        time.sleep(0.5)
    finally:
        final.stop()
    after = stored(data, stream)
    crashed = graph_dump(data, traces_of(events))
    clean = clean_run(tmp_path / "clean", events, stream)
    rows = matrix.close(len(events), after.lost(events), after.duplicated, crashed == clean)
    assert crashed == clean, graph_difference(crashed, clean)
    assert writer.written > BACKLOG, "nothing was written while the worker ran"
    assert all(r.lost == 0 and r.duplicated == 0 and r.graph_equal for r in rows)


def test_worker_consuming_redis(tmp_path: Path, stream_redis_url: str) -> None:
    _worker_variant(tmp_path, "redis", stream_redis_url)


def test_worker_consuming_kafka(tmp_path: Path, stream_redis_url: str, kafka_bootstrap: str) -> None:
    _worker_variant(tmp_path, "kafka", stream_redis_url, kafka_bootstrap)
