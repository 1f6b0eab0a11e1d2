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
from collections.abc import Sequence
from typing import Any

import orjson

from backend.db.base import CountedEvent, RollupDelta, RollupPass, StatsStore, bucket_of

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


def fold(events: Sequence[CountedEvent]) -> RollupDelta:
    """What these events add to the rollups, by dimension and 15-minute bucket of their event time."""
    delta = RollupDelta({}, set(), set(), {})
    counts, members = delta.counts, delta.members

    def add(cells: list[tuple[str, int, str]], measure: str, n: int = 1) -> None:
        for d, b, k in cells:
            key = (d, b, k, measure)
            counts[key] = counts.get(key, 0) + n

    for ev in events:
        bucket = bucket_of(ev.created_ms)
        body: dict[str, Any] = (
            orjson.loads(ev.payload) if ev.type in DROPS or ev.type in ("flow", "file.stored") else {}
        )
        reason = (body.get("reason") or body.get("code") or "")[:REASON_CHARS] if ev.type in DROPS else ""
        cells = [("all", bucket, "")]
        if ev.account is not None:
            cells.append(("account", bucket, ev.account))
        if ev.user is not None:
            cells.append(("user", bucket, ev.user))
        if reason:
            cells.append(("reason", bucket, reason))
        if ev.duplicate:
            add(cells, "duplicates")
            continue
        add(cells, f"event:{ev.type}")
        for d, b, k in cells:
            if ev.trace_key is not None:
                members.add((d, b, k, "trace", ev.trace_key))
            if ev.user is not None:
                members.add((d, b, k, "user", ev.user))
        lag = max(0, ev.received_ms - ev.created_ms)
        add(cells, f"lag:{lag_bin(lag)}")
        for d, b, k in cells:
            key = (d, b, k, "lag_max")
            counts[key] = max(counts.get(key, 0), lag)
        if ev.type in FILE_EVENTS:
            add(cells, "files:" + ev.type.removeprefix("file."))
            if ev.type == "file.received" and ev.node_key is not None:
                delta.files.update((d, b, k, ev.node_key) for d, b, k in cells)
        if reason:
            add(cells, f"drop:{reason}")
        if ev.type == "file.dropped" and ev.node_key is not None:
            _settle(delta, ev.node_key, ev.created_ms)
        elif ev.type == "log":
            add(cells, f"log:{ev.level or 'info'}")
        elif ev.type == "file.stored":
            attrs = body.get("attrs") or {}
            add(cells, "bytes:uploaded", _int(attrs.get("size")))
            add(cells, "bytes:stored", _int(attrs.get("stored_size")))
        elif ev.type == "flow":
            outputs = body.get("outputs") or []
            add(cells, "data_produced", sum(1 for n in outputs if n.get("kind") == "data"))
            add(cells, "outputs", sum(1 for n in outputs if n.get("kind") in ("file", "sink")))
            for node in body.get("inputs") or []:
                if node.get("kind") == "file":
                    _settle(delta, node["key"], ev.created_ms)
    delta.counts = {k: v for k, v in counts.items() if v or k[3] == "lag_max"}
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

    def rebuild(self) -> int:
        """Count everything again from the log (the same rows as the incremental passes gave); how many events."""
        total = self.store.reset()
        while self.run():
            pass
        return total
