"""Kafka as an EventSource: one shared topic (FT_KAFKA_TOPIC), the message key is the subscription's
stream key, one consumer group (FT_STREAM_GROUP) across all workers.

Why a shared topic rather than a topic per subscription: subscribing must be cheap and must not need
topic-admin rights on a cluster another team runs; parallelism is set by the partition count, not by
how many subscriptions exist; subscribe/unsubscribe never triggers a consumer-group rebalance. Keys keep
one subscription's messages in order on one partition. The price: no per-subscription ACL or retention,
and messages for a key with no live subscription must be skipped — they are dead-lettered with a reason.

Offsets are committed only after the entries are stored (acked) or dead-lettered, and only up to the
first entry still in flight on each partition, so a crash re-reads everything not yet stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError, TopicAlreadyExistsError
from redis.asyncio import Redis

from backend.streams import keys
from backend.streams.base import Entry, dead_letter_record, decode_kafka_value

log = logging.getLogger("ftel.streams.kafka")


async def ensure_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create the shared topic unless it exists (the broker may also auto-create it, with fewer partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic in await admin.list_topics():
            return
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            pass
    finally:
        await admin.close()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: KafkaEventSource) -> None:
        self.source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.source._commit_done()
        self.source._forget({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("kafka partitions assigned: %s", sorted(tp.partition for tp in assigned))


class KafkaEventSource:
    transport = "kafka"

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        consumer: str,
        redis: Redis,
        *,
        partitions: int = 6,
        retry_delay_ms: int = 60_000,
        dlq_maxlen: int = 100_000,
        is_live: Callable[[str], Awaitable[bool]] | None = None,
        static_member: bool = False,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.consumer = consumer
        self.redis = redis
        self.partitions = partitions
        self.retry_delay_ms = retry_delay_ms
        self.dlq_maxlen = dlq_maxlen
        self._is_live = is_live
        # A consumer named for good (FT_CONSUMER_NAME) joins as a static member (KIP-345, group.instance.id):
        # restarted after a crash it takes its partitions back at once instead of waiting for the broker to
        # expire the dead member (session timeout) and rebalance.
        self.static_member = static_member
        self._followed: set[str] = set()
        self._kafka: AIOKafkaConsumer | None = None
        self._inflight: dict[int, deque[int]] = {}  # partition → offsets handed out, in order
        self._done: dict[int, set[int]] = {}  # partition → offsets acked or dead-lettered, not yet committed
        self._attempts: dict[tuple[int, int], int] = {}
        self._paused_until: dict[int, float] = {}

    async def start(self) -> None:
        if self._kafka is not None:
            return
        await ensure_topic(self.bootstrap, self.topic, self.partitions)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group,
            client_id=self.consumer,
            group_instance_id=self.consumer if self.static_member else None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
        )
        try:
            await consumer.start()
            consumer.subscribe([self.topic], listener=_Listener(self))
        except Exception:
            await consumer.stop()
            raise
        self._kafka = consumer

    def follow(self, streams: Collection[str]) -> None:
        self._followed = set(streams)

    @property
    def followed(self) -> frozenset[str]:
        return frozenset(self._followed)

    async def fetch(self, count: int, block_ms: int) -> list[Entry]:
        assert self._kafka is not None, "start() first"
        self._resume_due()
        batches = await self._kafka.getmany(timeout_ms=block_ms, max_records=count)
        entries: list[Entry] = []
        strays: list[tuple[Entry, str]] = []
        for tp, records in batches.items():
            queue = self._inflight.setdefault(tp.partition, deque())
            for record in records:
                queue.append(record.offset)
                entry = self._entry(record)
                if entry.stream in self._followed or (
                    self._is_live is not None and entry.stream and await self._is_live(entry.stream)
                ):
                    entries.append(entry)
                else:
                    strays.append((entry, f"no live subscription for key {entry.stream!r} on topic {self.topic}"))
        if strays:
            await self.dead_letter(strays)
        return entries

    def _entry(self, record: ConsumerRecord[Any, Any]) -> Entry:
        position = (record.partition, record.offset)
        attempts = self._attempts[position] = self._attempts.get(position, 0) + 1
        key = record.key.decode("utf-8", "replace") if record.key else ""
        events, error = decode_kafka_value(record.value)
        value = record.value.decode("utf-8", "replace") if record.value else ""
        return Entry(
            stream=key,
            id=f"{record.partition}:{record.offset}",
            fields={"key": key, "value": value},
            events=events,
            error=error,
            deliveries=attempts,
            published_ms=record.timestamp,
        )

    @staticmethod
    def _position(entry: Entry) -> tuple[int, int]:
        partition, _, offset = entry.id.partition(":")
        return int(partition), int(offset)

    async def ack(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            partition, offset = self._position(entry)
            self._done.setdefault(partition, set()).add(offset)
        await self._commit_done()

    async def dead_letter(self, failures: Sequence[tuple[Entry, str]]) -> None:
        if not failures:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry, reason in failures:
                record: dict[Any, Any] = dead_letter_record(entry, reason, self.transport)
                pipe.xadd(keys.DLQ, record, maxlen=self.dlq_maxlen, approximate=True)
            await pipe.execute()
        for entry, reason in failures:
            log.warning("dead-lettered %s %s: %s", entry.stream, entry.id, reason[:300])
        await self.ack([entry for entry, _ in failures])

    async def release(self, entries: Sequence[Entry]) -> None:
        """Rewind each partition to its oldest released entry and hold it back for the retry delay."""
        assert self._kafka is not None
        oldest: dict[int, int] = {}
        for entry in entries:
            partition, offset = self._position(entry)
            oldest[partition] = min(offset, oldest.get(partition, offset))
        for partition, offset in oldest.items():
            tp = TopicPartition(self.topic, partition)
            queue = self._inflight.get(partition, deque())
            self._inflight[partition] = deque(o for o in queue if o < offset)
            self._done[partition] = {o for o in self._done.get(partition, set()) if o < offset}
            try:
                self._kafka.seek(tp, offset)
                self._kafka.pause(tp)
                self._paused_until[partition] = time.monotonic() + self.retry_delay_ms / 1000
            except IllegalStateError:  # revoked meanwhile: the new owner re-reads from the committed offset
                pass

    def _resume_due(self) -> None:
        assert self._kafka is not None
        now = time.monotonic()
        for partition, until in list(self._paused_until.items()):
            if until <= now:
                del self._paused_until[partition]
                tp = TopicPartition(self.topic, partition)
                if tp in self._kafka.assignment():
                    self._kafka.resume(tp)

    async def _commit_done(self) -> None:
        if self._kafka is None:
            return
        offsets: dict[TopicPartition, int] = {}
        for partition, queue in self._inflight.items():
            done = self._done.get(partition, set())
            last = None
            while queue and queue[0] in done:
                last = queue.popleft()
                done.discard(last)
                self._attempts.pop((partition, last), None)
            if last is not None:
                offsets[TopicPartition(self.topic, partition)] = last + 1
        if not offsets:
            return
        try:
            await self._kafka.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # the partition moved to another member during a rebalance: it re-reads from the last
            # committed offset and the event log's dedup keeps the store exactly-once
            log.warning("kafka commit skipped after rebalance: %s", exc)

    def _forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self._inflight.pop(partition, None)
            self._done.pop(partition, None)
            self._paused_until.pop(partition, None)
        self._attempts = {k: v for k, v in self._attempts.items() if k[0] not in partitions}

    async def close(self) -> None:
        if self._kafka is None:
            return
        try:
            await self._commit_done()
        except KafkaError as exc:
            log.warning("kafka final commit failed: %s", exc)
        await self._kafka.stop()
        self._kafka = None


async def wait_assigned(source: KafkaEventSource, timeout: float = 30.0) -> None:
    """Block until the group has handed this member its partitions (tests, benchmarks)."""
    assert source._kafka is not None
    deadline = time.monotonic() + timeout
    while not source._kafka.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("no Kafka partitions assigned")
        await asyncio.sleep(0.1)
