"""A full backup: every SQL table as gzip'd NDJSON parts (keyset pages from one snapshot, so memory stays flat),
the stored bytes of every stored file, and `manifest.json` listing each part and object with its size and
sha256. The lineage graph is not in it: it is a projection of the event log, rebuilt from it on restore.

Resumable: `progress.json` records each part and object once it is written; a run started again on the same
place keeps those whose bytes still hash to what was recorded and writes the rest. The manifest is written
last, so a place without one holds no backup (docs/backup.md)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from backend import failpoints
from backend.db.base import DumpKey, DumpRow, TableDump, TableReader
from backend.errors import Conflict, ObjectNotFound
from backend.exports.artifacts import MANIFEST, Artifacts, Written, gzipped
from backend.storage.base import ObjectStore

log = logging.getLogger("ftel.backup")

FORMAT = "ftel-backup"
VERSION = 1
PROGRESS = "progress.json"
LIVE_STATES = ("stored", "marked")  # files whose object is still in the store
GRAPH_NOTE = "not included: the lineage graph is rebuilt from the event log on restore"

# (what, advance, total): what is "rows" or "objects"; the total is known from the first call on
OnProgress = Callable[[str, int, int], None]


def part_name(table: str, seq: int) -> str:
    return f"tables/{table}/{seq:06d}.ndjson.gz"


def object_name(uuid: str) -> str:
    return f"objects/{uuid}"


@dataclass
class BackupReport:
    tables: dict[str, int] = field(default_factory=dict)  # rows per table
    objects: int = 0
    missing: list[str] = field(default_factory=list)  # live files whose object was gone when copied
    bytes: int = 0  # of parts and objects, as written
    kept: int = 0  # parts and objects a previous run had written and that still checked out
    manifest: dict[str, Any] = field(default_factory=dict)


class Backup:
    """Writes one backup of `dump` and `objects` into `out`."""

    def __init__(
        self,
        dump: TableDump,
        objects: ObjectStore | None,
        out: Artifacts,
        source: dict[str, str],
        *,
        part_rows: int = 100_000,
        page_rows: int = 2_000,
    ) -> None:
        self.dump = dump
        self.objects = objects
        self.out = out
        self.source = source
        self.part_rows = part_rows
        self.page_rows = page_rows

    def run(self, on_progress: OnProgress | None = None) -> BackupReport:
        """Conflict when `out` already holds a finished backup."""
        if self.out.stat(MANIFEST) is not None:
            raise Conflict("this place already holds a finished backup (manifest.json): choose another")
        progress = on_progress or (lambda what, n, total: None)
        revision = self.dump.revision()
        state = self._resume(revision)
        report = BackupReport()
        with self.dump.snapshot() as reader:
            tables = self.dump.tables()
            counts = {t: reader.count(t) for t in tables}
            total_rows = sum(counts.values())
            progress("rows", 0, total_rows)
            manifest_tables = []
            for table in tables:
                parts = self._table(reader, table, state, report, lambda n: progress("rows", n, total_rows))
                report.tables[table] = sum(p["rows"] for p in parts)
                manifest_tables.append({"name": table, "rows": report.tables[table], "parts": parts})
            objects = self._objects(reader, state, report, progress)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "revision": revision,
            "source": self.source,
            "graph": GRAPH_NOTE,
            "tables": manifest_tables,
            "objects": objects,
            "missing_objects": report.missing,
        }
        self.out.put_json(MANIFEST, manifest)
        self.out.delete(PROGRESS)
        report.manifest = manifest
        return report

    # -- resuming --------------------------------------------------------------------------------

    def _resume(self, revision: str | None) -> dict[str, Any]:
        """What a previous run recorded, when it was of the same schema revision."""
        empty: dict[str, Any] = {"revision": revision, "parts": {}, "objects": {}}
        if self.out.stat(PROGRESS) is None:
            return empty
        try:
            state = self.out.get_json(PROGRESS)
        except Exception:
            log.warning("progress.json unreadable: starting over")
            return empty
        if not isinstance(state, dict) or state.get("revision") != revision:
            return empty
        state.setdefault("parts", {})
        state.setdefault("objects", {})
        return state

    def _save(self, state: dict[str, Any]) -> None:
        self.out.put_json(PROGRESS, state)

    def _checks_out(self, name: str, recorded: dict[str, Any]) -> bool:
        info = self.out.stat(name)
        if info is None or info.size != recorded.get("bytes"):
            return False
        try:
            written = self.out.digest(name)
        except ObjectNotFound:
            return False
        return written.sha256 == recorded.get("sha256")

    # -- tables --------------------------------------------------------------------------------

    def _table(
        self,
        reader: TableReader,
        table: str,
        state: dict[str, Any],
        report: BackupReport,
        advance: Callable[[int], None],
    ) -> list[dict[str, Any]]:
        recorded: list[dict[str, Any]] = state["parts"].get(table, [])
        parts: list[dict[str, Any]] = []
        for part in recorded:  # keep the leading run of parts that still check out
            if part.get("name") != part_name(table, len(parts)) or not self._checks_out(part["name"], part):
                break
            parts.append(part)
            report.kept += 1
            report.bytes += part["bytes"]
            advance(part["rows"])
        state["parts"][table] = parts
        after: DumpKey | None = tuple(parts[-1]["last"]) if parts else None
        while True:
            first = reader.rows(table, after, min(self.page_rows, self.part_rows))
            if not first:
                return [{k: p[k] for k in ("name", "rows", "bytes", "sha256", "inflated")} for p in parts]
            cursor = _Cursor(reader, table, first, self.part_rows, self.page_rows, advance)
            written = self.out.put(part_name(table, len(parts)), gzipped(cursor.lines()))
            parts.append(_part(written, cursor))
            report.bytes += written.bytes
            after = cursor.last
            self._save(state)
            failpoints.hit("backup.part")

    # -- objects -------------------------------------------------------------------------------

    def _objects(
        self, reader: TableReader, state: dict[str, Any], report: BackupReport, progress: OnProgress
    ) -> list[dict[str, Any]]:
        live = list(self._live_files(reader))
        progress("objects", 0, len(live))
        done: dict[str, dict[str, Any]] = state["objects"]
        listed: list[dict[str, Any]] = []
        saved_at = time.monotonic()
        for uuid, source_name in live:
            name = object_name(uuid)
            entry = done.get(uuid)
            if entry is not None and self._checks_out(name, entry):
                report.kept += 1
            else:
                try:
                    written = self._copy(name, source_name)
                except ObjectNotFound:
                    log.warning(
                        "file %s: object %s is gone from the store (retention?); not in the backup", uuid, source_name
                    )
                    report.missing.append(uuid)
                    progress("objects", 1, len(live))
                    continue
                entry = done[uuid] = {"uuid": uuid, "bytes": written.bytes, "sha256": written.sha256}
                if time.monotonic() - saved_at > 2:
                    self._save(state)
                    saved_at = time.monotonic()
            listed.append(entry)
            report.objects += 1
            report.bytes += entry["bytes"]
            progress("objects", 1, len(live))
        self._save(state)
        return listed

    def _live_files(self, reader: TableReader) -> Iterator[tuple[str, str]]:
        """(uuid, object name) of each stored or marked file, from the snapshot."""
        after: DumpKey | None = None
        while page := reader.rows("stored_files", after, self.page_rows):
            for row in page:
                if row["state"] in LIVE_STATES:
                    yield str(row["uuid"]), str(row["object_name"])
            after = reader.key("stored_files", page[-1])

    def _copy(self, name: str, source_name: str) -> Written:
        assert self.objects is not None, "a backup of stored files needs the object store"
        return self.out.put(name, self.objects.read(source_name))


class _Cursor:
    """The NDJSON lines of one part, pulled page by page as the part is written."""

    def __init__(
        self,
        reader: TableReader,
        table: str,
        first: list[DumpRow],
        part_rows: int,
        page_rows: int,
        advance: Callable[[int], None],
    ) -> None:
        self.reader, self.table, self.first = reader, table, first
        self.part_rows, self.page_rows, self.advance = part_rows, page_rows, advance
        self.rows = 0
        self.inflated = 0
        self.last: DumpKey | None = None

    def lines(self) -> Iterator[bytes]:
        page = self.first
        while page:
            data = b"".join(orjson.dumps(row) + b"\n" for row in page)
            self.rows += len(page)
            self.inflated += len(data)
            self.last = self.reader.key(self.table, page[-1])
            self.advance(len(page))
            yield data
            room = self.part_rows - self.rows
            if room <= 0:
                return
            page = self.reader.rows(self.table, self.last, min(self.page_rows, room))


def _part(written: Written, cursor: _Cursor) -> dict[str, Any]:
    return {
        "name": written.name,
        "rows": cursor.rows,
        "bytes": written.bytes,
        "sha256": written.sha256,
        "inflated": cursor.inflated,
        "last": list(cursor.last or ()),
    }
