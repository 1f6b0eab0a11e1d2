"""Streaming compression of uploads (zstd or gzip) and guarded decompression when serving them.

Encoding hashes and counts the original bytes as they pass; decoding never produces more than the
size recorded at upload, and never more than DECODE_CHUNK bytes from one step, so a corrupt or
hostile object (a decompression bomb) cannot blow up memory or stream garbage past its length.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Generator, Iterable, Iterator
from typing import IO, cast

import zstandard

from backend.settings import Compression
from backend.storage.base import ChunkReader

DECODE_CHUNK = 1024 * 1024
ZSTD_MAX_WINDOW = 1 << 27  # 128 MiB: our frames use far less; a larger window means a hostile frame
DEFAULT_LEVEL = {Compression.zstd: 3, Compression.gzip: 6}
EXTENSION = {Compression.zstd: ".zst", Compression.gzip: ".gz"}


class CorruptObject(Exception):
    """Stored bytes that do not decode to the recorded original (damaged, or a decompression bomb)."""


class TooLarge(Exception):
    """The original passed the size limit while being encoded."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"file larger than {limit} bytes")
        self.limit = limit


class Encoder:
    """Compresses a stream of original chunks; `size` and `sha256` describe the original once the
    stream is exhausted."""

    def __init__(self, codec: Compression, level: int | None = None, limit: int | None = None) -> None:
        self.codec = codec
        self.level = level or DEFAULT_LEVEL[codec]
        self.limit = limit
        self.size = 0
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def encode(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        if self.codec is Compression.zstd:
            compressor: zstandard.ZstdCompressionObj | zlib._Compress = zstandard.ZstdCompressor(
                level=self.level, write_checksum=True
            ).compressobj()
        else:
            compressor = zlib.compressobj(self.level, zlib.DEFLATED, 31)  # wbits 31: gzip container
        for chunk in chunks:
            if not chunk:
                continue
            self.size += len(chunk)
            if self.limit is not None and self.size > self.limit:
                raise TooLarge(self.limit)
            self._digest.update(chunk)
            out = compressor.compress(chunk)
            if out:
                yield out
        tail = compressor.flush()
        if tail:
            yield tail


def decode(chunks: Iterable[bytes], codec: str, size: int) -> Iterator[bytes]:
    """The original bytes of a stored object, in chunks of at most DECODE_CHUNK; raises CorruptObject
    as soon as the output would pass `size`, or when it ends short of it."""
    produced = 0
    steps = _zstd_steps(chunks) if codec == Compression.zstd.value else _gzip_steps(chunks)
    try:
        for out in steps:
            produced += len(out)
            if produced > size:
                raise CorruptObject(
                    f"stored object decodes past its recorded size of {size} bytes; refusing to serve more"
                )
            yield out
    except (zstandard.ZstdError, zlib.error) as exc:
        raise CorruptObject(f"stored object does not decode: {exc}") from exc
    finally:
        steps.close()
    if produced != size:
        raise CorruptObject(f"stored object decodes to {produced} bytes, {size} recorded")


def _zstd_steps(chunks: Iterable[bytes]) -> Generator[bytes, None, None]:
    source = ChunkReader(chunks)
    reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).stream_reader(
        cast(IO[bytes], source), read_size=256 * 1024
    )
    with reader:
        while out := reader.read(DECODE_CHUNK):
            yield out


def _gzip_steps(chunks: Iterable[bytes]) -> Generator[bytes, None, None]:
    inflater = zlib.decompressobj(31)
    for chunk in chunks:
        data = chunk
        while data and not inflater.eof:
            out = inflater.decompress(data, DECODE_CHUNK)  # bounded output per step
            if out:
                yield out
            data = inflater.unconsumed_tail
        if inflater.eof:
            break
    if not inflater.eof:
        raise CorruptObject("stored gzip object is truncated")
    # decompress() with max_length leaves nothing for flush() to produce here
