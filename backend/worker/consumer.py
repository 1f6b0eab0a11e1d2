"""The stream consumer: entries from an EventSource → the ingest pipeline (event log, graph) → ack.

The order is the whole guarantee: an entry is acknowledged only after its events are stored (and
merged, or left for the projector), so a crash at any point redelivers it and the event log's dedup
stores it once. An entry that cannot be stored is never allowed to stop the consumer: undecodable or
invalid ones go to `ft:dlq` at once; ones that keep failing go there after FT_STREAM_MAX_DELIVERIES.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from prometheus_client import Counter
from redis.asyncio import Redis

from backend import failpoints
from backend.domain.ingest import Ingest
from backend.settings import Settings
from backend.streams import keys
from backend.streams.base import Entry, EventSource

log = logging.getLogger("ftel.consumer")

STREAM_ENTRIES = Counter("ftel_stream_entries_total", "Stream entries handled", ["transport", "outcome"])
STREAM_EVENTS = Counter(
    "ftel_stream_events_stored_total", "Events stored from streams (first time seen)", ["transport"]
)


class StoreFailed(Exception):
    """Every entry of a batch failed to store: the store is probably down; back off."""


@dataclass
class BatchOutcome:
    acked: list[Entry] = field(default_factory=list)
    dead: list[tuple[Entry, str]] = field(default_factory=list)
    released: list[Entry] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0


class StreamConsumer:
    def __init__(
        self,
        source: EventSource,
        ingest: Ingest,
        settings: Settings,
        redis: Redis,
        owner_of: Callable[[str], int | None],
    ) -> None:
        self.source = source
        self.ingest = ingest  # flow control included: events over an allowance are parked (and the entry acked)
        self.settings = settings
        self.redis = redis
        self.owner_of = owner_of
        self._errors: dict[tuple[str, str], str] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and handle batches until `stop` is set; store outages back off instead of spinning."""
        backoff = 0.0
        started = False
        while not stop.is_set():
            try:
                if not started:
                    await self.source.start()
                    started = True
                entries = await self.gather()
                if entries:
                    await self.handle(entries)
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                backoff = min(30.0, max(0.5, backoff * 2))
                level = logging.WARNING if isinstance(exc, StoreFailed) else logging.ERROR
                log.log(
                    level,
                    "%s consumer: %s; retrying in %.1fs",
                    self.source.transport,
                    exc,
                    backoff,
                    exc_info=not isinstance(exc, StoreFailed),
                )
                try:
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                except TimeoutError:
                    pass

    async def gather(self) -> list[Entry]:
        """One read (blocking up to FT_STREAM_BLOCK_MS), then more reads without waiting while full reads
        keep coming, up to FT_STREAM_BATCH_EVENTS: one store + graph merge costs about the same for 500
        events as for 2,000, so a backlog is drained in big batches and a trickle is not delayed."""
        count, limit = self.settings.stream_read_count, self.settings.stream_batch_events
        entries = await self.source.fetch(count, self.settings.stream_block_ms)
        last = len(entries)
        while last >= count and _events(entries) < limit:
            more = await self.source.fetch(count, 0)
            entries.extend(more)
            last = len(more)
        return entries

    async def handle(self, entries: Sequence[Entry]) -> BatchOutcome:
        """Admit one fetched batch (one `Ingest.admit` call per stream), then ack / dead-letter / release."""
        outcome = BatchOutcome()
        by_stream: dict[str, list[Entry]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry)
        for stream, batch in by_stream.items():
            await self._store(stream, batch, outcome)
        if outcome.acked:
            failpoints.hit("consumer.stored")
        await self._pause_before_ack(outcome)
        transport = self.source.transport
        if outcome.dead:
            await self.source.dead_letter(outcome.dead)
            STREAM_ENTRIES.labels(transport, "dead_lettered").inc(len(outcome.dead))
            for entry, _ in outcome.dead:
                self._errors.pop((entry.stream, entry.id), None)
        if outcome.acked:
            await self.source.ack(outcome.acked)
            STREAM_ENTRIES.labels(transport, "acked").inc(len(outcome.acked))
            for entry in outcome.acked:
                self._errors.pop((entry.stream, entry.id), None)
        if outcome.released:
            await self.source.release(outcome.released)
            STREAM_ENTRIES.labels(transport, "released").inc(len(outcome.released))
        STREAM_EVENTS.labels(transport).inc(outcome.stored)
        await self._stamp_activity(entries)
        if outcome.released and not outcome.acked and not outcome.dead:
            raise StoreFailed(
                f"no entry of the batch could be stored: {self._errors.get(_pos(outcome.released[0]), '?')}"
            )
        return outcome

    async def _store(self, stream: str, batch: list[Entry], outcome: BatchOutcome) -> None:
        todo: list[Entry] = []
        for entry in batch:
            if entry.events is None:
                outcome.dead.append((entry, entry.error or "undecodable entry"))
            elif entry.deliveries > self.settings.stream_max_deliveries:
                reason = await self._last_error(entry)
                outcome.dead.append(
                    (entry, f"delivered {entry.deliveries} times without being stored; last error: {reason}")
                )
            else:
                todo.append(entry)
        if not todo:
            return
        try:
            await self._record(stream, todo, outcome)
        except Exception as exc:
            if len(todo) == 1 or await self._store_down():
                await self._failed(todo, exc, outcome)
                return
            log.warning("batch of %d entries from %s failed (%s); storing them one by one", len(todo), stream, exc)
            for i, entry in enumerate(todo):
                try:
                    await self._record(stream, [entry], outcome)
                except Exception as single:
                    if await self._store_down():  # the store went away meanwhile: the rest waits for it
                        await self._failed(todo[i:], single, outcome)
                        return
                    await self._failed([entry], single, outcome)  # this entry alone: its neighbours go on

    async def _store_down(self) -> bool:
        """A failed batch is either a store outage or bad entries: ask the store, do not guess from errors."""
        try:
            await asyncio.to_thread(self.ingest.probe)
        except Exception as exc:
            log.warning("%s consumer: the event log does not answer (%s)", self.source.transport, exc)
            return True
        return False

    async def _record(self, stream: str, entries: list[Entry], outcome: BatchOutcome) -> None:
        raw: list[Any] = []
        origin: list[int] = []  # event index → entry index
        starts: list[int] = []  # entry index → index of its first event
        for i, entry in enumerate(entries):
            starts.append(len(raw))
            raw.extend(entry.events or [])
            origin.extend([i] * len(entry.events or []))
        # an unreachable event log raises here (not parked): the entry is released and redelivered
        result = await asyncio.to_thread(self.ingest.admit, raw, stream, self.owner_of(stream), on_store_error="raise")
        outcome.stored += result.accepted
        outcome.duplicates += result.duplicates
        if result.duplicates:
            log.info("%s: %d events were already stored (redelivered entries)", stream, result.duplicates)
        problems: dict[int, list[str]] = {}
        for rejected in result.rejected:
            entry_index = origin[rejected.index]
            problems.setdefault(entry_index, []).append(
                f"event {rejected.index - starts[entry_index]}: {rejected.error}"
            )
        for i, entry in enumerate(entries):
            if i in problems:
                total = len(entry.events or [])
                kept = total - len(problems[i])
                head = (
                    "no event of the entry is valid"
                    if kept == 0
                    else f"{len(problems[i])} of {total} events rejected ({kept} stored)"
                )
                outcome.dead.append((entry, f"{head}: " + "; ".join(problems[i])))
            elif not entry.events:
                outcome.dead.append((entry, "entry holds an empty list of events"))
            else:
                outcome.acked.append(entry)

    async def _failed(self, entries: list[Entry], exc: Exception, outcome: BatchOutcome) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if len(self._errors) > 100_000:  # entries released here may be finished by another member
            self._errors.clear()
        for entry in entries:
            self._errors[_pos(entry)] = error
        note = getattr(self.source, "note_error", None)
        if note is not None:
            try:
                await note(entries, error)
            except Exception as note_exc:
                log.debug("could not record the error in Redis: %s", note_exc)
        for entry in entries:
            if entry.deliveries >= self.settings.stream_max_deliveries:
                outcome.dead.append((entry, f"failed {entry.deliveries} times; last error: {error}"))
            else:
                outcome.released.append(entry)

    async def _last_error(self, entry: Entry) -> str:
        known = self._errors.get(_pos(entry))
        if known:
            return known
        lookup = getattr(self.source, "last_error", None)
        if lookup is not None:
            try:
                found = await lookup(entry)
                if found:
                    return str(found)
            except Exception:
                pass
        return "none recorded (the process handling it may have crashed)"

    async def _pause_before_ack(self, outcome: BatchOutcome) -> None:
        """Test hook (FT_DEBUG_PAUSE_BEFORE_ACK): events are stored, nothing is acknowledged yet."""
        path = self.settings.debug_pause_before_ack
        if path is None or not (outcome.acked or outcome.dead):
            return
        ids = [e.id for e in outcome.acked] + [e.id for e, _ in outcome.dead]
        path.write_text("\n".join(ids) + "\n")
        log.warning("paused before acknowledging %d entries (remove %s to go on)", len(ids), path)
        while path.exists():
            await asyncio.sleep(0.05)

    async def _stamp_activity(self, entries: Sequence[Entry]) -> None:
        """Newest entry time per stream (idle expiry of Kafka subscriptions reads it)."""
        newest: dict[str, int] = {}
        for entry in entries:
            if entry.published_ms and entry.stream:
                newest[entry.stream] = max(newest.get(entry.stream, 0), entry.published_ms)
        if newest and self.source.transport != "redis":
            try:
                await cast(Awaitable[Any], self.redis.hset(keys.ACTIVITY, mapping=dict(newest)))
            except Exception as exc:
                log.debug("activity stamp failed: %s", exc)


def _events(entries: Sequence[Entry]) -> int:
    return sum(len(e.events) if e.events else 1 for e in entries)


def _pos(entry: Entry) -> tuple[str, str]:
    return entry.stream, entry.id
