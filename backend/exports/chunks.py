"""Cutting an export into chunks, its manifest, and checking a downloaded export against its manifest.

A chunk holds at most `max_events` records and at most `max_bytes` bytes before compression (so a gzip'd
chunk file is smaller still); a single record larger than that gets a chunk of its own. Each chunk is
complete on its own: CSV chunks repeat the header. Chunks are streamed into the store (one buffer of
`_FLUSH` bytes and zlib's window in memory) and recorded once durable; an export resumes after the last
recorded chunk."""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from backend.db.base import ChunkRow, ExportRow
from backend.domain.events import format_time
from backend.errors import InvalidInput, ObjectNotFound
from backend.exports.artifacts import MANIFEST, Artifacts, Written, gunzipped, gzipped
from backend.exports.contents import Content, Page, header

VERSION = "ftel-export/1"
_FLUSH = 256 * 1024  # bytes gathered before they go to zlib and the store


class ExportLost(Exception):
    """The export was taken over by another runner (its lease ran out) or expired while this one wrote it."""


@dataclass(frozen=True)
class Limits:
    events: int
    bytes: int


def chunk_name(seq: int, fmt: str, compression: str) -> str:
    return f"chunk-{seq:06d}.{fmt}" + (".gz" if compression == "gzip" else "")


def write_chunks(
    content: Content,
    export: ExportRow,
    limits: Limits,
    start: tuple[int, str],
    put: Callable[[str, Iterable[bytes]], Written],
    record: Callable[[ChunkRow], bool],
    heartbeat: Callable[[], bool] = lambda: True,
) -> None:
    """Write `content` from `start` (chunks written so far, the cursor after the last) until it is exhausted:
    each chunk streamed through `put`, then handed to `record` (False: the export is lost → ExportLost);
    `heartbeat` before each page is read (False: lost too).
    A page's records are cut by their running sizes (itertools.accumulate + bisect: no Python step per record)."""
    seq, cursor = start
    read = content.pages(cursor)

    def pages() -> Iterator[Page]:
        for page in read:
            if not heartbeat():
                raise ExportLost(export.uuid)
            yield page

    pages_left = pages()
    page = next(pages_left, None)
    at = 0  # the first record of `page` not written yet
    top = header(content.columns) if export.format == "csv" else b""
    while page is not None:
        seq += 1
        count, first, last = 0, page[1][at], page[1][at]

        def body() -> Iterator[bytes]:
            nonlocal page, at, count, last
            buffer, size = bytearray(top), len(top)
            while page is not None:
                lines, records = page
                room = lines[at : at + limits.events - count]
                sizes = list(accumulate(map(len, room)))
                fit = bisect_right(sizes, limits.bytes - size)
                if fit == 0 and count == 0:
                    fit = 1  # a record larger than the limit gets a chunk of its own
                if fit:
                    buffer += b"".join(room[:fit])
                    size += sizes[fit - 1]
                    count += fit
                    last = records[at + fit - 1]
                    at += fit
                if len(buffer) >= _FLUSH:
                    yield bytes(buffer)
                    buffer.clear()
                if at == len(lines):
                    page, at = next(pages_left, None), 0
                if fit < len(room) or count >= limits.events:
                    break  # the chunk is full
            if buffer:
                yield bytes(buffer)

        name = chunk_name(seq, export.format, export.compression)
        written = put(name, gzipped(body()) if export.compression == "gzip" else body())
        chunk = ChunkRow(
            seq=seq,
            name=name,
            events=count,
            bytes=written.bytes,
            sha256=written.sha256,
            first=content.position(first),
            last=content.position(last),
            cursor=content.cursor(last),
        )
        if not record(chunk):
            raise ExportLost(export.uuid)


