"""Retention: keep each backend's stored files under a total size, a file count and an age.

A run has two steps. **Mark**: walking the unmarked files of the backend oldest first, a file is
marked when it is older than the age limit (rule `max_age`), else while the files left are more than
the count limit (`max_files`), else while their stored bytes are over the size limit (`max_bytes`).
**Sweep**: a file marked at least the grace period ago gets its `file.expired` event (the node keeps
status `expired` in the lineage), then its object is deleted and its retention record written in one
SQL transaction. Marked files stay downloadable until swept.

Runs are safe to overlap (the server's schedule and `ftel retention run`): marking and sweeping
claim rows with conditional updates, and the expired event has a fixed id, so it is stored once.
A crash anywhere leaves the file marked and the next run finishes it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.db.base import FileCatalog, LiveTotals, Mark, RetentionRow, StoredFileRow
from backend.domain.events import format_time
from backend.domain.files import CHANNEL
from backend.domain.ingest import Ingest
from backend.errors import StorageError
from backend.settings import Settings
from backend.storage.base import ObjectStore

log = logging.getLogger("ftel.retention")

RULES = ("max_age", "max_files", "max_bytes")
_SWEEP_PAGE = 200


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 0  # 0: no limit
    max_files: int = 0
    max_age_days: float = 0
    grace_seconds: float = 0

    @property
    def active(self) -> bool:
        return bool(self.max_bytes or self.max_files or self.max_age_days)


@dataclass(frozen=True)
class Deletion:
    """A file retention deletes (or, on a dry run, would delete) and why."""

    key: str
    group: str
    trace: str
    rule: str
    bytes: int
    size: int
    stored_at: datetime
    marked_at: datetime
    delete_after: datetime  # marked_at + grace

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "group": self.group,
            "trace": self.trace,
            "rule": self.rule,
            "bytes": self.bytes,
            "size": self.size,
            "stored_at": format_time(self.stored_at),
            "marked_at": format_time(self.marked_at),
            "delete_after": format_time(self.delete_after),
        }


@dataclass
class RetentionReport:
    backend: str
    dry_run: bool
    now: datetime
    marked: list[Deletion] = field(default_factory=list)  # newly marked by this run
    deleted: list[Deletion] = field(default_factory=list)  # deleted by this run (on a dry run: due now)
    waiting: list[Deletion] = field(default_factory=list)  # marked, grace period not over
    failed: list[str] = field(default_factory=list)  # keys whose object could not be deleted

    def as_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "dry_run": self.dry_run,
            "now": format_time(self.now),
            "marked": [d.as_json() for d in self.marked],
            "deleted": [d.as_json() for d in self.deleted],
            "waiting": [d.as_json() for d in self.waiting],
            "failed": self.failed,
        }


def limits_of(settings: Settings) -> Limits:
    s = settings
    return Limits(s.retention_max_bytes, s.retention_max_files, s.retention_max_age_days, s.retention_grace_seconds)


def _deletion(f: StoredFileRow, rule: str, marked_at: datetime, grace: timedelta) -> Deletion:
    return Deletion(
        key=f.key,
        group=f.group_key,
        trace=f.trace_key,
        rule=rule,
        bytes=f.stored_size,
        size=f.size,
        stored_at=f.stored_at,
        marked_at=marked_at,
        delete_after=marked_at + grace,
    )


def planner(limits: Limits, now: datetime) -> Callable[[LiveTotals, Iterator[StoredFileRow]], list[Mark]]:
    """The mark step: walking the unmarked files oldest first, the first rule that applies to each."""

    def plan(totals: LiveTotals, oldest_first: Iterator[StoredFileRow]) -> list[Mark]:
        if not limits.active:
            return []
        files, stored = totals.files, totals.stored_bytes
        cutoff = now - timedelta(days=limits.max_age_days) if limits.max_age_days else None
        marks: list[Mark] = []
        for f in oldest_first:
            if cutoff is not None and f.stored_at < cutoff:
                rule = "max_age"
            elif limits.max_files and files > limits.max_files:
                rule = "max_files"
            elif limits.max_bytes and stored > limits.max_bytes:
                rule = "max_bytes"
            else:
                break  # files come oldest first: no later one is older, and the totals now fit
            marks.append((f, rule))
            files -= 1
            stored -= f.stored_size
        return marks

    return plan


def expired_event(f: StoredFileRow, now: datetime) -> dict[str, Any]:
    """`file.expired` with an id fixed by the file, so overlapping or repeated sweeps store it once."""
    return {
        "id": str(uuid.uuid5(uuid.UUID(f.uuid), "file.expired")),
        "type": "file.expired",
        "trace": f.trace_key,
        "time": format_time(now),
        "node": {"kind": "file", "key": f.key},
        "reason": f"retention: {f.marked_rule}",
        "code": f.marked_rule,
        "attrs": {"group": f.group_key, "bytes": f.stored_size, "size": f.size, "backend": f.backend},
    }


def record_json(r: RetentionRow) -> dict[str, Any]:
    return {
        "id": r.uuid,
        "key": r.file_key,
        "group": r.group_key,
        "trace": r.trace_key,
        "backend": r.backend,
        "rule": r.rule,
        "bytes": r.bytes,
        "size": r.size,
        "stored_at": format_time(r.stored_at),
        "marked_at": format_time(r.marked_at),
        "deleted_at": format_time(r.deleted_at),
    }


class Retention:
    """Retention of the process's object store. `clock` is "now" for a run (tests move it)."""

    def __init__(
        self,
        catalog: FileCatalog,
        store: ObjectStore,
        ingest: Ingest,
        settings: Settings,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.ingest = ingest
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))

    def run(
        self,
        *,
        dry_run: bool = False,
        now: datetime | None = None,
        limits: Limits | None = None,
        on_delete: Callable[[Deletion], None] | None = None,
    ) -> RetentionReport:
        """One retention run: mark, then sweep what is due. A dry run changes nothing and reports what a
        real run at `now` would mark and delete."""
        now = now or self.clock()
        limits = limits or limits_of(self.settings)
        grace = timedelta(seconds=limits.grace_seconds)
        backend = self.store.backend
        report = RetentionReport(backend=backend, dry_run=dry_run, now=now)
        marks = self.catalog.plan_marks(backend, planner(limits, now), now, apply=not dry_run)
        report.marked = [_deletion(f, rule, now, grace) for f, rule in marks]
        if dry_run:
            for f in self.catalog.marked(backend):
                d = _deletion(f, f.marked_rule or "unknown", f.marked_at or now, grace)
                (report.deleted if d.delete_after <= now else report.waiting).append(d)
            report.deleted += [d for d in report.marked if d.delete_after <= now]
            return report

        after: tuple[datetime, int] | None = None
        while due := self.catalog.marked(backend, now - grace, _SWEEP_PAGE, after):
            after = (due[-1].stored_at, due[-1].id or 0)
            self.ingest.admit([expired_event(f, now) for f in due], CHANNEL, None)
            for f in due:
                try:
                    record = self.catalog.expire(f, now, self.store.delete)
                except StorageError as exc:
                    log.warning("retention: could not delete %s (stays marked, retried next run): %s", f.key, exc)
                    report.failed.append(f.key)
                    continue
                if record is None:
                    continue  # another run swept it
                d = _deletion(f, record.rule, f.marked_at or now, grace)
                report.deleted.append(d)
                if on_delete is not None:
                    on_delete(d)
        report.waiting = [
            _deletion(f, f.marked_rule or "unknown", f.marked_at or now, grace) for f in self.catalog.marked(backend)
        ]
        if report.deleted or report.marked:
            log.info(
                "retention on %s: marked %d, deleted %d (%d bytes), waiting %d",
                backend,
                len(report.marked),
                len(report.deleted),
                sum(d.bytes for d in report.deleted),
                len(report.waiting),
            )
        return report

    def records(self, limit: int, before_id: int | None, key: str | None, rule: str | None) -> list[RetentionRow]:
        """What retention deleted, newest first; page with `before_id`."""
        return self.catalog.retention_records(limit, before_id, key, rule)
