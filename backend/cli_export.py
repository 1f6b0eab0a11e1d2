"""`ftel export` (registered by backend/cli.py): events, statistics or summaries of the configured instance
written straight into a folder as chunks and a manifest (the same files POST /exports makes), and `ftel
export verify`, which checks a folder (written here or downloaded) against its manifest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.settings import ConfigError, load_settings

if TYPE_CHECKING:
    from backend.exports.service import ExportRequest

console = Console(stderr=True)
export_app = typer.Typer(
    help="Export telemetry, statistics or summaries into a folder of chunks + manifest.json, and check one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Out = Annotated[Path, typer.Option("--out", help="the folder to write (created; must not hold an export already)")]
Since = Annotated[str | None, typer.Option(help="period from this time (RFC 3339, inclusive)")]
Until = Annotated[str | None, typer.Option(help="period to this time (RFC 3339, exclusive)")]
Trace = Annotated[str | None, typer.Option(help="one trace")]
Key = Annotated[str | None, typer.Option(help="a file or data key: the events and logs naming it")]
Format = Annotated[Literal["ndjson", "csv"], typer.Option("--format", help="ndjson or csv")]
NoGzip = Annotated[bool, typer.Option("--no-gzip", help="write plain chunks instead of gzip'd ones")]


def _when(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        console.print(f"[red]--{what}[/red] must be an RFC 3339 time, like 2026-12-01T00:00:00Z")
        raise typer.Exit(2) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _export(
    out: Path, content: str, fmt: str, no_gzip: bool, since: str | None, until: str | None, **scope: Any
) -> None:
    """The ExportRequest of a subcommand's options, run into `out`."""
    from backend.exports.service import ExportRequest

    request = ExportRequest(
        content=content,
        format=fmt,
        compression="none" if no_gzip else "gzip",
        since=_when(since, "since"),
        until=_when(until, "until"),
        **scope,
    )
    _run(request, out)


def _run(request: ExportRequest, out: Path) -> None:
    """Build the export role, write the export into `out` with a progress bar, print where it is."""
    from backend.bootstrap import Role, build, open_directory
    from backend.errors import FtelError, GraphError
    from backend.exports.artifacts import MANIFEST, Artifacts

    if (out / MANIFEST).exists():
        console.print(f"[red]{out} holds an export already[/red]: choose another --out")
        raise typer.Exit(2)
    try:
        settings = load_settings()
        settings.ensure_data_dir()
        process = build(settings, Role.export)
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]: {exc}")
        raise typer.Exit(2) from None
    except FtelError as exc:
        console.print(f"[red]cannot open the instance[/red]: {exc.message}")
        raise typer.Exit(2) from None
    exports = process.exports
    assert exports is not None
    created = not out.exists()
    columns = (TextColumn("exporting {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        folder = Artifacts(open_directory(out))
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(request.content, total=exports.estimate(request))
            done = exports.write_to(folder, request, lambda chunk: progress.advance(task, chunk.events))
    except GraphError:
        console.print(
            f"[red]the lineage of {request.key!r} needs the graph[/red], which the running server holds (the "
            "all-in-one's graph has one user at a time): ask that server (POST /api/v1/exports with key, direction "
            "and depth) or stop it first"
        )
        _tidy(out, created)
        raise typer.Exit(1) from None
    except FtelError as exc:
        console.print(f"[red]{exc.message}[/red]")
        _tidy(out, created)
        raise typer.Exit(1) from None
    finally:
        process.close()
    _tidy(out, False)
    chunks = len(done["chunks"])
    print(
        f"{done['events']} records in {chunks} chunk{'' if chunks == 1 else 's'} ({done['bytes']} bytes) in {out}",
        flush=True,
    )


def _tidy(folder: Path, remove: bool) -> None:
    """Leave no empty `.tmp` behind (the folder store's scratch space), nor, with `remove`, a folder this
    command made for an export that failed."""
    import shutil

    scratch = folder / ".tmp"
    if scratch.is_dir() and not any(scratch.iterdir()):
        scratch.rmdir()
    if remove:
        shutil.rmtree(folder, ignore_errors=True)


@export_app.command("events")
def export_events(
    out: Out,
    since: Since = None,
    until: Until = None,
    time: Annotated[
        Literal["received", "event"], typer.Option(help="the period is of receive time or of the events' own time")
    ] = "received",
    trace: Trace = None,
    key: Key = None,
    upstream: Annotated[bool, typer.Option("--upstream", help="with --key: its upstream lineage's nodes too")] = False,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="with --key: its downstream lineage's nodes too")
    ] = False,
    depth: Annotated[int, typer.Option(min=1, max=20, help="lineage hops with --upstream/--downstream")] = 1,
    fmt: Format = "ndjson",
    no_gzip: NoGzip = False,
) -> None:
    """The stored events of a period, a trace or a key (its events and logs; with --upstream/--downstream,
    the nodes of its lineage too), as the envelopes were stored."""
    direction: Literal["upstream", "downstream", "both"] | None = None
    if upstream or downstream:
        direction = "both" if upstream and downstream else "upstream" if upstream else "downstream"
    depth_given = depth if direction else None
    _export(
        out,
        "events",
        fmt,
        no_gzip,
        since,
        until,
        time=time,
        trace=trace,
        key=key,
        direction=direction,
        depth=depth_given,
    )