def manifest(export: ExportRow, chunks: list[ChunkRow]) -> dict[str, Any]:
    """What an export holds: its query, its state, and every chunk with its records, bytes and sha256."""
    return {
        "version": VERSION,
        "id": export.uuid,
        "content": export.content,
        "format": export.format,
        "compression": export.compression,
        "query": export.query,
        "status": export.status,
        "created_at": format_time(export.created_at),
        "finished_at": format_time(export.finished_at) if export.finished_at else None,
        "expires_at": format_time(export.expires_at),
        "events": sum(c.events for c in chunks),
        "bytes": sum(c.bytes for c in chunks),
        "chunks": [
            {
                "seq": c.seq,
                "name": c.name,
                "events": c.events,
                "bytes": c.bytes,
                "sha256": c.sha256,
                "first": c.first,
                "last": c.last,
            }
            for c in chunks
        ],
    }


# -- checking a downloaded export -------------------------------------------------------------------


@dataclass
class Verdict:
    """The result of checking an export against its manifest: `problems` empty means it is whole."""

    chunks: int = 0
    events: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # files beside the manifest that it does not list

    @property
    def ok(self) -> bool:
        return not self.problems


def _records(chunks: Iterable[bytes], fmt: str) -> int:
    """How many records a chunk's bytes hold: NDJSON lines, or CSV rows after the header (quoted newlines
    inside a field do not end a row)."""
    if fmt == "ndjson":
        count, tail = 0, b""
        for chunk in chunks:
            count += chunk.count(b"\n")
            tail = chunk[-1:] if chunk else tail
        return count + (1 if tail not in (b"", b"\n") else 0)
    text = io.TextIOWrapper(io.BufferedReader(_Stream(chunks)), encoding="utf-8", newline="")
    return max(0, sum(1 for _ in csv.reader(text)) - 1)


class _Stream(io.RawIOBase):
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks, self._rest = iter(chunks), b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._rest:
            self._rest = next(self._chunks, b"")
            if not self._rest:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n], self._rest = self._rest[:n], self._rest[n:]
        return n


def verify(folder: Artifacts, on_chunk: Callable[[str], None] | None = None) -> Verdict:
    """Check every chunk the manifest lists: present, the same size and sha256, and (decompressed) holding
    the number of records the manifest says; the totals too."""
    verdict = Verdict()
    try:
        meta = folder.get_json(MANIFEST)
    except ObjectNotFound:
        verdict.problems.append(f"no {MANIFEST}: not an export folder")
        return verdict
    except InvalidInput as exc:
        verdict.problems.append(exc.message)
        return verdict
    if not isinstance(meta, dict) or meta.get("version") != VERSION or not isinstance(meta.get("chunks"), list):
        verdict.problems.append(f"{MANIFEST} is not an export manifest ({VERSION})")
        return verdict
    listed = set()
    for entry in meta["chunks"]:
        name = str(entry.get("name", ""))
        listed.add(name)
        if on_chunk is not None:
            on_chunk(name)
        try:
            found = folder.digest(name)
        except ObjectNotFound:
            verdict.problems.append(f"{name}: missing")
            continue
        except Exception as exc:  # an unsafe name in an altered manifest
            verdict.problems.append(f"{name!r}: {exc}")
            continue
        if found.bytes != entry.get("bytes") or found.sha256 != entry.get("sha256"):
            verdict.problems.append(
                f"{name}: {found.bytes} bytes, sha256 {found.sha256[:12]}…; "
                f"the manifest says {entry.get('bytes')} bytes, {str(entry.get('sha256'))[:12]}…"
            )
            continue
        raw = folder.read(name)
        try:
            data = gunzipped(raw) if name.endswith(".gz") else raw
            records = _records(data, str(meta.get("format")))
        except ValueError as exc:
            verdict.problems.append(f"{name}: {exc}")
            continue
        finally:
            close = getattr(raw, "close", None)
            if close is not None:
                close()
        if records != entry.get("events"):
            verdict.problems.append(f"{name}: {records} records; the manifest says {entry.get('events')}")
            continue
        verdict.chunks += 1
        verdict.events += records
        verdict.bytes += found.bytes
    if verdict.events != meta.get("events") and not verdict.problems:
        verdict.problems.append(f"{verdict.events} records in all; the manifest says {meta.get('events')}")
    verdict.extra = [n for n in folder.names() if n != MANIFEST and n not in listed and not n.startswith(".")]
    return verdict
