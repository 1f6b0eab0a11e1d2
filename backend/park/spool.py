"""The disk spool: the park medium of last resort, when Redis is unreachable or too full.

Append-only segment files under FT_DATA_DIR/spool. One record = a 12-byte header (magic, payload length,
CRC-32 of the payload) and the payload; every append is fsynced before it returns, so a sender that got
its 202 has its events on disk. Reading stops at the first record whose header or checksum does not
hold (a torn write at a crash): every intact record before it is returned and the bad one is reported.
Draining is at-least-once: a segment is deleted only after all its records were handed over; the event
log's dedup makes a replay after a crash harmless.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from backend.metrics import FLOW_SPOOL_BAD
from backend.park.base import Lease, MediumHealth, ParkedBatch

log = logging.getLogger("ftel.park")

MAGIC = b"FTS1"
HEADER = struct.Struct(">4sII")  # magic, payload length, crc32(payload)
MAX_RECORD = 256 * 1024 * 1024


@dataclass
class SegmentRead:
    """The intact records of one segment, and what was wrong with the rest (if anything)."""

    path: Path
    records: list[bytes] = field(default_factory=list)
    bad_offset: int | None = None
    problem: str | None = None


def read_segment(path: Path) -> SegmentRead:
    """Every intact record up to the first damaged one (truncated header/payload, bad magic, bad CRC)."""
    out = SegmentRead(path)
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        if len(data) - pos < HEADER.size:
            out.bad_offset, out.problem = pos, f"truncated header ({len(data) - pos} bytes)"
            break
        magic, length, crc = HEADER.unpack_from(data, pos)
        if magic != MAGIC or length > MAX_RECORD:
            out.bad_offset, out.problem = pos, "bad record header"
            break
        start = pos + HEADER.size
        payload = data[start : start + length]
        if len(payload) < length:
            out.bad_offset, out.problem = pos, f"truncated payload ({len(payload)} of {length} bytes)"
            break
        if zlib.crc32(payload) != crc:
            out.bad_offset, out.problem = pos, "checksum mismatch"
            break
        out.records.append(payload)
        pos = start + length
    return out


class Spool:
    """Segments `seg-<n>.log`; appends go to the newest, draining takes whole closed segments oldest first."""

    def __init__(self, directory: Path, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self.dir = directory
        self.segment_bytes = segment_bytes
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._active: Path | None = None
        self._file: int | None = None
        self.bad_records: list[tuple[str, int, str]] = []  # (segment, offset, problem) seen while draining

    def segments(self) -> list[Path]:
        return sorted(self.dir.glob("seg-*.log"), key=lambda p: int(p.stem.split("-")[1]))

    def append(self, payload: bytes) -> None:
        """Write one record and fsync it (and the directory, for a new segment) before returning."""
        record = HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            if self._file is None or (self._active is not None and self._active.stat().st_size >= self.segment_bytes):
                self._open_new()
            assert self._file is not None
            view = memoryview(record)
            while view:
                written = os.write(self._file, view)
                view = view[written:]
            os.fsync(self._file)

    def _open_new(self) -> None:
        self._close_active()
        existing = self.segments()
        number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 1
        self._active = self.dir / f"seg-{number:08d}.log"
        self._file = os.open(self._active, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _close_active(self) -> None:
        if self._file is not None:
            os.close(self._file)
        self._file, self._active = None, None

    def seal(self) -> None:
        """Close the segment being written, so that everything spooled so far can be drained."""
        with self._lock:
            self._close_active()

    def closed_segments(self) -> list[Path]:
        with self._lock:
            return [p for p in self.segments() if p != self._active]

    def records(self) -> Iterator[tuple[Path, list[bytes]]]:
        """Closed segments oldest first, with their intact records; damaged tails are reported, not raised."""
        for path in self.closed_segments():
            read = read_segment(path)
            if read.problem is not None:
                self.bad_records.append((path.name, read.bad_offset or 0, read.problem))
            yield path, read.records

    def discard(self, path: Path) -> None:
        """A drained segment; a damaged tail is kept aside as `<name>.bad` for inspection."""
        read = read_segment(path) if path.exists() else None
        if read is not None and read.problem is not None:
            path.rename(path.with_suffix(".bad"))
        else:
            path.unlink(missing_ok=True)

    def depth_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.segments())

    def oldest_mtime(self) -> float | None:
        segs = self.segments()
        return segs[0].stat().st_mtime if segs else None

    def close(self) -> None:
        with self._lock:
            self._close_active()


class SpoolPark:
    """ParkMedium (backend.park.base) on the spool: one FIFO queue across users, for this process only.
    A closed segment is read once and drained record by record; it is deleted once every record is handed
    over (a damaged tail is kept as `.bad` and reported)."""

    name = "spool"
    QUEUE = "spool"

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._lock = threading.Lock()  # park + count vs seal: what a sealed segment holds has been counted
        self._events = sum(len(ParkedBatch.decode(r).events) for _, recs in spool.records() for r in recs)
        spool.bad_records.clear()  # reported when the segment is drained
        self._pos: dict[Path, int] = {}
        self._cache: dict[Path, list[bytes]] = {}
        self._holder: str | None = None

    def park(self, batch: ParkedBatch) -> None:
        with self._lock:
            self.spool.append(batch.encode())
            self._events += len(batch.events)

    def queues(self) -> list[str]:
        return [self.QUEUE] if self._events or self.spool.closed_segments() else []

    def take(self, queue: str, max_events: int, holder: str) -> Lease | None:
        with self._lock:
            if self._holder not in (None, holder):
                return None
            if not self.spool.closed_segments() and self._events:
                self.spool.seal()
        for path in self.spool.closed_segments():
            records = self._records(path)
            start = self._pos.get(path, 0)
            if start >= len(records):
                self._retire(path)
                continue
            lease = Lease(queue, holder, [])
            for i in range(start, len(records)):
                batch = ParkedBatch.decode(records[i])
                if lease.batches and lease.events + len(batch.events) > max_events:
                    break
                lease.batches.append(batch)
                lease.positions.append((path, i))
            self._holder = holder
            return lease
        return None

    def finish(self, lease: Lease, handled: int) -> None:
        try:
            if handled:
                path, last = lease.positions[handled - 1]
                self._pos[path] = last + 1
                with self._lock:
                    self._events = max(0, self._events - sum(len(b.events) for b in lease.batches[:handled]))
                if self._pos[path] >= len(self._records(path)):
                    self._retire(path)
        finally:
            self._holder = None

    def _records(self, path: Path) -> list[bytes]:
        if path not in self._cache:  # a closed segment is read once, not on every take
            read = read_segment(path)
            if read.problem is not None:
                self.spool.bad_records.append((path.name, read.bad_offset or 0, read.problem))
            self._cache[path] = read.records
        return self._cache[path]

    def _retire(self, path: Path) -> None:
        for name, offset, problem in self.spool.bad_records:
            if name == path.name:
                log.error("spool segment %s has a damaged record at byte %d (%s); kept as .bad", name, offset, problem)
                FLOW_SPOOL_BAD.inc()
        self.spool.bad_records = [b for b in self.spool.bad_records if b[0] != path.name]
        self.spool.discard(path)
        self._pos.pop(path, None)
        self._cache.pop(path, None)

    def depths(self) -> dict[str, int]:
        return {self.QUEUE: self._events} if self._events else {}

    def owner(self, queue: str) -> tuple[int | None, str] | None:
        return None

    def oldest_age(self) -> float | None:
        oldest = self.spool.oldest_mtime()
        return max(0.0, time.time() - oldest) if oldest is not None and self._events else None

    def health(self) -> MediumHealth:
        return MediumHealth(reachable=True)

    def depth_bytes(self) -> int:
        return self.spool.depth_bytes()

    def segment_count(self) -> int:
        return len(self.spool.segments())

    def bad_segments(self) -> list[str]:
        return sorted(p.name for p in self.spool.dir.glob("*.bad"))

    def close(self) -> None:
        self.spool.close()
