"""Use cases of file storage: upload (streamed), metadata, content, group and daily archives.

An upload pulls the original bytes chunk by chunk, hashes and compresses them on the way into the
object store, records the file, then emits `file.stored` into the lineage. Memory stays flat
whatever the size. Whatever fails after the object was written (a bad field that came after the
file, a taken key) deletes the object again.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from backend.db.base import FileCatalog, StoredFileRow
from backend.domain.events import format_time
from backend.domain.ids import KEY_PATTERN, check_key, new_key, uuid7
from backend.domain.ingest import Ingest
from backend.errors import (
    Conflict,
    CorruptFile,
    FtelError,
    InvalidInput,
    NotFound,
    ObjectNotFound,
    PayloadTooLarge,
    StorageError,
    Unavailable,
    Unprocessable,
)
from backend.settings import Settings
from backend.storage.archive import Member, tar_gz
from backend.storage.base import ObjectStore
from backend.storage.codec import EXTENSION, CorruptObject, Encoder, TooLarge, decode

log = logging.getLogger("ftel.files")

CHANNEL = "service:files"
RESERVED_KEYS = {"archive"}  # GET /files/archive is the daily archive, so no file may be called that
RESERVED_PREFIX = "groups/"  # GET /files/groups/{group}/archive is a group's archive
# check_file_key's rule for the OpenAPI schema: no '\\', no '.' or '..' path segment, no leading '/'
FILE_KEY_PATTERN = "^(?!/)(?!(.*/)?\\.\\.?(/|$))" + KEY_PATTERN.replace("[^", "[^\\\\", 1)[1:]
# check_file_name's rule: a storage group is a name in archives and listings, so no '/' either
FILE_NAME_PATTERN = "^(?!\\.$)(?!.*\\.\\.)" + KEY_PATTERN.replace("[^", "[^/\\\\", 1)[1:]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def check_file_key(value: str) -> str:
    """A stored file's key is its lineage key (S3-style paths such as `landing/partner-a/orders.csv` included)
    and its member name in archives: on top of the lineage key rules, no '\\', no leading '/' and no '.' or
    '..' path segment, so that an archive unpacks inside its own folder. Raises InvalidInput (400)."""
    try:
        check_key(value)
    except ValueError as exc:
        raise InvalidInput(f"key: {exc}", {"key": value[:80]}) from None
    if "\\" in value or value.startswith("/"):
        raise InvalidInput("key may not contain '\\' or start with '/'", {"key": value[:80]})
    if any(part in (".", "..") for part in value.split("/")):
        raise InvalidInput("key may not have a '.' or '..' path segment", {"key": value[:80]})
    return value


def check_file_name(value: str, what: str = "key") -> str:
    """A file key or group is also a file name (in archives, in object listings): on top of the
    lineage key rules, no path separators and no '..'. Raises InvalidInput (400)."""
    try:
        check_key(value)
    except ValueError as exc:
        raise InvalidInput(f"{what}: {exc}", {what: value[:80]}) from None
    if "/" in value or "\\" in value:
        raise InvalidInput(f"{what} may not contain path separators ('/' or '\\')", {what: value[:80]})
    if ".." in value or value == ".":
        raise InvalidInput(f"{what} may not be '.' or contain '..'", {what: value[:80]})
    return value


def _check_trace(value: str) -> str:
    try:
        return check_key(value)
    except ValueError as exc:
        raise InvalidInput(f"trace: {exc}", {"trace": value[:80]}) from None


class UploadSource(Protocol):
    """Where an upload comes from (a multipart body, a gRPC stream): fields known before the content,
    the content itself, then every field (a multipart body may put some after the file)."""

    filename: str | None
    content_type: str | None

    def fields_before_file(self) -> dict[str, str]: ...

    def file_chunks(self) -> Iterator[bytes]: ...

    def all_fields(self) -> dict[str, str]: ...


def _check_fields(fields: dict[str, str], *, complete: bool) -> dict[str, str]:
    """Validate whichever of trace/key/group are present; when complete, fill the defaults."""
    out: dict[str, str] = {}
    if fields.get("trace"):
        out["trace"] = _check_trace(fields["trace"])
    elif complete:
        raise Unprocessable("form field `trace` is required: the trace this file belongs to")
    if fields.get("key"):
        out["key"] = check_file_key(fields["key"])
        if out["key"] in RESERVED_KEYS or out["key"].startswith(RESERVED_PREFIX):
            raise InvalidInput(f"key {out['key']!r} is reserved", {"key": out["key"]})
    if fields.get("group"):
        out["group"] = check_file_name(fields["group"], "group")
    return out


def _public_name(filename: str | None) -> str | None:
    """The client's file name, kept for display only: its last path segment, printable, bounded."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ord(ch) >= 32 and ord(ch) != 127)[:512]
    return base or None


