"""tar.gz archives written as a stream: each member's header, then its bytes as they are decoded,
gzip-compressed on the way. Nothing is built in memory or on disk, whatever the archive size.

Deflate runs at ~30 MiB/s on data that does not compress (bench/upload.py prints it), so members known
to be incompressible (their stored object hardly shrank) go into a gzip member of their own at level 0 (stored blocks,
I/O speed). A gzip file may hold several members back to back (RFC 1952 §2.2): gzip, GNU tar and
Python's tarfile read them as one stream."""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

BLOCK = tarfile.BLOCKSIZE  # 512
RECORD = tarfile.RECORDSIZE  # 10240: tar readers expect the archive padded to whole records
FLUSH_AT = 1024 * 1024  # yield compressed output in pieces of about this size
GZIP_LEVEL = 3  # about twice as fast as 6 on text for a few percent of size
STORED_LEVEL = 0


@dataclass(frozen=True)
class Member:
    """One regular file of the archive. `name` must already be safe (a relative path without '.' or '..'
    segments or control characters: file keys are checked at upload); `content` is opened only when the
    member is written."""

    name: str
    size: int
    mtime: datetime
    content: Callable[[], Iterator[bytes]]
    compressible: bool = True


def _header(member: Member) -> bytes:
    info = tarfile.TarInfo(member.name)
    info.size = member.size
    info.mtime = int(member.mtime.timestamp())
    info.mode = 0o644
    info.type = tarfile.REGTYPE
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")  # PAX: long or non-ASCII names survive


def _tar_pieces(members: Iterable[Member]) -> Iterator[tuple[bytes, int]]:
    """The tar byte stream, each piece with the gzip level it should get. A member whose content
    does not have the announced size stops the stream with ValueError (a truncated archive is
    better than a wrong one)."""
    written = 0
    level = GZIP_LEVEL
    for member in members:
        level = GZIP_LEVEL if member.compressible else STORED_LEVEL
        header = _header(member)
        written += len(header)
        yield header, level
        sent = 0
        for chunk in member.content():
            sent += len(chunk)
            if sent > member.size:
                raise ValueError(f"archive member {member.name!r} is longer than its recorded {member.size} bytes")
            yield chunk, level
        if sent != member.size:
            raise ValueError(f"archive member {member.name!r} has {sent} bytes, {member.size} recorded")
        pad = -member.size % BLOCK
        written += member.size + pad
        if pad:
            yield bytes(pad), level
    end = 2 * BLOCK
    end += -(written + end) % RECORD
    yield bytes(end), level


def tar_stream(members: Iterable[Member]) -> Iterator[bytes]:
    """The uncompressed tar byte stream."""
    return (piece for piece, _ in _tar_pieces(members))


def tar_gz(members: Iterable[Member]) -> Iterator[bytes]:
    """The tar stream gzip-compressed, a new gzip member wherever the level changes, yielded in
    pieces of about FLUSH_AT bytes."""
    deflater: Any = None
    current = -1
    pending: list[bytes] = []
    size = 0
    for piece, level in _tar_pieces(members):
        if level != current:
            if deflater is not None:
                pending.append(deflater.flush())
            deflater, current = zlib.compressobj(level, zlib.DEFLATED, 31), level
        out = deflater.compress(piece)
        if out:
            pending.append(out)
            size += len(out)
            if size >= FLUSH_AT:
                yield b"".join(pending)
                pending, size = [], 0
    if deflater is not None:
        pending.append(deflater.flush())
    yield b"".join(pending)
