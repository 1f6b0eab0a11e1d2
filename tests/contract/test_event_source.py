"""One contract for every EventSource (backend/streams/base.py), run on real Redis and a real Kafka
broker (KRaft). Per-backend code is only the harness: how to open a member and how an app writes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from aiokafka import AIOKafkaProducer

from backend.bootstrap import Role, async_redis, build, open_engine, open_graph, wire_ingest
from backend.db.accounts import SqlAccounts
from backend.db.event_log import SqlEventLog
from backend.demo import seed_events
from backend.settings import Settings
from backend.streams.base import Entry, EventSource
from backend.streams.kafka import KafkaEventSource, wait_assigned
from backend.streams.redis import RedisStreamSource
from backend.worker.consumer import StoreFailed, StreamConsumer
from tests.stream_fixtures import dlq

RETRY_MS = 300


class Harness:
    """What the suite needs from a backend. `counts_survive_restart`: the delivery count is kept by the
    transport (Redis) rather than by the process (Kafka); `holds_back_unfollowed`: entries of streams
    nobody follows wait in the transport (Redis) instead of being dead-lettered (Kafka's shared topic)."""

    transport: str
    counts_survive_restart: bool
    holds_back_unfollowed: bool

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.redis = redis_sync.Redis.from_url(redis_url, decode_responses=True)
        self._opened: list[Any] = []

    async def member(self, name: str, streams: list[str]) -> EventSource:
        raise NotImplementedError

    async def write(self, stream: str, events: list[dict[str, Any]] | None = None, raw: str | None = None) -> None:
        raise NotImplementedError

    async def close_all(self) -> None:
        for thing in reversed(self._opened):
            try:
                await thing.close() if hasattr(thing, "close") else None
            except Exception:
                pass
        self._opened.clear()


class RedisHarness(Harness):
    transport = "redis"
    counts_survive_restart = True
    holds_back_unfollowed = True

    async def member(self, name: str, streams: list[str]) -> EventSource:
        client = async_redis(self.redis_url)
        source = RedisStreamSource(client, "ftel", name, claim_idle_ms=RETRY_MS)
        await source.start()
        source.follow(streams)
        self._opened.append(_Closer(source, client))
        return source

    async def write(self, stream: str, events: list[dict[str, Any]] | None = None, raw: str | None = None) -> None:
        if raw is not None:
            self.redis.xadd(stream, {"event": raw})
        elif events is not None and len(events) == 1:
            self.redis.xadd(stream, {"event": json.dumps(events[0])})
        else:
            self.redis.xadd(stream, {"events": json.dumps(events)})


class KafkaHarness(Harness):
    transport = "kafka"
    counts_survive_restart = False
    holds_back_unfollowed = False

    def __init__(self, redis_url: str, bootstrap: str) -> None:
        super().__init__(redis_url)
        self.bootstrap = bootstrap
        self.topic = f"ftel-test-{uuid.uuid4().hex[:10]}"
        self.group = f"g-{uuid.uuid4().hex[:8]}"
        self._producer: AIOKafkaProducer | None = None

    async def member(self, name: str, streams: list[str]) -> EventSource:
        client = async_redis(self.redis_url)
        source = KafkaEventSource(
            self.bootstrap, self.topic, self.group, name, client, partitions=4, retry_delay_ms=RETRY_MS
        )
        await source.start()
        source.follow(streams)
        self._opened.append(_Closer(source, client))
        await wait_assigned(source)
        return source

    async def write(self, stream: str, events: list[dict[str, Any]] | None = None, raw: str | None = None) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await self._producer.start()
            self._opened.insert(0, self._producer)
        value = (
            raw.encode()
            if raw is not None
            else json.dumps(events[0] if events and len(events) == 1 else events).encode()
        )
        await self._producer.send_and_wait(self.topic, value, key=stream.encode())

    async def close_all(self) -> None:
        await super().close_all()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


class _Closer:
    def __init__(self, source: EventSource, client: Any) -> None:
        self.source = source
        self.client = client

    async def close(self) -> None:
        await self.source.close()
        await self.client.aclose()


@pytest.fixture(params=["redis", "kafka"])
def harness(request: pytest.FixtureRequest, stream_redis_url: str) -> Iterator[Harness]:
    if request.param == "redis":
        yield RedisHarness(stream_redis_url)
    else:
        yield KafkaHarness(stream_redis_url, request.getfixturevalue("kafka_bootstrap"))


def run(harness: Harness, scenario: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        try:
            await asyncio.wait_for(scenario(), timeout=90)
        finally:
            await harness.close_all()

    asyncio.run(main())


async def collect(source: EventSource, want: int, timeout: float = 20.0) -> list[Entry]:
    """Fetch until `want` entries arrived (or time is up); returns what came."""
    got: list[Entry] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got.extend(await source.fetch(100, 200))
    return got


async def quiet(source: EventSource, seconds: float = 1.0) -> list[Entry]:
    """Whatever arrives within `seconds` (expected: nothing)."""
    got: list[Entry] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got.extend(await source.fetch(100, 100))
    return got


def ev(trace: str, n: int) -> dict[str, Any]:
    return {"type": "log", "trace": trace, "message": f"m{n}", "time": f"2026-01-01T00:00:{n:02d}Z"}


def streams(n: int) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"ft:s:{tag}-{i}" for i in range(n)]


# -- the contract ---------------------------------------------------------------------------------


def test_entries_arrive_decoded_with_their_stream(harness: Harness) -> None:
    a, b = streams(2)

    async def scenario() -> None:
        member = await harness.member("m1", [a, b])
        for n in range(3):
            await harness.write(a, [ev("T", n)])
        await harness.write(b, [ev("T", 10), ev("T", 11)])
        got = await collect(member, 4)
        assert sorted((e.stream, len(e.events or [])) for e in got) == [(a, 1), (a, 1), (a, 1), (b, 2)]
        assert [e.events[0]["message"] for e in got if e.stream == a] == ["m0", "m1", "m2"]  # type: ignore[index]
        assert all(e.error is None and e.deliveries == 1 and e.published_ms for e in got)
        await member.ack(got)

    run(harness, scenario)


def test_undecodable_entry_is_returned_with_its_reason_and_dead_lettered_once(harness: Harness) -> None:
    (a,) = streams(1)

    async def scenario() -> None:
        member = await harness.member("m1", [a])
        await harness.write(a, raw="{not json at all")
        await harness.write(a, [ev("T", 1)])
        got = await collect(member, 2)
        bad = [e for e in got if e.events is None]
        good = [e for e in got if e.events is not None]
        assert len(bad) == 1 and "not JSON" in (bad[0].error or "")
        await member.dead_letter([(bad[0], bad[0].error or "")])
        await member.ack(good)
        records = dlq(harness.redis)
        assert [(r["stream"], r["id"], r["transport"]) for r in records] == [(a, bad[0].id, harness.transport)]
        assert "not JSON" in records[0]["reason"] and "{not json at all" in records[0]["entry"]
        await member.close()
        again = await harness.member("m1", [a])
        assert await quiet(again) == []

    run(harness, scenario)


def test_unacknowledged_entries_come_back_after_a_restart_and_acknowledged_ones_do_not(harness: Harness) -> None:
    (a,) = streams(1)

    async def scenario() -> None:
        member = await harness.member("m1", [a])
        for n in range(5):
            await harness.write(a, [ev("R", n)])
        got = await collect(member, 5)
        assert len(got) == 5
        await member.ack(got[:2])
        await member.close()  # "crash": three entries were never acknowledged
        restarted = await harness.member("m1", [a])
        again = await collect(restarted, 3)
        assert [e.id for e in again] == [e.id for e in got[2:]]
        assert [e.events for e in again] == [e.events for e in got[2:]]
        if harness.counts_survive_restart:
            assert all(e.deliveries == 2 for e in again)
        await restarted.ack(again)
        assert await quiet(restarted) == []

    run(harness, scenario)


def test_released_entries_come_back_later_with_a_higher_delivery_count(harness: Harness) -> None:
    (a,) = streams(1)

    async def scenario() -> None:
        member = await harness.member("m1", [a])
        await harness.write(a, [ev("L", 1)])
        await harness.write(a, [ev("L", 2)])
        first = await collect(member, 2)
        await member.release(first)
        started = time.monotonic()
        second = await collect(member, 2, timeout=10)
        assert time.monotonic() - started >= RETRY_MS / 1000 * 0.8  # held back, not handed out in a tight loop
        assert [e.id for e in second] == [e.id for e in first]
        assert all(e.deliveries == 2 for e in second)
        await member.ack(second)
        assert await quiet(member) == []

    run(harness, scenario)


def test_members_of_one_group_share_entries_without_overlap(harness: Harness) -> None:
    keys = streams(8)

    async def scenario() -> None:
        one = await harness.member("m1", keys)
        two = await harness.member("m2", keys)
        if isinstance(one, KafkaEventSource):
            await wait_assigned(one)
        for key in keys:
            for n in range(5):
                await harness.write(key, [ev(key, n)])
        seen: dict[str, list[tuple[str, str]]] = {"m1": [], "m2": []}
        deadline = time.monotonic() + 30
        while sum(map(len, seen.values())) < 40 and time.monotonic() < deadline:
            for name, member in (("m1", one), ("m2", two)):
                batch = await member.fetch(10, 100)
                seen[name] += [(e.stream, e.id) for e in batch]
                await member.ack(batch)
        everything = seen["m1"] + seen["m2"]
        assert len(everything) == 40 and len(set(everything)) == 40
        assert not set(seen["m1"]) & set(seen["m2"])

    run(harness, scenario)


def test_only_followed_streams_are_delivered(harness: Harness) -> None:
    followed, other = streams(2)

    async def scenario() -> None:
        member = await harness.member("m1", [followed])
        await harness.write(other, [ev("U", 1)])
        await harness.write(followed, [ev("F", 1)])
        got = await collect(member, 1)
        await member.ack(got)
        got += await quiet(member, 0.5)
        assert [e.stream for e in got] == [followed]
        if harness.holds_back_unfollowed:
            assert harness.redis.xlen(other) == 1  # waits, unread, for whoever follows it
        else:
            assert [(r["stream"], "no live subscription" in r["reason"]) for r in dlq(harness.redis)] == [(other, True)]

    run(harness, scenario)


def test_consumer_stores_the_seed_scenario_once_and_dead_letters_garbage(harness: Harness, tmp_path: Path) -> None:
    """The consumer on top of the source, on the production pipeline (flow control included): garbage and
    invalid events go to the DLQ with a reason, the rest is stored and merged; the same entries written
    again store nothing new."""
    (a,) = streams(1)
    settings = Settings(data_dir=tmp_path, stream_read_count=7, stream_block_ms=100)
    process = build(settings, Role.api)
    events = seed_events("CS")

    async def scenario() -> None:
        member = await harness.member("m1", [a])
        client = async_redis(harness.redis_url)
        consumer = StreamConsumer(member, process.ingest, settings, client, lambda _: None)
        for i, event in enumerate(events):
            if i == 4:
                await harness.write(a, raw="garbage")
                await harness.write(
                    a, [{"type": "teleport", "trace": "CS"}, {"type": "log", "trace": "CS", "message": "kept"}]
                )
            await harness.write(a, [event])
        stored = duplicates = 0
        deadline = time.monotonic() + 30
        while stored < len(events) + 1 and time.monotonic() < deadline:
            entries = await member.fetch(7, 100)
            if entries:
                outcome = await consumer.handle(entries)
                stored, duplicates = stored + outcome.stored, duplicates + outcome.duplicates
        assert (stored, duplicates) == (len(events) + 1, 0)
        for event in events:
            await harness.write(a, [event])
        again = 0
        deadline = time.monotonic() + 30
        while again < len(events) and time.monotonic() < deadline:
            entries = await member.fetch(7, 100)
            if entries:
                outcome = await consumer.handle(entries)
                assert outcome.stored == 0
                again += outcome.duplicates
        await client.aclose()

    try:
        run(harness, scenario)
        reasons = sorted(r["reason"] for r in dlq(harness.redis))
        assert len(reasons) == 2
        assert "not JSON" in reasons[0] or "not JSON" in reasons[1]
        assert any("1 of 2 events rejected (1 stored): event 0: type" in r for r in reasons)
        graph_view = process.graph.trace_graph("CS")
        nodes = {n["key"]: n["status"] for n in graph_view.nodes}
        assert nodes["File1"] == "dropped" and nodes["File4"] == "written" and len(nodes) == 10
    finally:
        process.close()


def test_an_entry_that_keeps_failing_is_dead_lettered_with_its_last_error(harness: Harness, tmp_path: Path) -> None:
    """The store fails every time (no schema): the entry is retried, then dead-lettered after
    FT_STREAM_MAX_DELIVERIES with the error; the consumer never stops."""
    (a,) = streams(1)
    settings = Settings(data_dir=tmp_path, stream_max_deliveries=2, stream_block_ms=100)
    settings.ensure_data_dir()
    engine = open_engine(settings)  # never upgraded: every insert fails with "no such table"
    graph = open_graph(settings)
    closers: list[Any] = []
    ingest, _ = wire_ingest(settings, SqlEventLog(engine), graph, SqlAccounts(engine), closers, flow=True)

    async def scenario() -> None:
        member = await harness.member("m1", [a])
        client = async_redis(harness.redis_url)
        consumer = StreamConsumer(member, ingest, settings, client, lambda _: None)
        await harness.write(a, [ev("P", 1)])
        attempts = 0
        deadline = time.monotonic() + 20
        while not harness.redis.xlen("ft:dlq") and time.monotonic() < deadline:
            entries = await member.fetch(10, 100)
            if entries:
                attempts += 1
                try:
                    await consumer.handle(entries)
                except StoreFailed:
                    pass
        assert attempts == 2
        assert await quiet(member, 0.6) == []
        await client.aclose()

    try:
        run(harness, scenario)
        (record,) = dlq(harness.redis)
        assert record["stream"] == a and record["deliveries"] == "2"
        assert "failed 2 times" in record["reason"] and "no such table" in record["reason"]
    finally:
        for _, close in closers:
            close()
        graph.close()
        engine.dispose()


def test_entries_with_times_no_store_can_take_are_dead_lettered_alone(harness: Harness, tmp_path: Path) -> None:
    """Two entries of one read batch carry times at the calendar's edge (an OverflowError before, taken for a
    store outage: the batch was held back and, after FT_STREAM_MAX_DELIVERIES, its 3 valid entries went to
    the DLQ with the bad ones). Now the bad ones go to the DLQ at once, alone, and the 3 valid ones are stored."""
    (a,) = streams(1)
    settings = Settings(data_dir=tmp_path, stream_read_count=10, stream_block_ms=100)
    process = build(settings, Role.api)
    bad = [
        {"type": "log", "trace": "E", "message": "early", "time": "0001-01-01T00:00:00+01:00"},
        {"type": "log", "trace": "E", "message": "late", "time": "9999-12-31T23:59:59-01:00"},
    ]

    async def scenario() -> None:
        member = await harness.member("m1", [a])
        client = async_redis(harness.redis_url)
        consumer = StreamConsumer(member, process.ingest, settings, client, lambda _: None)
        for event in (ev("E", 1), bad[0], ev("E", 2), bad[1], ev("E", 3)):
            await harness.write(a, [event])
        entries = await collect(member, 5)
        outcome = await consumer.handle(entries)
        assert (outcome.stored, len(outcome.acked), len(outcome.dead), outcome.released) == (3, 3, 2, [])
        assert await quiet(member, 0.5) == []
        await client.aclose()

    try:
        run(harness, scenario)
        reasons = [r["reason"] for r in dlq(harness.redis)]
        assert len(reasons) == 2 and all("time must lie between" in r for r in reasons), reasons
    finally:
        process.close()
