"""Backups a serving process writes into its own object store (`backups/<id>/`), started by an admin over HTTP:
the work runs on a thread of its own, never in the request, and its state is kept beside the backup
(`backups/<id>/status.json`), so every replica answers for it and it outlives the process that wrote it."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from uuid_utils import uuid7

from backend.errors import Conflict, NotFound, ObjectNotFound
from backend.exports.artifacts import Artifacts
from backend.exports.backup import Backup
from backend.storage.base import ObjectStore

log = logging.getLogger("ftel.backup")

PREFIX = "backups"
STATUS = "status.json"
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def backup_prefix(backup_id: str) -> str:
    """Where backup `backup_id` lives in the object store; NotFound for anything but a backup id."""
    if not _ID.match(backup_id):
        raise NotFound(f"no backup {backup_id[:80]!r}")
    return f"{PREFIX}/{backup_id}"


class Backups:
    """Start a backup into the store and tell how it goes. One at a time per process."""

    def __init__(self, store: ObjectStore, make: Callable[[Artifacts], Backup]) -> None:
        self.store = store
        self.make = make
        self._lock = threading.Lock()
        self._running: str | None = None

    def start(self) -> str:
        """The new backup's id, at once; Conflict while this process writes another."""
        backup_id = str(uuid7())
        out = Artifacts(self.store, backup_prefix(backup_id))
        with self._lock:
            if self._running is not None:
                raise Conflict(f"backup {self._running} is still running", {"id": self._running})
            self._running = backup_id
        try:
            self._status(out, {"id": backup_id, "status": "running", "started_at": _now()})
            thread = threading.Thread(target=self._run, args=(backup_id, out), name="ftel-backup", daemon=True)
            thread.start()
        except BaseException:
            with self._lock:
                self._running = None
            raise
        return backup_id

    def status(self, backup_id: str) -> dict[str, Any]:
        """{id, status (running|done|failed), started_at, finished_at, tables, rows, objects, bytes, error}."""
        out = Artifacts(self.store, backup_prefix(backup_id))
        try:
            state: dict[str, Any] = out.get_json(STATUS)
        except ObjectNotFound:
            raise NotFound(f"no backup {backup_id!r}") from None
        return state

    def _run(self, backup_id: str, out: Artifacts) -> None:
        state: dict[str, Any] = {"id": backup_id, "status": "running", "started_at": _now()}
        try:
            report = self.make(out).run()
            state.update(
                status="done",
                tables=report.tables,
                rows=sum(report.tables.values()),
                objects=report.objects,
                missing_objects=len(report.missing),
                bytes=report.bytes,
            )
        except Exception as exc:
            log.exception("backup %s failed", backup_id)
            state.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:1000])
        finally:
            state["finished_at"] = _now()
            try:
                self._status(out, state)
            except Exception:
                log.exception("backup %s: cannot write its status", backup_id)
            with self._lock:
                self._running = None

    @staticmethod
    def _status(out: Artifacts, state: dict[str, Any]) -> None:
        out.put_json(STATUS, state)


def _now() -> str:
    return datetime.now(UTC).isoformat()