def file_json(f: StoredFileRow) -> dict[str, Any]:
    """The public shape of a stored file (upload answer and GET /files/{key})."""
    return {
        "key": f.key,
        "group": f.group_key,
        "trace": f.trace_key,
        "size": f.size,
        "stored_size": f.stored_size,
        "codec": f.codec,
        "sha256": f.sha256,
        "filename": f.filename,
        "content_type": f.content_type,
        "stored_at": format_time(f.stored_at),
        "backend": f.backend,
        "state": f.state,
        "marked_at": format_time(f.marked_at) if f.marked_at else None,
        "marked_rule": f.marked_rule,
        "expired_at": format_time(f.expired_at) if f.expired_at else None,
    }


def _stored_event(f: StoredFileRow) -> dict[str, Any]:
    return {
        "id": str(f.uuid),
        "type": "file.stored",
        "trace": f.trace_key,
        "time": format_time(f.stored_at),
        "node": {"kind": "file", "key": f.key, **({"name": f.filename} if f.filename else {})},
        "attrs": {
            "group": f.group_key,
            "size": f.size,
            "stored_size": f.stored_size,
            "codec": f.codec,
            "sha256": f.sha256,
            "backend": f.backend,
        },
    }


@dataclass(frozen=True)
class Content:
    """An open file, ready to stream: `chunks` yields the original bytes (it must be exhausted or closed)."""

    file: StoredFileRow
    chunks: Iterator[bytes]


