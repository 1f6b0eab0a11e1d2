"""Restore a backup (backend/exports/backup.py) into the instance the settings name, on any backend.

Verify first, write after: the manifest's names are checked against the patterns a backup writes, every part
and object against its size and sha256 (parts are inflated completely, never past the size the manifest
gives: a decompression bomb is refused), and the schema revision against the target's. Only then are the
tables loaded, in one transaction, and the objects copied into the target store under its own naming; a
failure on the way rolls the tables back and deletes the objects written. The graph is rebuilt from the
restored event log (or, merging, catches up on the events added). docs/backup.md has the rules."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from backend.db.base import DumpRow, StatsStore, TableDump, TableLoader, TraceSummaries
from backend.domain.projector import Projector
from backend.errors import Conflict, FtelError, InvalidInput, ObjectNotFound, Unavailable
from backend.exports.artifacts import MANIFEST, Artifacts, gunzipped
from backend.exports.backup import FORMAT, LIVE_STATES, VERSION, object_name, part_name
from backend.settings import Compression
from backend.storage.base import ObjectStore, check_object_name
from backend.storage.codec import EXTENSION

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
REPLACED = ("accounts", "meta")  # an empty target's first-start rows, replaced by the backup's
MERGE_SKIPS = ("accounts", "meta", "subscriptions", "trace_summaries", "user_fills", "summary_cursor")
MERGED = ("events", "event_nodes", "stored_files", "retention_records")
_BATCH = 2_000

# (what, advance, total): what is "verify" (bytes), "rows", "objects" or "graph" (events)
OnProgress = Callable[[str, int, int], None]


class BadBackup(InvalidInput):
    """The backup is not one this instance can restore: cut short, altered, or of another schema."""


class TargetNotEmpty(Conflict):
    """The target holds data of its own: restore only into an empty instance, or merge."""


class GraphNotRebuilt(Unavailable):
    """The tables and files are restored, but the graph could not be rebuilt (its store failed on the way)."""


@dataclass
class RestoreReport:
    merged: bool
    tables: dict[str, int] = field(default_factory=dict)  # rows written per table
    objects: int = 0
    object_bytes: int = 0
    graph_events: int = 0  # events merged into the graph


@dataclass(frozen=True)
class _Part:
    table: str
    name: str
    rows: int
    bytes: int
    sha256: str
    inflated: int


@dataclass
class _Plan:
    parts: list[_Part]
    objects: dict[str, dict[str, Any]]  # uuid → {bytes, sha256}
    live: dict[str, tuple[str, str]] = field(default_factory=dict)  # uuid → (stored_at, codec) of live files


class Restore:
    def __init__(
        self,
        dump: TableDump,
        objects: ObjectStore | None,
        source: Artifacts,
        projector: Projector,
        summaries: TraceSummaries,
        stats: StatsStore,
        *,
        graph_batch: int = 1000,
    ) -> None:
        self.dump = dump
        self.objects = objects
        self.source = source
        self.projector = projector
        self.summaries = summaries
        self.stats = stats
        self.graph_batch = graph_batch

    def run(self, *, merge: bool = False, on_progress: OnProgress | None = None) -> RestoreReport:
        progress = on_progress or (lambda what, n, total: None)
        if not merge and (occupied := self.dump.occupied()):
            raise TargetNotEmpty(
                f"the target instance is not empty (it has {', '.join(occupied)}): restore into an empty one, "
                "or merge with --merge"
            )
        plan = self.verify(progress)
        report = RestoreReport(merged=merge)
        written: list[str] = []
        try:
            with self.dump.loading() as loader:
                if merge:
                    added = self._merge(loader, plan, report, progress)
                else:
                    added = self._load(loader, plan, report, progress)
                self._copy_objects(plan, added, written, report, progress)
        except BaseException:
            for name in written:
                assert self.objects is not None
                self.objects.delete(name)
            raise
        try:
            self._graph(merge, report, progress)
        except FtelError as exc:
            then = "its projector merges the events when the instance runs" if merge else "run `ftel graph rebuild`"
            raise GraphNotRebuilt(f"tables and files are restored, the graph is not ({exc.message}): {then}") from exc
        return report

    # -- verifying -----------------------------------------------------------------------------

    def verify(self, progress: OnProgress) -> _Plan:
        """Every check before anything is written; BadBackup naming the first part or object that fails."""
        try:
            manifest = self.source.get_json(MANIFEST)
        except ObjectNotFound:
            raise BadBackup("no manifest.json: not a backup, or one that did not finish") from None
        except InvalidInput as exc:
            raise BadBackup(f"manifest.json: {exc.message}") from None
        plan = self._plan(manifest)
        target = self.dump.revision()
        if manifest.get("revision") != target:
            raise BadBackup(
                f"the backup's schema revision {manifest.get('revision')!r} is not this instance's {target!r}: "
                "restore it with the ftel version that wrote it"
            )
        total = sum(p.bytes for p in plan.parts) + sum(int(o["bytes"]) for o in plan.objects.values())
        progress("verify", 0, total)
        for part in plan.parts:
            columns = set(self.dump.columns(part.table))
            for row in self._rows(part):
                if set(row) - columns:
                    raise BadBackup(f"{part.name}: unknown columns {sorted(set(row) - columns)}")
                if part.table == "stored_files" and row.get("state") in LIVE_STATES:
                    plan.live[str(row["uuid"])] = (str(row["stored_at"]), str(row["codec"]))
            progress("verify", part.bytes, total)
        missing = {str(u) for u in manifest.get("missing_objects", [])}
        for uuid, entry in plan.objects.items():
            if uuid not in plan.live:
                raise BadBackup(f"{object_name(uuid)}: no live stored file of the backup has this uuid")
            self._check_object(uuid, entry)
            progress("verify", int(entry["bytes"]), total)
        lost = set(plan.live) - set(plan.objects) - missing
        if lost:
            raise BadBackup(f"{len(lost)} stored files have no object in the backup (e.g. {sorted(lost)[0]})")
        for uuid, (stored_at, codec) in plan.live.items():
            self._target_name(uuid, stored_at, codec)  # a file row the target could not name is refused now
        return plan

    def _plan(self, manifest: Any) -> _Plan:
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BadBackup("manifest.json is not the manifest of an ftel backup")
        if manifest.get("version") != VERSION:
            raise BadBackup(f"backup format version {manifest.get('version')!r}; this ftel reads version {VERSION}")
        known = self.dump.tables()
        parts: list[_Part] = []
        try:
            names = [t["name"] for t in manifest["tables"]]
            if any(name not in known for name in names) or len(set(names)) != len(names):
                raise BadBackup(
                    f"manifest.json names tables this instance does not have: {sorted(set(names) - set(known))}"
                )
            for table in sorted(manifest["tables"], key=lambda t: known.index(t["name"])):
                for seq, p in enumerate(table["parts"]):
                    if p["name"] != part_name(table["name"], seq) or not _SHA256.match(str(p["sha256"])):
                        raise BadBackup(f"manifest.json: unexpected part {str(p['name'])[:100]!r}")
                    parts.append(
                        _Part(
                            table["name"], p["name"], int(p["rows"]), int(p["bytes"]), p["sha256"], int(p["inflated"])
                        )
                    )
                if sum(p.rows for p in parts if p.table == table["name"]) != int(table["rows"]):
                    raise BadBackup(f"manifest.json: the parts of {table['name']} do not add up to its rows")
            objects: dict[str, dict[str, Any]] = {}
            for o in manifest["objects"]:
                if not _UUID.match(str(o["uuid"])) or not _SHA256.match(str(o["sha256"])) or o["uuid"] in objects:
                    raise BadBackup(f"manifest.json: unexpected object {str(o['uuid'])[:100]!r}")
                objects[o["uuid"]] = {"bytes": int(o["bytes"]), "sha256": o["sha256"]}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadBackup(f"manifest.json is malformed: {type(exc).__name__} {exc}") from None
        return _Plan(parts, objects)

    def _hashed(self, name: str, size: int, sha256: str) -> Iterator[bytes]:
        """The bytes of `name`, checked: BadBackup when it is missing, of another size, or altered."""
        info = self.source.stat(name)
        if info is None:
            raise BadBackup(f"{name}: missing from the backup")
        if info.size != size:
            raise BadBackup(f"{name}: {info.size} bytes, the manifest says {size} (cut short or altered)")
        digest, seen = hashlib.sha256(), 0
        reader = self.source.read(name)
        try:
            for chunk in reader:
                digest.update(chunk)
                seen += len(chunk)
                yield chunk
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()
        if seen != size or digest.hexdigest() != sha256:
            raise BadBackup(f"{name}: sha256 differs from the manifest's (altered)")

    def _rows(self, part: _Part) -> Iterator[DumpRow]:
        """The rows of a part, checked as they are read: its bytes (size, sha256), its gzip (complete, inflating
        to exactly what the manifest says, never past it) and its lines (JSON objects, as many as listed)."""
        raw = self._hashed(part.name, part.bytes, part.sha256)
        rows = inflated = 0
        try:
            for line in _lines(gunzipped(raw, part.inflated)):
                inflated += len(line) + 1
                row = orjson.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("a line is not a JSON object")
                rows += 1
                yield row
        except (ValueError, orjson.JSONDecodeError) as exc:
            for _ in raw:  # an altered part is reported as altered, not by the symptom
                pass
            raise BadBackup(f"{part.name}: {exc}") from None
        if rows != part.rows or inflated != part.inflated:
            raise BadBackup(
                f"{part.name}: {rows} rows, {inflated} bytes inflated; the manifest says {part.rows}, {part.inflated}"
            )

    def _check_object(self, uuid: str, entry: dict[str, Any]) -> None:
        for _ in self._hashed(object_name(uuid), int(entry["bytes"]), str(entry["sha256"])):
            pass

    def _target_name(self, uuid: str, stored_at: str, codec: str) -> str:
        try:
            when = datetime.fromisoformat(stored_at)
            return check_object_name(f"{when:%Y/%m/%d}/{uuid}{EXTENSION[Compression(codec)]}")
        except (ValueError, KeyError):
            raise BadBackup(
                f"stored file {uuid}: stored_at {stored_at[:40]!r} or codec {codec[:20]!r} unusable"
            ) from None

    # -- writing -------------------------------------------------------------------------------

    def _batches(self, plan: _Plan, table: str) -> Iterator[list[DumpRow]]:
        batch: list[DumpRow] = []
        for part in plan.parts:
            if part.table != table:
                continue
            for row in self._rows(part):
                batch.append(self._rewritten(table, row))
                if len(batch) >= _BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _rewritten(self, table: str, row: DumpRow) -> DumpRow:
        """A file's object under the target's backend and naming; events to be merged into the new graph."""
        if table == "stored_files" and self.objects is not None:
            name = self._target_name(str(row["uuid"]), str(row["stored_at"]), str(row["codec"]))
            return {**row, "backend": self.objects.backend, "object_name": name}
        if table == "events":
            return {**row, "projected": False}
        return row

    def _load(self, loader: TableLoader, plan: _Plan, report: RestoreReport, progress: OnProgress) -> set[str]:
        tables = [t for t in self.dump.tables() if any(p.table == t for p in plan.parts)]
        loader.clear(tables)  # only first-start rows can be there (accounts, meta): the target was found empty
        total = sum(p.rows for p in plan.parts)
        progress("rows", 0, total)
        for table in tables:
            for batch in self._batches(plan, table):
                loader.load(table, batch)
                report.tables[table] = report.tables.get(table, 0) + len(batch)
                progress("rows", len(batch), total)
        return set(plan.live)

    def _merge(self, loader: TableLoader, plan: _Plan, report: RestoreReport, progress: OnProgress) -> set[str]:
        total = sum(p.rows for p in plan.parts if p.table in MERGED)
        progress("rows", 0, total)
        events: dict[int, int] = {}
        files: dict[int, int] = {}
        added: set[str] = set()
        counts = dict.fromkeys(MERGED, 0)
        owners = self._owners(loader, plan)
        for table in MERGED:
            for batch in self._batches(plan, table):
                if table in ("events", "stored_files"):
                    batch = [{**r, "account_id": owners.get(_int(r.get("account_id")))} for r in batch]
                if table == "events":
                    new = loader.merge_events(batch)
                    events.update(new)
                    counts[table] += len(new)
                elif table == "event_nodes":
                    counts[table] += loader.merge_event_nodes(batch, events)
                elif table == "stored_files":
                    new = loader.merge_files(batch)
                    files.update(new)
                    counts[table] += len(new)
                    added.update(str(r["uuid"]) for r in batch if int(str(r["id"])) in new)
                else:
                    counts[table] += loader.merge_retention(batch, files)
                progress("rows", len(batch), total)
        report.tables = counts
        return added & set(plan.live)

    def _owners(self, loader: TableLoader, plan: _Plan) -> dict[int | None, int]:
        """The backup's account ids → the target's, for the accounts both have (the same uuid); what the others
        sent is merged without an owner rather than charged to whichever target account has the same id."""
        uuids = {_int(r["id"]): str(r["uuid"]) for batch in self._batches(plan, "accounts") for r in batch}
        target = loader.account_ids(sorted(uuids.values()))
        return {old: target[uuid] for old, uuid in uuids.items() if uuid in target}

    def _copy_objects(
        self, plan: _Plan, uuids: set[str], written: list[str], report: RestoreReport, progress: OnProgress
    ) -> None:
        todo = sorted(uuids & set(plan.objects))
        progress("objects", 0, len(todo))
        if todo and self.objects is None:
            raise BadBackup("the backup holds stored files but this instance has no object store")
        for uuid in todo:
            assert self.objects is not None
            entry = plan.objects[uuid]
            name = self._target_name(uuid, *plan.live[uuid])
            size = self.objects.put(name, self._hashed(object_name(uuid), int(entry["bytes"]), str(entry["sha256"])))
            written.append(name)
            report.objects += 1
            report.object_bytes += size
            progress("objects", 1, len(todo))

    def _graph(self, merge: bool, report: RestoreReport, progress: OnProgress) -> None:
        """The graph from the restored log: rebuilt (a restore), or caught up on the events added (a merge,
        with the rollups counted again)."""
        if merge:
            self.stats.reset()
            total = report.tables.get("events", 0)
        else:
            total = self.projector.start_rebuild()
        progress("graph", 0, total)
        while done := self.projector.project_pending(self.graph_batch):
            report.graph_events += done
            progress("graph", done, total)
        if not merge:
            self.summaries.refill_all()


def _int(value: object) -> int | None:
    return None if value is None else int(str(value))


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The NDJSON lines of inflated chunks (each ends with a newline; anything after the last one is an error)."""
    carry = b""
    for chunk in chunks:
        carry += chunk
        *lines, carry = carry.split(b"\n")
        yield from lines
    if carry:
        raise ValueError("the last line is cut short")
