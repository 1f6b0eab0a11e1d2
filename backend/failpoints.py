"""Failpoints: named places where a crash test can SIGKILL this process (FT_FAILPOINTS).

The crash tests (`tests/e2e/test_crash_matrix.py`) kill processes at chosen steps of the ingest path, on
the n-th time a step is reached, to show that every acknowledged event survives any crash:

    FT_FAILPOINTS="ingest.stored=3"            SIGKILL the 3rd time a batch is committed to the event log
    FT_FAILPOINTS="projector.merged=1,park.parked=2"

Unset (the default), `hit` is one falsy check. Unknown names are a configuration error at start-up.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

log = logging.getLogger("ftel.failpoints")

POINTS: dict[str, str] = {
    "ingest.stored": "events committed to the event log; not answered, not handed to the graph merge",
    "projector.merged": "events merged into the graph; not yet marked projected in the event log",
    "consumer.stored": "a stream batch stored; its entries not yet acknowledged (Redis XACK, Kafka commit)",
    "park.parked": "a batch parked (Redis or the disk spool); the sender not yet answered",
    "drain.stored": "parked batches stored again by the drainer; the park medium not yet told",
    "backup.part": "a backup's table part written and recorded in progress.json; the backup not finished",
}

_armed: dict[str, int] = {}
_hits: dict[str, int] = {}
_lock = threading.Lock()


def parse(spec: str) -> dict[str, int]:
    """`name=n,name=n` → {name: n}; ValueError names what is wrong."""
    armed: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, count = part.partition("=")
        name = name.strip()
        if name not in POINTS:
            raise ValueError(f"unknown failpoint {name!r} (known: {', '.join(sorted(POINTS))})")
        try:
            n = int(count) if sep else 1
        except ValueError:
            raise ValueError(f"failpoint {name!r}: {count!r} is not a hit count") from None
        if n < 1:
            raise ValueError(f"failpoint {name!r}: the hit count must be at least 1")
        armed[name] = n
    return armed


def configure(spec: str | None) -> None:
    """Arm the failpoints of `spec` (replacing any armed before); None or "" disarms them all."""
    armed = parse(spec or "")
    with _lock:
        _armed.clear()
        _armed.update(armed)
        _hits.clear()
    if armed:
        log.warning("failpoints armed (this process will SIGKILL itself): %s", armed)


def hit(name: str) -> None:
    """Reached step `name`: SIGKILL this process if it is armed for this hit. Nothing runs after it."""
    if not _armed:
        return
    with _lock:
        target = _armed.get(name)
        if target is None:
            return
        _hits[name] = count = _hits.get(name, 0) + 1
    if count == target:
        log.warning("failpoint %s reached (hit %d): SIGKILL", name, count)
        os.kill(os.getpid(), signal.SIGKILL)
