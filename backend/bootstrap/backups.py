"""Backup and restore wired on a built process (`ftel backup`, `ftel restore`, the admin route): the SQL tables
through SqlTableDump, the process's object store, and the graph through its projector."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from backend.bootstrap.adapters import open_directory
from backend.db.dump import SqlTableDump
from backend.exports.artifacts import Artifacts
from backend.exports.backup import Backup
from backend.exports.backups import Backups, backup_prefix
from backend.exports.restore import Restore

if TYPE_CHECKING:
    from backend.bootstrap import Process


def source_facts(process: Process) -> dict[str, str]:
    """What a backup says about where it came from (no addresses, no credentials)."""
    s = process.settings
    return {
        "database": "sqlite" if s.is_sqlite else "postgresql",
        "graph": s.graph.value,
        "storage": process.objects.backend if process.objects is not None else "none",
    }


def backup_of(process: Process, out: Artifacts, part_rows: int = 100_000) -> Backup:
    """A backup of the process's SQL tables and stored files, written into `out`."""
    return Backup(SqlTableDump(process.engine), process.objects, out, source_facts(process), part_rows=part_rows)


def restore_into(process: Process, source: Artifacts) -> Restore:
    """A restore of the backup in `source` into the process's stores."""
    assert process.summaries is not None and process.stats_store is not None
    return Restore(
        SqlTableDump(process.engine),
        process.objects,
        source,
        process.projector,
        process.summaries,
        process.stats_store,
        # merges as large as the projector's own: a 200,000-event rebuild took 28 s at 5,000 a merge, 65 s at 1,000
        graph_batch=process.settings.projector_merge_events,
    )


def backups_service(process: Process) -> Backups:
    """Backups into the process's own object store (the admin route)."""
    store = process.objects
    assert store is not None
    return Backups(store, lambda out: backup_of(process, out))


def directory(path: Path) -> Artifacts:
    """A backup in a directory (`ftel backup --out`, `ftel restore PATH`)."""
    return Artifacts(open_directory(path))


def stored_backup(process: Process, backup_id: str) -> Artifacts:
    """A backup the admin route wrote into the process's object store (`ftel restore --from-store ID`)."""
    assert process.objects is not None
    return Artifacts(process.objects, backup_prefix(backup_id))
