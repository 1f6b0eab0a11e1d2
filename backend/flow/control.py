"""Flow control: admit a batch (store it now, or park it), watch the pressure, drain parked events.

Decisions (docs/flow.md): parking happens before the SQL event log; a user over their allowance, or any
user while the system is under pressure (SQL or graph unreachable, consumer lag or process memory over
their thresholds), is parked in Redis, or on the disk spool when Redis is unreachable or too full. A
drainer thread hands parked events back to `record_events` round-robin across users at a bounded rate
once the pressure is gone; the event log's dedup makes every replay harmless.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil
from sqlalchemy import Engine, text

from backend.domain.events import AcceptedEvent, RejectedEvent, validate_events
from backend.domain.ingest import IngestResult, record_events
from backend.flow.accounting import NO_USER, Accounting, Allowance
from backend.flow.parking import ParkedBatch, RedisPark, SpoolPark
from backend.flow.spool import Spool, read_segment
from backend.metrics import (FLOW_BYTES, FLOW_DEPTH, FLOW_DRAIN_RATE, FLOW_DRAINED, FLOW_EVENTS, FLOW_OLDEST, FLOW_PARKED,
                             FLOW_PRESSURE, FLOW_RATE, FLOW_SPOOL_BAD, FLOW_USER_DEPTH)
from backend.settings import Settings
from backend.streams import keys
from graph.base import GraphStore

log = logging.getLogger("ftel.flow")

PRESSURES = ("sql", "graph", "memory", "consumer_lag")


class FlowControl:
    def __init__(self, settings: Settings, engine: Engine, graph: GraphStore, redis_url: str | None) -> None:
        self.settings = settings
        self.engine = engine
        self.graph = graph
        self.accounting = Accounting(Allowance(settings.flow_events_per_second, settings.flow_bytes_per_second,
                                               settings.flow_burst_seconds))
        self.spool = Spool(settings.spool_dir, settings.flow_spool_segment_bytes)
        self._spool_park = SpoolPark(self.spool)
        self.redis = RedisPark(redis_url) if redis_url else None
        self.redis_usable = self.redis is not None  # Redis takes parked events (reachable, below its memory limit)
        self._redis_reachable = self.redis is not None
        self.pressure: dict[str, bool] = dict.fromkeys(PRESSURES, False)
        self._spool_events = sum(len(ParkedBatch.decode(r).events) for _, recs in self.spool.records() for r in recs)
        self.spool.bad_records.clear()  # reported when the segment is drained
        self._spool_pos: dict[Path, int] = {}
        self._spool_cache: dict[Path, list[bytes]] = {}
        self._drained: deque[tuple[float, int]] = deque()
        self._drain_tokens = 0.0
        self._rr = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_check = 0.0
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    # -- admission -------------------------------------------------------------------------------

    def pressing(self) -> list[str]:
        return [name for name, on in self.pressure.items() if on]

    def admit(self, raw: list[Any], channel: str, account_id: int | None, *, park_on_store_error: bool = True) -> IngestResult:
        """Store what fits the user's allowance now and park the rest; invalid events are rejected at once.
        `park_on_store_error`: park (instead of raising) when the event log cannot be written."""
        if not self.settings.flow_enabled:
            return record_events(self.engine, self.graph, raw, channel, account_id, self.settings.graph_batch_size)
        now = datetime.now(UTC)
        accepted, rejected = validate_events(raw, channel, now)
        by_user: dict[str, list[AcceptedEvent]] = {}
        for ev in accepted:
            by_user.setdefault(ev.envelope.user or NO_USER, []).append(ev)
        pressing = self.pressing()
        direct: list[AcceptedEvent] = []
        to_park: list[tuple[str, list[AcceptedEvent], str]] = []
        account = str(account_id) if account_id is not None else "-"
        for user, events in by_user.items():
            sizes = [len(orjson.dumps(raw[ev.index])) for ev in events]
            FLOW_EVENTS.labels(account, user).inc(len(events))
            FLOW_BYTES.labels(account, user).inc(sum(sizes))
            fits = self.accounting.admit(account_id, user, sizes)
            if pressing:
                fits = 0
            direct.extend(events[:fits])
            if fits < len(events):
                to_park.append((user, events[fits:], pressing[0] if pressing else "allowance"))
            self._note(account_id, user, len(events) - fits)
        result = IngestResult(rejected=list(rejected))
        if direct:
            try:
                stored = record_events(self.engine, self.graph, [raw[ev.index] for ev in direct], channel, account_id,
                                       self.settings.graph_batch_size, received_at=now)
            except Exception as exc:
                if not park_on_store_error:
                    raise
                log.warning("event log unreachable, parking the batch: %s", exc)
                self.pressure["sql"] = True
                grouped: dict[str, list[AcceptedEvent]] = {}
                for ev in direct:
                    grouped.setdefault(ev.envelope.user or NO_USER, []).append(ev)
                to_park.extend((user, evs, "sql") for user, evs in grouped.items())
            else:
                result.accepted, result.duplicates, result.buffered = stored.accepted, stored.duplicates, stored.buffered
                result.rejected.extend(RejectedEvent(direct[r.index].index, r.error) for r in stored.rejected)
                if stored.buffered:
                    self.pressure["graph"] = True
        chunk = self.settings.flow_drain_user_quantum  # small parked batches keep each drain step bounded
        for user, events, reason in to_park:
            for start in range(0, len(events), chunk):
                part = events[start:start + chunk]
                self.park(ParkedBatch(channel, account_id, user, now, [raw[ev.index] for ev in part]), reason)
            result.buffered += len(events)
        result.rejected.sort(key=lambda r: r.index)
        return result

    def _note(self, account_id: int | None, user: str, parked: int) -> None:
        change = self.accounting.note_parked(account_id, user, parked)
        if change is True:
            log.info("flow: parking events of user %r (account %s)", user, account_id)
        elif change is False:
            log.info("flow: user %r (account %s) is no longer parked", user, account_id)

    def park(self, batch: ParkedBatch, reason: str) -> str:
        """Redis when it is reachable and below its memory threshold, else the spool (fsynced). Returns the medium."""
        if self.redis is not None and self.redis_usable:
            try:
                self.redis.park(batch)
                FLOW_PARKED.labels("redis", reason).inc(len(batch.events))
                return "redis"
            except Exception as exc:
                log.warning("flow: Redis cannot take parked events, using the disk spool: %s", exc)
                self.redis_usable = False
        with self._lock:  # append and count together: the drainer seals under this lock, so whatever it
            self._spool_park.park(batch)  # reads from a sealed segment has been counted (no stale depth)
            self._spool_events += len(batch.events)
        FLOW_PARKED.labels("spool", reason).inc(len(batch.events))
        return "spool"

    # -- pressure ----------------------------------------------------------------------------------

    def check(self) -> None:
        """Probe the stores and thresholds; run by the drainer every FT_FLOW_CHECK_SECONDS."""
        s = self.settings
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            self.pressure["sql"] = False
        except Exception:
            self.pressure["sql"] = True
        try:
            self.graph.ping()
            self.pressure["graph"] = False
        except Exception:
            self.pressure["graph"] = True
        rss_mb = psutil.Process().memory_info().rss / (1024 * 1024)
        self.pressure["memory"] = bool(s.flow_max_memory_mb) and rss_mb > s.flow_max_memory_mb
        was_reachable = self._redis_reachable
        if self.redis is not None:
            try:
                used = self.redis.used_memory_mb()
                self._redis_reachable = True
                self.redis_usable = not (s.flow_redis_max_memory_mb and used > s.flow_redis_max_memory_mb)
                self.pressure["consumer_lag"] = bool(s.flow_max_consumer_lag) and self._consumer_lag() > s.flow_max_consumer_lag
                stored = self.redis.client.hgetall(keys.FLOW_ALLOWANCES)
                for account, doc in stored.items():  # type: ignore[union-attr]
                    self.accounting.set_allowance(int(account), Allowance(**orjson.loads(doc)))
            except Exception as exc:
                if self._redis_reachable:
                    log.warning("flow: Redis unreachable (%s); parking on the disk spool until it answers", exc)
                self.redis_usable = self._redis_reachable = False
            else:
                if not was_reachable:
                    log.info("flow: Redis reachable again; its parked events drain")
        for name, on in self.pressure.items():
            FLOW_PRESSURE.labels(name).set(1 if on else 0)

    def _consumer_lag(self) -> int:
        """Entries of the subscription streams not yet delivered to our consumer group (Redis 7 `lag`)."""
        assert self.redis is not None
        client = self.redis.client
        streams = [k for k in client.hkeys(keys.REGISTRY)][:1000]  # type: ignore[union-attr]
        if not streams:
            return 0
        pipe = client.pipeline(transaction=False)
        for stream in streams:
            pipe.xinfo_groups(stream)
        total = 0
        for groups in pipe.execute(raise_on_error=False):
            if isinstance(groups, Exception):
                continue
            for group in groups:
                if group.get("name") in (self.settings.stream_group, self.settings.stream_group.encode()):
                    total += int(group.get("lag") or 0)
        return total

    # -- draining ----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None and self.settings.flow_enabled:
            self._thread = threading.Thread(target=self._loop, name="ftel-flow-drainer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.flow_tick_seconds):
            try:
                if time.monotonic() - self._last_check >= self.settings.flow_check_seconds:
                    self._last_check = time.monotonic()
                    self.check()
                    self._publish()
                self.drain_once()
            except Exception:
                log.exception("flow drainer failed; will retry")

    def drain_once(self) -> int:
        """One tick: a bounded number of parked events back to the event log, spool first, then Redis
        users round-robin (each user at most FT_FLOW_DRAIN_USER_QUANTUM events per turn)."""
        if self.pressing():
            self._drain_tokens = 0.0
            return 0
        rate = self.settings.flow_drain_events_per_second
        self._drain_tokens = min(rate, self._drain_tokens + rate * self.settings.flow_tick_seconds)
        budget = int(self._drain_tokens)
        if budget <= 0:
            return 0
        done = self._drain_spool(budget)
        if self.redis is not None and self._redis_reachable and done < budget:  # check() finds it reachable again
            try:
                done += self._drain_redis(budget - done)
            except Exception as exc:
                if not self.pressing():
                    log.warning("flow: draining Redis failed: %s", exc)
                self.redis_usable = self._redis_reachable = False
        self._drain_tokens -= done
        if done:
            self._drained.append((time.monotonic(), done))
        return done

    def _store(self, batch: ParkedBatch) -> None:
        result = record_events(self.engine, self.graph, batch.events, batch.channel, batch.account_id,
                               self.settings.graph_batch_size, received_at=batch.received_at)
        if result.buffered:
            self.pressure["graph"] = True
        for rejected in result.rejected:  # e.g. a log naming a node whose event was itself never stored
            log.warning("flow: drained event rejected (%s, user %r): %s", batch.channel, batch.user, rejected.error)

    def _drain_spool(self, budget: int) -> int:
        done = 0
        with self._lock:
            if not self.spool.closed_segments() and self._spool_events:
                self.spool.seal()
        for path in self.spool.closed_segments():
            if path not in self._spool_cache:  # read a closed segment once, not on every tick
                read = read_segment(path)
                if read.problem is not None:
                    self.spool.bad_records.append((path.name, read.bad_offset or 0, read.problem))
                self._spool_cache[path] = read.records
            records = self._spool_cache[path]
            start = self._spool_pos.get(path, 0)
            for i in range(start, len(records)):
                if done >= budget:
                    return done
                batch = ParkedBatch.decode(records[i])
                try:
                    self._store(batch)
                except Exception as exc:
                    self.pressure["sql"] = True
                    log.warning("flow: spool drain paused, event log unreachable: %s", exc)
                    return done
                self._spool_pos[path] = i + 1
                done += len(batch.events)
                with self._lock:
                    self._spool_events = max(0, self._spool_events - len(batch.events))
                FLOW_DRAINED.labels("spool").inc(len(batch.events))
            for name, offset, problem in self.spool.bad_records:
                if name == path.name:
                    log.error("flow: spool segment %s has a damaged record at byte %d (%s); kept as .bad", name, offset, problem)
                    FLOW_SPOOL_BAD.inc()
            self.spool.bad_records = [b for b in self.spool.bad_records if b[0] != path.name]
            self.spool.discard(path)
            self._spool_pos.pop(path, None)
            self._spool_cache.pop(path, None)
        return done

    def _drain_redis(self, budget: int) -> int:
        assert self.redis is not None
        users = self.redis.parked_keys()
        if not users:
            return 0
        done = 0
        progress = True
        while done < budget and progress:
            progress = False
            self._rr = (self._rr + 1) % len(users)
            for key in users[self._rr:] + users[:self._rr]:
                if done >= budget:
                    break
                if not self.redis.claim(key, self._owner):
                    continue
                try:
                    taken = self.redis.take(key, min(self.settings.flow_drain_user_quantum, budget - done))
                    for _, batch in taken:
                        self._store(batch)
                    self.redis.done(key, [(entry_id, len(batch.events)) for entry_id, batch in taken])
                finally:
                    self.redis.release(key)
                count = sum(len(b.events) for _, b in taken)
                if count:
                    FLOW_DRAINED.labels("redis").inc(count)
                    done += count
                    progress = True
        return done

    # -- visibility --------------------------------------------------------------------------------

    def drain_rate(self) -> float:
        horizon = time.monotonic() - 5.0
        while self._drained and self._drained[0][0] < horizon:
            self._drained.popleft()
        return sum(n for _, n in self._drained) / 5.0

    def snapshot(self) -> dict[str, Any]:
        depths: dict[str, int] = {}
        oldest: float | None = None
        redis_ok = True
        if self.redis is not None:
            try:
                depths = self.redis.depths()
                oldest = self.redis.oldest_age()
            except Exception:
                redis_ok = False
        spool_oldest = self.spool.oldest_mtime()
        if spool_oldest is not None and self._spool_events:
            age = max(0.0, time.time() - spool_oldest)
            oldest = age if oldest is None else max(oldest, age)
        users = self.accounting.snapshot()
        for user in users:
            user["buffered"] = depths.get(keys.park_key(user["account_id"], user["user"]), 0)
        return {
            "users": users,
            "buffered": {"redis": sum(depths.values()), "spool": self._spool_events},
            "buffered_by_user": depths,
            "drain_rate": self.drain_rate(),
            "oldest_parked_seconds": oldest,
            "pressure": self.pressing(),
            "redis": "ok" if redis_ok and self.redis_usable else ("none" if self.redis is None else "unusable"),
            "spool": {"bytes": self.spool.depth_bytes(), "segments": len(self.spool.segments()),
                      "bad_segments": sorted(p.name for p in self.spool.dir.glob("*.bad"))},
            "default_allowance": self.accounting.default.as_json(),
            "allowances": {str(k): v.as_json() for k, v in self.accounting.allowances.items()},
        }

    def _publish(self) -> None:
        snap = self.snapshot()
        FLOW_DEPTH.labels("redis").set(snap["buffered"]["redis"])
        FLOW_DEPTH.labels("spool").set(snap["buffered"]["spool"])
        FLOW_DRAIN_RATE.set(snap["drain_rate"])
        FLOW_OLDEST.set(snap["oldest_parked_seconds"] or 0)
        for key, depth in snap["buffered_by_user"].items():
            account, user = keys.park_owner(key)
            FLOW_USER_DEPTH.labels(str(account) if account is not None else "-", user).set(depth)
        for user in snap["users"]:
            FLOW_RATE.labels(str(user["account_id"] if user["account_id"] is not None else "-"), user["user"]).set(user["rate"])

    def set_allowance(self, account_id: int, allowance: Allowance) -> None:
        """Effective at once in this process; shared with the other replicas through Redis when it is up."""
        self.accounting.set_allowance(account_id, allowance)
        if self.redis is not None:
            try:
                self.redis.client.hset(keys.FLOW_ALLOWANCES, str(account_id), orjson.dumps(allowance.as_json()).decode())
            except Exception as exc:
                log.warning("flow: allowance kept in this process only (Redis: %s)", exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.spool.close()
        if self.redis is not None:
            self.redis.close()
