"""Backups (admin): start a full backup into the instance's object store; follow it. Restore is offline:
`ftel restore --from-store ID` (docs/backup.md)."""

from __future__ import annotations

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool

from backend.api.deps import AdminAccount, BackupsDep
from backend.api.errors import documented
from backend.api.schemas import BackupStarted, BackupStatus

router = APIRouter(tags=["backups"])
BACKUP_ID = Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description="a backup id")


@router.post(
    "/admin/backups",
    status_code=202,
    response_model=BackupStarted,
    summary="Start a full backup into the object store",
    responses=documented((409, "this process is writing another backup")),
)
async def start_backup(backups: BackupsDep, _: AdminAccount) -> BackupStarted:
    """Every SQL table and every stored file, with a manifest of sizes and sha256, written under
    `backups/<id>/` in the instance's object store by a thread of the serving process; the graph is rebuilt
    from the event log on restore. Answers at once: follow it with GET /admin/backups/{id}."""
    return BackupStarted(id=await run_in_threadpool(backups.start))


@router.get(
    "/admin/backups/{backup_id}",
    response_model=BackupStatus,
    summary="A backup's status",
    responses=documented((404, "no such backup")),
)
async def backup_status(backups: BackupsDep, _: AdminAccount, backup_id: str = BACKUP_ID) -> BackupStatus:
    """`running`, `done` (with rows per table, objects and bytes) or `failed` (with the error)."""
    return BackupStatus.model_validate(await run_in_threadpool(backups.status, backup_id))