class Files:
    """The file use cases over the catalog, the object store and the ingest pipeline (for `file.stored`).
    `clock` is the time of uploads (tests move it)."""

    def __init__(
        self,
        catalog: FileCatalog,
        store: ObjectStore,
        ingest: Ingest,
        settings: Settings,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.ingest = ingest
        self.settings = settings
        self.clock = clock

    def upload(self, source: UploadSource, account_id: int | None) -> dict[str, Any]:
        """Stream one file into storage, record it and emit `file.stored`; returns file_json."""
        early = _check_fields(source.fields_before_file(), complete=False)
        if "key" in early and self.catalog.key_taken(early["key"]):
            raise _key_taken(early["key"])
        settings = self.settings
        stored_at = self.clock()
        file_uuid = str(uuid7())
        codec = settings.compression
        object_name = f"{stored_at:%Y/%m/%d}/{file_uuid}{EXTENSION[codec]}"
        encoder = Encoder(codec, settings.compression_level, settings.max_upload_bytes)
        written = False
        try:
            try:
                stored_size = self.store.put(object_name, encoder.encode(source.file_chunks()))
            except TooLarge as exc:
                raise PayloadTooLarge(str(exc), {"limit": exc.limit}) from None
            written = True
            fields = _check_fields(source.all_fields(), complete=True)
            row = self.catalog.insert(
                StoredFileRow(
                    uuid=file_uuid,
                    key=fields.get("key") or new_key(),
                    trace_key=fields["trace"],
                    group_key=fields.get("group") or new_key(),
                    filename=_public_name(source.filename),
                    content_type=(source.content_type or None) and source.content_type[:200],
                    backend=self.store.backend,
                    object_name=object_name,
                    codec=codec.value,
                    size=encoder.size,
                    stored_size=stored_size,
                    sha256=encoder.sha256,
                    account_id=account_id,
                    stored_at=stored_at,
                )
            )
        except StorageError as exc:
            self._discard(object_name, written)
            raise Unavailable(f"file storage unavailable: {exc}") from None
        except BaseException:
            self._discard(object_name, written)
            raise
        self.ingest.admit([_stored_event(row)], CHANNEL, account_id)
        return file_json(row)

    def _discard(self, name: str, written: bool) -> None:
        if not written:
            return  # a failed put leaves nothing behind (ObjectStore guarantee)
        try:
            self.store.delete(name)
        except StorageError as exc:
            log.warning("could not delete the object of a failed upload %s: %s", name, exc)

    # -- reading -------------------------------------------------------------------------------

    def metadata(self, key: str) -> dict[str, Any]:
        return file_json(self._known(key))

    def _known(self, key: str) -> StoredFileRow:
        check_file_key(key)
        f = self.catalog.by_key(key)
        if f is None:
            raise NotFound(f"no stored file {key!r}")
        return f

    def content(self, key: str) -> Content:
        """Open a stored file for download; NotFound when unknown or expired by retention. The first
        chunk is decoded here, so a damaged object fails with an error answer, not a broken stream."""
        f = self._known(key)
        if f.state == "expired":
            raise NotFound(
                f"file {key!r} was deleted by retention ({f.marked_rule}) at {format_time(f.expired_at or f.stored_at)}",
                {"state": "expired", "rule": f.marked_rule},
            )
        chunks = self._decoded(f)
        try:
            first = next(chunks, None)
        except CorruptObject as exc:
            raise CorruptFile(f"stored file {key!r} is damaged: {exc}") from None
        return Content(f, chunks if first is None else itertools.chain([first], chunks))

    def _decoded(self, f: StoredFileRow) -> Iterator[bytes]:
        """The original bytes of a file; the object is opened now (so a missing one fails before any
        response is started) and decoded as it is read."""
        try:
            raw = self.store.read(f.object_name)
        except ObjectNotFound:
            raise NotFound(f"the stored bytes of {f.key!r} are missing from the {f.backend} store") from None
        except StorageError as exc:
            raise Unavailable(f"file storage unavailable: {exc}") from None
        return _guarded(decode(raw, f.codec, f.size), f.key, raw)

    def _members(self, files: Iterator[StoredFileRow]) -> Iterator[Member]:
        for f in files:
            compressible = (
                f.size < 4096 or f.stored_size < 0.9 * f.size
            )  # hardly shrank when stored: level 0 in the archive
            yield Member(
                name=f.key, size=f.size, mtime=f.stored_at, content=self._archive_content(f), compressible=compressible
            )

    def _archive_content(self, f: StoredFileRow) -> Callable[[], Iterator[bytes]]:
        def content() -> Iterator[bytes]:
            try:
                return self._decoded(f)
            except FtelError as exc:  # mid-archive there is no status code left to send: stop the stream
                raise ValueError(f"archive stopped at {f.key!r}: {exc.message}") from None

        return content

    def group_archive(self, group: str) -> Iterator[bytes]:
        """tar.gz of a group's files still held; NotFound for a group that never had a file."""
        check_file_name(group, "group")
        if not self.catalog.group_exists(group):
            raise NotFound(f"no storage group {group!r}")
        return tar_gz(self._members(self.catalog.in_group(group)))

    def daily_archive(self, day: date) -> Iterator[bytes]:
        """tar.gz of the files stored on one UTC day and still held (an empty archive when none)."""
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return tar_gz(self._members(self.catalog.of_day(start)))


def _key_taken(key: str) -> FtelError:
    return Conflict(f"file key {key!r} is already taken", {"key": key})


def _guarded(chunks: Iterator[bytes], key: str, raw: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from chunks
    except CorruptObject as exc:
        log.error("refusing to serve %s: %s", key, exc)
        raise
    finally:
        close = getattr(raw, "close", None)
        if close is not None:
            close()
