"""Files an export or a backup is made of (chunks, table dumps, copied objects, the manifest), kept in an
object store under one prefix: the service's store (`exports/<id>/`, `backups/<id>/`) or a directory the CLI
writes to. Every write is streamed and returns its size and sha256, so a manifest can list what it holds and
a reader can check it before trusting it. Names are chosen here, never taken from a caller."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from backend.errors import InvalidInput
from backend.storage.base import ObjectInfo, ObjectStore, check_object_name

MANIFEST = "manifest.json"
_GZIP_LEVEL = 6  # zlib's default: within a few percent of level 9's size at a third of its time


@dataclass(frozen=True)
class Written:
    """One file as written: its name under the prefix, its size in bytes and the sha256 of those bytes."""

    name: str
    bytes: int
    sha256: str


class Artifacts:
    """The files under one prefix of an object store."""

    def __init__(self, store: ObjectStore, prefix: str = "") -> None:
        if prefix:
            check_object_name(prefix.rstrip("/"))
            prefix = prefix.rstrip("/") + "/"
        self.store = store
        self.prefix = prefix

    def _name(self, name: str) -> str:
        return check_object_name(self.prefix + name)

    def put(self, name: str, chunks: Iterable[bytes]) -> Written:
        """Stream `chunks` into `name` (atomic, durable on return), hashing them on the way."""
        digest = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            for chunk in chunks:
                digest.update(chunk)
                yield chunk

        size = self.store.put(self._name(name), hashed())
        return Written(name, size, digest.hexdigest())

    def read(self, name: str) -> Iterator[bytes]:
        """The bytes of `name` (ObjectNotFound before the first chunk when it is missing); exhaust or close."""
        return self.store.read(self._name(name))

    def _chunks(self, name: str) -> Iterator[bytes]:
        """The bytes of `name`, the store's reader closed however the caller stops reading."""
        reader = self.read(name)
        try:
            yield from reader
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()

    def stat(self, name: str) -> ObjectInfo | None:
        return self.store.stat(self._name(name))

    def put_json(self, name: str, value: Any) -> Written:
        return self.put(name, [orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)])

    def get_json(self, name: str, limit: int = 64 * 1024 * 1024) -> Any:
        """A JSON file of at most `limit` bytes; InvalidInput when it is larger or not JSON."""
        data = bytearray()
        for chunk in self._chunks(name):
            data += chunk
            if len(data) > limit:
                raise InvalidInput(f"{name} is larger than {limit} bytes")
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{name} is not JSON: {exc}") from None

    def digest(self, name: str) -> Written:
        """Size and sha256 of `name` as stored now (ObjectNotFound when missing)."""
        digest, size = hashlib.sha256(), 0
        for chunk in self._chunks(name):
            digest.update(chunk)
            size += len(chunk)
        return Written(name, size, digest.hexdigest())

    def delete(self, name: str) -> None:
        """Delete `name` (idempotent)."""
        self.store.delete(self._name(name))

    def names(self) -> list[str]:
        """Every file under the prefix, relative to it, in name order."""
        return [info.name[len(self.prefix) :] for info in self.store.list(self.prefix)]

    def delete_all(self) -> int:
        """Delete every file under the prefix (idempotent); how many there were."""
        names = [info.name for info in self.store.list(self.prefix)]
        for name in names:
            self.store.delete(name)
        return len(names)


def gzipped(chunks: Iterable[bytes], level: int = _GZIP_LEVEL) -> Iterator[bytes]:
    """A gzip member of `chunks`, streamed: holds one input chunk and zlib's window, never the whole."""
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    for chunk in chunks:
        out = packer.compress(chunk)
        if out:
            yield out
    yield packer.flush()


def gunzipped(chunks: Iterable[bytes], limit: int | None = None) -> Iterator[bytes]:
    """The bytes of one or more gzip members, streamed; ValueError when the data is not gzip, is cut short,
    or inflates past `limit` bytes (a decompression bomb)."""
    unpacker = zlib.decompressobj(31)
    started, produced = False, 0
    for chunk in chunks:
        while chunk:
            started = True
            try:
                out = unpacker.decompress(chunk, 1024 * 1024)
            except zlib.error as exc:
                raise ValueError(f"not gzip data: {exc}") from None
            produced += len(out)
            if limit is not None and produced > limit:
                raise ValueError(f"inflates past {limit} bytes")
            if out:
                yield out
            chunk = unpacker.unconsumed_tail
            if unpacker.eof:  # the next member, if any, starts in what is left
                chunk, unpacker, started = unpacker.unused_data + chunk, zlib.decompressobj(31), False
    if started:
        raise ValueError("gzip data is cut short")
