"""Rollups (#13): the event log counted into UTC 15-minute buckets per dimension (the whole service, account,
user, drop reason or code), each event exactly once; larger windows are sums of buckets (backend/batch/stats.py).

`fold` is the pure part: events to what they add. Measures, by name:
  event:<type>            events by type (a duplicate only adds to `duplicates`)
  files:<received|stored|dropped|expired|deleted>   file events by type
  data_produced, outputs  data nodes a flow output; files and sinks a flow output
  drop:<reason or code>   file.dropped and data.dropped by reason (else code), cut to 200 characters
  log:<level>             log events by level
  bytes:uploaded, bytes:stored   file.stored attrs `size` and `stored_size`
  duplicates              events that repeat one that came over another channel
  lag:<bin>, lag_max      ingest lag (received − event time, ms) as a log-scale histogram, and its max
Active traces and users are member rows counted distinct when read; unconverted files are the files received
in a window that no flow took as input and no drop named by the window's end plus FT_STATS_UNCONVERTED_GRACE_SECONDS.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from backend.db.base import Cell, CountedEvent, RollupDelta, RollupPass, StatsStore, bucket_of

log = logging.getLogger("ftel.batch.rollups")

LAG_STEPS = 8  # histogram bins per doubling: a bin's middle is within 4.4 % of any lag in it
REASON_CHARS = 200
FILE_EVENTS = {"file.received", "file.stored", "file.dropped", "file.expired", "file.deleted"}
DROPS = {"file.dropped", "data.dropped"}


def lag_bin(ms: int) -> int:
    """0 for under a millisecond, else 1 + the lag's log2 in steps of 1/LAG_STEPS."""
    return 0 if ms < 1 else 1 + int(LAG_STEPS * math.log2(ms))


def lag_of_bin(b: int) -> float:
    """The middle of a bin (geometric), in ms."""
    return 0.0 if b <= 0 else 2 ** ((b - 0.5) / LAG_STEPS)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


Combo = tuple[int, str | None, str | None, str]  # (bucket, account, user, reason): which cells an event adds to


def cells(combo: Combo) -> list[Cell]:
    bucket, account, user, reason = combo
    out: list[Cell] = [("all", bucket, "")]
    if account is not None:
        out.append(("account", bucket, account))
    if user is not None:
        out.append(("user", bucket, user))
    if reason:
        out.append(("reason", bucket, reason))
    return out


def fold(events: Sequence[CountedEvent]) -> RollupDelta:
    """What these events add to the rollups, by dimension and 15-minute bucket of their event time. Counted per
    combination of an event's cells first, then spread to each of its cells."""
    measures: dict[Combo, dict[str, int]] = {}
    tops: dict[Combo, int] = {}
    traces: set[tuple[Combo, str]] = set()
    received: set[tuple[Combo, str]] = set()
    delta = RollupDelta({}, set(), set(), {})
    for ev in events:
        body: dict[str, Any] = orjson.loads(ev.payload) if ev.payload is not None else {}
        reason = (body.get("reason") or body.get("code") or "")[:REASON_CHARS] if ev.type in DROPS else ""
        combo = (bucket_of(ev.created_ms), ev.account, ev.user, reason)
        m = measures.get(combo)
        if m is None:
            m = measures[combo] = {}
        if ev.duplicate:
            m["duplicates"] = m.get("duplicates", 0) + 1
            continue
        seen = [f"event:{ev.type}"]
        if ev.trace_key is not None:
            traces.add((combo, ev.trace_key))
        lag = max(0, ev.received_ms - ev.created_ms)
        seen.append(f"lag:{lag_bin(lag)}")
        if lag > tops.get(combo, -1):
            tops[combo] = lag
        if ev.type in FILE_EVENTS:
            seen.append("files:" + ev.type.removeprefix("file."))
            if ev.type == "file.received" and ev.node_key is not None:
                received.add((combo, ev.node_key))
        if reason:
            seen.append(f"drop:{reason}")
        for name in seen:
            m[name] = m.get(name, 0) + 1
        if ev.type == "file.dropped" and ev.node_key is not None:
            _settle(delta, ev.node_key, ev.created_ms)
        elif ev.type == "log":
            level = f"log:{ev.level or 'info'}"
            m[level] = m.get(level, 0) + 1
        elif ev.type == "file.stored":
            attrs = body.get("attrs") or {}
            m["bytes:uploaded"] = m.get("bytes:uploaded", 0) + _int(attrs.get("size"))
            m["bytes:stored"] = m.get("bytes:stored", 0) + _int(attrs.get("stored_size"))
        elif ev.type == "flow":
            outputs = body.get("outputs") or []
            m["data_produced"] = m.get("data_produced", 0) + sum(1 for n in outputs if n.get("kind") == "data")
            m["outputs"] = m.get("outputs", 0) + sum(1 for n in outputs if n.get("kind") in ("file", "sink"))
            for node in body.get("inputs") or []:
                if node.get("kind") == "file":
                    _settle(delta, node["key"], ev.created_ms)
    counts = delta.counts
    for combo, m in measures.items():
        spread = cells(combo)
        for name, n in m.items():
            if n:
                for d, b, k in spread:
                    counts[(d, b, k, name)] = counts.get((d, b, k, name), 0) + n
        if combo in tops:
            for d, b, k in spread:
                counts[(d, b, k, "lag_max")] = max(counts.get((d, b, k, "lag_max"), 0), tops[combo])
            if combo[2] is not None:
                delta.members.update((d, b, k, "user", combo[2]) for d, b, k in spread)
    for combo, trace in traces:
        delta.members.update((d, b, k, "trace", trace) for d, b, k in cells(combo))
    for combo, key in received:
        delta.files.update((d, b, k, key) for d, b, k in cells(combo))
    return delta


def _settle(delta: RollupDelta, key: str, ms: int) -> None:
    delta.settled[key] = min(delta.settled.get(key, ms), ms)


class Rollups:
    """The rollups job: passes of `batch` events until none is left uncounted."""

    def __init__(self, store: StatsStore, batch: int = 20_000) -> None:
        self.store = store
        self.batch = batch

    def run(self) -> bool:
        """One pass; True while more events wait (the runner runs it again at once)."""
        done: RollupPass = self.store.roll_up(self.batch, fold)
        if done.counted:
            log.debug("rollups: %d event(s) counted, %d duplicate(s)", done.counted, done.duplicates)
        return done.reset or done.counted >= self.batch

    def rebuild(self, on_pass: Callable[[int, int], None] | None = None) -> int:
        """Count everything again from the log (the same rows as the incremental passes gave); how many events.
        `on_pass(counted, total)` after each pass (a progress bar)."""
        total = self.store.reset()
        while True:
            done: RollupPass = self.store.roll_up(self.batch, fold)
            if on_pass is not None:
                on_pass(done.counted, total)
            if not (done.reset or done.counted >= self.batch):
                return total
