"""`ftel backup` and `ftel restore` (registered by backend/cli.py): a full backup of the instance into a
directory, and a restore of one (from a directory, or from the object store) into the configured instance."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from backend.settings import ConfigError, load_settings

if TYPE_CHECKING:
    from backend.bootstrap import Process

console = Console(stderr=True)
_LABELS = {
    "rows": "table rows",
    "objects": "stored files",
    "verify": "verifying bytes",
    "graph": "rebuilding graph (events)",
}


def _process(role: str) -> Process:
    """The configured instance, built for `role`; a store that cannot be opened is exit code 2."""
    from backend.bootstrap import Role, build
    from backend.errors import Unavailable

    try:
        settings = load_settings()
        settings.ensure_data_dir()
        return build(settings, Role(role))
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]: {exc}")
    except Unavailable as exc:
        console.print(f"[red]cannot open the instance[/red]: {exc.message}")
    raise typer.Exit(2)


class _Bars:
    """One Rich bar per phase, made when the phase reports its total."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, what: str, advance: int, total: int) -> None:
        task = self.tasks.get(what)
        if task is None:
            task = self.tasks[what] = self.progress.add_task(_LABELS.get(what, what), total=total)
        self.progress.update(task, total=total, advance=advance)


def _columns() -> tuple[TextColumn | BarColumn | MofNCompleteColumn | TimeRemainingColumn, ...]:
    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


def backup(
    out: Annotated[Path, typer.Option("--out", metavar="PATH", help="directory to write the backup into")],
    part_rows: Annotated[int, typer.Option(min=1, help="rows per table part (one gzip'd NDJSON file)")] = 100_000,
) -> None:
    """Back up every SQL table and every stored file into a directory, with a manifest of sizes and sha256.
    Run again on the same --out after an interruption: what was written and still checks out is kept. The graph
    is not copied: `ftel restore` rebuilds it from the event log."""
    from backend.bootstrap.backups import backup_of, directory
    from backend.errors import FtelError

    if out.exists() and not out.is_dir():
        console.print(f"[red]{out} is not a directory[/red]")
        raise typer.Exit(2)
    process = _process("backup")
    started = time.monotonic()
    try:
        job = backup_of(process, directory(out), part_rows)
        with Progress(*_columns(), console=console) as progress:
            report = job.run(_Bars(progress))
    except FtelError as exc:
        console.print(f"[red]backup failed[/red]: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        process.close()
    rows = sum(report.tables.values())
    print(
        f"backup written to {out}: {rows} rows in {len(report.tables)} tables, {report.objects} stored files, "
        f"{report.bytes} bytes in {time.monotonic() - started:.1f} s"
        + (f" ({report.kept} parts and files kept from the last run)" if report.kept else "")
        + (f"; {len(report.missing)} files had no object left" if report.missing else ""),
        flush=True,
    )


def restore(
    path: Annotated[Path | None, typer.Argument(metavar="PATH", help="a backup directory")] = None,
    merge: Annotated[
        bool, typer.Option("--merge", help="add the backup's events and free-keyed files to a non-empty instance")
    ] = False,
    from_store: Annotated[
        str | None, typer.Option("--from-store", metavar="ID", help="a backup in the object store (admin route)")
    ] = None,
) -> None:
    """Restore a backup into the instance the environment configures (FT_DATABASE_URL, FT_GRAPH, FT_STORAGE…),
    on any backend. Every part and file is checked before anything is written; the graph is rebuilt from the
    event log. Refuses a non-empty instance unless --merge. The backup's accounts (and admin secret) apply after."""
    from backend.bootstrap.backups import directory, restore_into, stored_backup
    from backend.errors import FtelError, NotFound
    from backend.exports.restore import BadBackup, GraphNotRebuilt, TargetNotEmpty

    if (path is None) == (from_store is None):
        console.print("[red]name a backup[/red]: a PATH, or --from-store ID (not both)")
        raise typer.Exit(2)
    if path is not None and not path.is_dir():
        console.print(f"[red]restore refused[/red]: {path} is not a directory")
        raise typer.Exit(1)
    if path is not None and not (path / "manifest.json").is_file():
        console.print(
            f"[red]restore refused[/red]: {path} has no manifest.json (not a backup, or one that did not finish)"
        )
        raise typer.Exit(1)
    process = _process("restore")
    started = time.monotonic()
    try:
        source = directory(path) if path is not None else stored_backup(process, from_store or "")
        with Progress(*_columns(), console=console) as progress:
            report = restore_into(process, source).run(merge=merge, on_progress=_Bars(progress))
    except (BadBackup, TargetNotEmpty, NotFound) as exc:  # NotFound: --from-store names no backup
        console.print(f"[red]restore refused[/red]: {exc.message}\nnothing was written")
        raise typer.Exit(1) from None
    except GraphNotRebuilt as exc:
        console.print(f"[red]restore incomplete[/red]: {exc.message}")
        raise typer.Exit(1) from None
    except FtelError as exc:  # while loading: the tables were rolled back, the files written deleted
        console.print(f"[red]restore failed[/red]: {exc.message}\nnothing was kept")
        raise typer.Exit(1) from None
    finally:
        process.close()
    tables = ", ".join(f"{name} {rows}" for name, rows in report.tables.items() if rows)
    print(
        f"{'merged' if merge else 'restored'} in {time.monotonic() - started:.1f} s: {tables or 'no rows'}; "
        f"{report.objects} stored files ({report.object_bytes} bytes); graph merged from {report.graph_events} events",
        flush=True,
    )
    credentials = process.settings.admin_credentials_file
    if not merge and credentials.exists():  # this instance's first admin is gone: the backup's accounts apply
        credentials.unlink()
        print(
            f"the accounts are now the backup's: sign in with the backup's admin credentials ({credentials} "
            "held this instance's own first admin and was removed)",
            flush=True,
        )
