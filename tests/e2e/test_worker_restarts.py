"""A worker SIGKILLed and restarted over and over while an app keeps writing: it comes back under the same
consumer name (so it re-reads its own pending entries at once instead of waiting for the claim timeout),
the group never fills up with dead consumers, and after the last restart every entry is stored once and
acknowledged within seconds. Real `ftel worker` processes, the real test Redis, SQLite + the embedded graph."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import redis
from sqlalchemy import func, select

from backend.bootstrap import open_engine
from backend.db.models import Event
from backend.settings import Settings
from tests.conftest import wait_for
from tests.e2e.test_stream_crash import open_subscription
from tests.stream_fixtures import WorkerProcess

KILLS = 10


def test_a_worker_killed_ten_times_keeps_one_consumer_and_recovers_in_seconds(
    tmp_path: Path, stream_redis_url: str
) -> None:
    data = tmp_path / "worker"
    settings = Settings(data_dir=data)
    stream = open_subscription(settings, stream_redis_url)
    client = redis.Redis.from_url(stream_redis_url, decode_responses=True)
    env = {
        "FT_REDIS_URL": stream_redis_url,
        "FT_STREAM_BLOCK_MS": "200",
        "FT_STREAM_READ_COUNT": "50",
        "FT_STREAM_CLAIM_IDLE_MS": "60000",
    }  # the claim timeout is not what brings a restarted worker back
    tag = uuid.uuid4().hex[:8]
    written: list[int] = []
    stop = threading.Event()

    def app() -> None:
        n = 0
        while not stop.is_set():
            for _ in range(10):
                event = {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tag}/{n}")),
                    "type": "trace.started",
                    "trace": f"{tag}-{n}",
                    "user": "restarts",
                }
                client.xadd(stream, {"event": json.dumps(event)})
                n += 1
            written.append(n)
            time.sleep(0.1)

    def delivered() -> str:  # the group's newest entry handed to a reader
        groups = client.xinfo_groups(stream)
        return groups[0]["last-delivered-id"] if groups else ""

    writer = threading.Thread(target=app, daemon=True)
    writer.start()
    names: set[str] = set()
    worker = WorkerProcess(env, data, "worker-0")
    try:
        for kill in range(1, KILLS + 1):
            worker.wait_started()
            # killed while consuming: once this incarnation has read entries (some not yet acknowledged)
            seen = delivered()
            assert wait_for(lambda seen=seen: delivered() != seen, timeout=30, interval=0.02), worker.log()
            names |= {c["name"] for c in client.xinfo_consumers(stream, "ftel")}
            worker.kill()
            if kill == KILLS:
                stop.set()
                writer.join()
            worker = WorkerProcess(env, data, f"worker-{kill}")
        restarted = time.monotonic()
        worker.wait_started()
        total = written[-1]
        engine = open_engine(settings)

        def caught_up() -> bool:
            group = client.xinfo_groups(stream)[0]
            if group["pending"] or group["last-delivered-id"] != client.xinfo_stream(stream)["last-generated-id"]:
                return False
            with engine.connect() as conn:
                count, distinct = conn.execute(
                    select(func.count(), func.count(func.distinct(Event.uuid))).where(Event.channel == stream)
                ).one()
            return (count, distinct) == (total, total)

        assert wait_for(caught_up, timeout=60, interval=0.1), worker.log()
        recovered = time.monotonic() - restarted
        engine.dispose()
        consumers = {c["name"] for c in client.xinfo_consumers(stream, "ftel")}
        assert len(names) == 1 and consumers == names, (names, consumers)  # one name, whatever the restarts
        print(
            f"\n{KILLS} SIGKILLs under load: one consumer name throughout ({consumers.pop()}); "
            f"{total} events stored once; the last restart caught up {recovered:.1f} s after it began "
            f"(process start included)"
        )
        assert recovered < 30
    finally:
        stop.set()
        worker.stop()
        client.close()
