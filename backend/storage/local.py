"""Objects as files under one directory: written to a temp file, fsync'd, then renamed into place."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from backend.storage.base import READ_CHUNK, ObjectInfo, ObjectNotFound, StorageError, check_object_name

_TMP = ".tmp"  # object names never start with '.', so temp files cannot collide with objects


log = logging.getLogger("ftel.storage")


class LocalObjectStore:
    """ObjectStore on a local directory (the all-in-one default: `<data dir>/files`)."""

    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        try:
            (self.root / _TMP).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the file store at {self.root}: {exc.strerror or exc}") from exc

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*check_object_name(name).split("/"))

    def put(self, name: str, chunks: Iterable[bytes]) -> int:
        path = self._path(name)
        fd, tmp = tempfile.mkstemp(dir=self.root / _TMP, prefix="put-")
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return written

    def read(self, name: str) -> Iterator[bytes]:
        path = self._path(name)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise ObjectNotFound(name) from None
        except OSError as exc:
            raise StorageError(f"cannot read {name}: {exc.strerror or exc}") from exc
        return _chunks(handle)

    def stat(self, name: str) -> ObjectInfo | None:
        try:
            return ObjectInfo(name, self._path(name).stat().st_size)
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except FileNotFoundError:  # idempotent, but say so: a process on another data dir sees nothing here
            log.warning(
                "object %s is not in %s; nothing to delete (processes sharing the file catalog must share "
                "the file store: one FT_DATA_DIR/files, or FT_STORAGE=s3)",
                name,
                self.root,
            )
        except OSError as exc:
            raise StorageError(f"cannot delete {name}: {exc.strerror or exc}") from exc

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            if dirpath == str(self.root):
                dirnames[:] = [d for d in dirnames if d != _TMP]
            rel = os.path.relpath(dirpath, self.root)
            for filename in filenames:
                name = filename if rel == "." else f"{rel.replace(os.sep, '/')}/{filename}"
                if name.startswith(prefix):
                    found.append(name)
        for name in sorted(found):
            info = self.stat(name)
            if info is not None:
                yield info

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"file store {self.root} is not writable")

    def close(self) -> None:
        pass


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(READ_CHUNK):
            yield chunk


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
