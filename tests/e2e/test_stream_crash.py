"""A worker is SIGKILLed after storing a batch and before acknowledging it, then restarted: every event
is stored exactly once and the graph is identical to a clean run of the same entries.

The worker (`ftel worker`, SQLite + embedded graph in its data dir, the real test Redis) pauses at the
FT_DEBUG_PAUSE_BEFORE_ACK hook; the test kills it there with SIGKILL — no shutdown code runs."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, func, select

from backend.bootstrap import Role, build, open_engine, open_graph
from backend.db.engine import upgrade
from backend.db.models import Event
from backend.demo import seed_events
from backend.settings import Settings
from tests.conftest import wait_for
from tests.crash_fixtures import dump, open_subscription
from tests.stream_fixtures import WorkerProcess, rekeyed, xadd_events

READ_COUNT = 10


def scenario() -> tuple[list[str], list[dict[str, Any]]]:
    """Three seed traces (own node keys); every other event without an `id`, so dedup by
    (channel, time, payload) is exercised as well as dedup by id."""
    traces = [f"crash-{i}" for i in range(3)]
    events: list[dict[str, Any]] = []
    for trace in traces:
        events += rekeyed(seed_events(trace), f"-{trace}")
    for i, event in enumerate(events):
        if i % 2:
            event.pop("id")
    return traces, events


def stored(engine: Engine, stream: str) -> tuple[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(func.count(), func.count(func.distinct(Event.dedup_key))).where(Event.channel == stream)
        ).one()
    return int(rows[0]), int(rows[1])


def clean_run(tmp: Path, stream: str, events: list[dict[str, Any]], traces: list[str]) -> dict[str, Any]:
    """The same entries stored in batches of READ_COUNT by a process that never crashes."""
    process = build(Settings(data_dir=tmp), Role.api)  # the production pipeline, as the worker runs it
    try:
        for start in range(0, len(events), READ_COUNT):
            process.ingest.admit(events[start : start + READ_COUNT], stream, None, on_store_error="raise")
        return dump(process.graph, traces)
    finally:
        process.close()


@pytest.mark.parametrize("restart_as", ["same-consumer", "new-consumer"])
def test_sigkill_between_store_and_ack_loses_nothing_and_stores_nothing_twice(
    tmp_path: Path,
    stream_redis_url: str,
    restart_as: str,
) -> None:
    """same-consumer: the restarted worker re-reads its own pending entries first (id 0);
    new-consumer: another member takes them over with XAUTOCLAIM once idle."""
    data = tmp_path / "worker"
    settings = Settings(data_dir=data)
    stream = open_subscription(settings, stream_redis_url)
    engine = open_engine(settings)
    upgrade(engine)
    traces, events = scenario()
    client = redis.Redis.from_url(stream_redis_url, decode_responses=True)
    xadd_events(client, stream, events)

    pause = tmp_path / "paused-before-ack"
    env = {
        "FT_REDIS_URL": stream_redis_url,
        "FT_STREAM_READ_COUNT": str(READ_COUNT),
        "FT_STREAM_BATCH_EVENTS": str(READ_COUNT),
        "FT_STREAM_BLOCK_MS": "200",
        "FT_CONSUMER_NAME": "crash-worker",
        "FT_STREAM_CLAIM_IDLE_MS": "1000",
        "FT_STREAM_RECONCILE_SECONDS": "5",
    }
    first = WorkerProcess({**env, "FT_DEBUG_PAUSE_BEFORE_ACK": str(pause)}, data, "first")
    try:
        # the worker writes the file in two steps (create, then the ids): wait for the ids, not the file
        assert wait_for(lambda: pause.exists() and pause.read_text().split(), timeout=60), first.log()
        in_flight = pause.read_text().split()
        assert len(in_flight) == READ_COUNT
        assert stored(engine, stream) == (READ_COUNT, READ_COUNT)  # stored …
        assert client.xpending(stream, "ftel")["pending"] == READ_COUNT  # … and not acknowledged
        first.kill()
    finally:
        first.kill()
    pause.unlink()

    name = "crash-worker" if restart_as == "same-consumer" else f"other-{uuid.uuid4().hex[:6]}"
    second = WorkerProcess({**env, "FT_CONSUMER_NAME": name}, data, "second")
    try:

        def drained() -> bool:
            groups = client.xinfo_groups(stream)
            last = client.xinfo_stream(stream)["last-generated-id"]
            return groups[0]["pending"] == 0 and groups[0]["last-delivered-id"] == last

        assert wait_for(drained, timeout=60), second.log()
        assert wait_for(lambda: stored(engine, stream)[0] == len(events), timeout=10)
    finally:
        second.stop()
    assert stored(engine, stream) == (len(events), len(events))
    assert f"{READ_COUNT} events were already stored (redelivered entries)" in second.log()  # the batch came back
    assert client.xlen("ft:dlq") == 0

    graph = open_graph(settings)
    try:
        after_crash = dump(graph, traces)
    finally:
        graph.close()
    engine.dispose()
    assert after_crash == clean_run(tmp_path / "clean", stream, events, traces)
    assert after_crash[traces[0]]["trace"]["status"] == "ended"