@export_app.command("stats")
def export_stats(
    out: Out,
    since: Since = None,
    until: Until = None,
    window: Annotated[str, typer.Option(help="15m, 30m, 1h, 3h, 6h or 12h")] = "1h",
    by: Annotated[
        list[str] | None, typer.Option("--by", help="account, user or reason: rows per key too (repeat)")
    ] = None,
    fmt: Format = "csv",
    no_gzip: NoGzip = False,
) -> None:
    """The batch app's statistics per window over a period (default the last 24 hours): for the whole
    service, and per key of each --by."""
    _export(out, "stats", fmt, no_gzip, since, until, window=window, by=tuple(by or ()))


@export_app.command("summaries")
def export_summaries(
    out: Out,
    since: Since = None,
    until: Until = None,
    trace: Trace = None,
    key: Annotated[str | None, typer.Option(help="a file or data key: the traces its events belong to")] = None,
    fmt: Format = "csv",
    no_gzip: NoGzip = False,
) -> None:
    """The trace summaries the batch app stored: of traces active in a period, one trace, or the traces a
    key's events belong to."""
    _export(out, "summaries", fmt, no_gzip, since, until, trace=trace, key=key)


@export_app.command("verify")
def export_verify(
    folder: Annotated[Path, typer.Argument(help="a folder holding manifest.json and the chunks it lists")],
) -> None:
    """Check every chunk against the manifest: present, same size and sha256, and holding as many records as
    it says. Exit code 1 when anything differs."""
    from backend.bootstrap import open_directory
    from backend.exports.artifacts import Artifacts
    from backend.exports.chunks import verify

    if not folder.is_dir():
        console.print(f"[red]{folder} is not a folder[/red]")
        raise typer.Exit(2)
    scratch_was_there = (folder / ".tmp").exists()
    with Progress(TextColumn("checking {task.fields[name]}"), console=console) as progress:
        task = progress.add_task("verify", name="manifest.json", total=None)
        verdict = verify(Artifacts(open_directory(folder)), lambda name: progress.update(task, name=name))
    if not scratch_was_there:
        _tidy(folder, False)
    for problem in verdict.problems:
        print(f"FAILED {problem}")
    for name in verdict.extra:
        print(f"note: {name} is not listed in the manifest")
    if not verdict.ok:
        raise typer.Exit(1)
    print(f"OK {verdict.chunks} chunks, {verdict.events} records, {verdict.bytes} bytes", flush=True)
