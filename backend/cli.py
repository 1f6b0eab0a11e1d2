"""`ftel`: the command line of file-telemetry."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from backend.settings import ConfigError, Settings, load_settings
from backend.streams.registry import without_password

if TYPE_CHECKING:
    from backend.bootstrap import Process

# plain click help: the rich layout of typer 0.29 tags every flag with a type ("--dry-run <bool>")
app = typer.Typer(
    help="file-telemetry: trace the life of files.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
graph_app = typer.Typer(help="Lineage graph maintenance.", no_args_is_help=True, rich_markup_mode=None)
db_app = typer.Typer(help="SQL schema maintenance.", no_args_is_help=True, rich_markup_mode=None)
accounts_app = typer.Typer(
    help="Accounts, straight in the database (for operators).", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(graph_app, name="graph")
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")
retention_app = typer.Typer(
    help="File retention (size, count, age limits from FT_RETENTION_*).", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(retention_app, name="retention")
console = Console(stderr=True)


def _settings(data_dir: bool = True) -> Settings:
    """Settings from the environment; `data_dir`: this command writes under FT_DATA_DIR (create and check it)."""
    try:
        settings = load_settings()
        if data_dir:
            settings.ensure_data_dir()
        return settings
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]: {exc}")
        raise typer.Exit(2) from None


def _check_port(host: str, port: int, names: str = "FT_HOST, FT_PORT") -> None:
    """Fail before anything starts (and before credentials are printed) when FT_HOST:FT_PORT is taken."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            console.print(f"[red]cannot listen on {host}:{port}[/red]: {exc.strerror or exc} ({names})")
            raise typer.Exit(2) from None


def _wait_for_redis(url: str, attempts: int = 5) -> None:
    """The worker cannot do anything without its Redis: wait a little (it may be starting), then say so."""
    import time

    import redis

    from backend.bootstrap import sync_redis
    from backend.streams.registry import without_password

    client = sync_redis(url)
    try:
        for attempt in range(attempts):
            try:
                client.ping()
                return
            except redis.RedisError as exc:
                if attempt == attempts - 1:
                    console.print(f"[red]cannot reach FT_REDIS_URL[/red] {without_password(url)}: {exc}")
                    raise typer.Exit(2) from None
                time.sleep(1.0)
    finally:
        client.close()


def _build(settings: Settings, role: str) -> Process:
    """bootstrap.build with the stores' start-up failures as one plain message and exit code 2."""
    from backend.bootstrap import Role, build
    from backend.errors import GraphError, SqlUnavailable
    from backend.streams.embedded_redis import EmbeddedRedisError

    try:
        return build(settings, Role(role))
    except GraphError as exc:
        held = "lock" in str(exc).lower()
        console.print(
            f"[red]graph store[/red]: {exc}"
            + ("\n(another ftel process is using this FT_DATA_DIR: stop it, or give this one its own)" if held else "")
        )
    except EmbeddedRedisError as exc:
        console.print(
            f"[red]embedded redis[/red]: {exc}\n(choose another FT_EMBEDDED_REDIS_PORT, or FT_REDIS_URL for a Redis of your own)"
        )
    except SqlUnavailable as exc:
        reason = exc.message.removeprefix("SQL database unavailable: ")
        console.print(f"[red]SQL store[/red]: cannot open FT_DATABASE_URL: {reason}")
    raise typer.Exit(2)


def _freeze_startup_objects() -> None:
    """Move what start-up allocated (modules, the app, the stores) out of the cyclic collector's reach: a full
    collection then walks only what the work allocates (bench/export.py, 100,000 events: 0.98 s → 0.92 s)."""
    import gc

    gc.collect()
    gc.freeze()


def _run_server(settings: Settings, all_in_one: bool) -> None:
    import uvicorn

    from backend.api.app import create_app
    from backend.logs import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    _check_port(settings.host, settings.port)
    process = _build(settings, "serve" if all_in_one else "api")
    try:
        created = process.auth.bootstrap_admin(generate=all_in_one)
    except BaseException:
        process.close()
        raise
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        f"file-telemetry {'all-in-one' if all_in_one else 'API'} on {base}",
        f"  API      {base}/api/v1",
        f"  docs     {base}/docs",
        *([f"  dashboard {base}/dashboard/"] if all_in_one else []),
        f"  data     {settings.data_dir.resolve()}",
        f"  SQL      {'SQLite (WAL)' if settings.is_sqlite else 'PostgreSQL'}",
        f"  graph    {settings.graph.value}",
    ]
    if process.redis_url:
        lines.append(
            f"  redis    {without_password(process.redis_url)}{'  (stream consumers in this process)' if all_in_one else ''}"
        )
        if process.embedded_redis is not None and not settings.embedded_redis_password:
            lines.append(f"           (password in {settings.embedded_redis_password_file}, mode 0600)")
    if created:
        lines += [
            f"  admin    client_id={created[0]} client_secret={created[1]}",
            f"           (shown once; also in {settings.admin_credentials_file}, mode 0600)",
        ]
    elif all_in_one and settings.admin_credentials_file.exists():
        lines.append(f"  admin    credentials in {settings.admin_credentials_file}")
    elif settings.admin_client_id:
        lines.append(f"  admin    client_id={settings.admin_client_id} (from FT_ADMIN_CLIENT_ID)")
    print("\n".join(lines), flush=True)
    from dashboard.serving import local_api_base

    api = create_app(
        process.api_services(),
        on_start=process.start,
        on_stop=process.close,
        dashboard=local_api_base(settings.host, settings.port) if all_in_one else None,
    )
    _freeze_startup_objects()
    try:
        uvicorn.run(api, host=settings.host, port=settings.port, log_config=None, access_log=False)
    finally:
        process.close()


@app.command()
def serve() -> None:
    """Start the all-in-one server: API, graph projection and embedded stores (SQLite, LadybugDB, Redis)."""
    _run_server(_settings(), all_in_one=True)


@app.command()
def api() -> None:
    """Start an API replica only (services mode: PostgreSQL, Neo4j and Redis given by FT_ settings)."""
    _run_server(_settings(), all_in_one=False)


@app.command()
def worker() -> None:
    """Start a stream worker (ARQ): subscription streams → event log and graph, plus the scheduled jobs.

    Consumes Redis Streams, and Kafka when FT_KAFKA_BOOTSTRAP is set. Needs FT_REDIS_URL. Run several for
    more throughput: they share one consumer group."""
    from backend.logs import configure_logging
    from backend.worker.main import build_worker

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.redis_url is None:
        console.print(
            "[red]configuration error[/red]: FT_REDIS_URL is required by `ftel worker` "
            "(the Redis the API instances use; the all-in-one's embedded one is redis://127.0.0.1:6380/0)"
        )
        raise typer.Exit(2)
    _wait_for_redis(settings.redis_url)
    if settings.worker_metrics_port:
        _check_port(settings.host, settings.worker_metrics_port, "FT_WORKER_METRICS_PORT")
    process = _build(settings, "worker")
    if settings.worker_metrics_port:  # the same registry the API serves at /metrics: stream, flow, event counters
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr=settings.host)
    print(
        f"file-telemetry worker\n  redis    {without_password(settings.redis_url)}\n"
        f"  kafka    {settings.kafka_bootstrap or '-'}\n"
        f"  SQL      {'SQLite (WAL)' if settings.is_sqlite else 'PostgreSQL'}\n  graph    {settings.graph.value}"
        + (
            f"\n  metrics  http://{settings.host}:{settings.worker_metrics_port}/metrics"
            if settings.worker_metrics_port
            else ""
        ),
        flush=True,
    )
    assert process.streams is not None
    try:
        build_worker(settings.redis_url, process.streams, process.cluster_jobs, process.start).run()
    finally:
        process.close()


@app.command()
def batch(
    once: Annotated[bool, typer.Option("--once", help="run each job once (or the --job ones), then exit")] = False,
    job: Annotated[
        list[str] | None, typer.Option("--job", help="with --once: only this job (repeat for several)")
    ] = None,
    rebuild_rollups: Annotated[
        bool,
        typer.Option("--rebuild-rollups", help="forget every rollup and count the whole event log again, then exit"),
    ] = False,
) -> None:
    """Start the batch app (services mode): rollups, trace summaries, fills, relations, the dedup pass and
    insights over the stored events, each job every FT_BATCH_INTERVAL_SECONDS under a lease, so that several
    batch processes never run the same job at once and a killed run is simply run again. `ftel serve` runs
    the same jobs itself."""
    import signal
    import threading

    from backend.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    process = _build(settings, "batch")
    assert process.batch is not None
    if rebuild_rollups:
        _rebuild_rollups(process)
        return
    if once:
        try:
            try:
                runs = process.batch.run_all(job or None)
            except ValueError as exc:
                console.print(f"[red]{exc}[/red]")
                raise typer.Exit(2) from None
        finally:
            process.close()
        for run in runs:
            state = f"{run.passes} pass(es) in {run.seconds:.2f} s" if run.ran else "held by another batch process"
            print(f"{run.name:<12} {state}", flush=True)
        return
    print(
        f"file-telemetry batch\n  jobs     {', '.join(process.batch.names) or '-'} "
        f"every {settings.batch_interval_seconds:g} s\n  SQL      {'SQLite (WAL)' if settings.is_sqlite else 'PostgreSQL'}"
        f"\n  graph    {settings.graph.value}",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    process.start()
    try:
        stop.wait()
    finally:
        process.close()


def _rebuild_rollups(process: Process) -> None:
    """The rollups counted again from the log, under the rollups job's lease, with a progress bar."""
    batch, rollups = process.batch, process.rollups
    assert batch is not None and rollups is not None
    columns = (TextColumn("counting events"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("rollups", total=None)

            def on_pass(counted: int, total: int) -> None:
                progress.update(task, total=total, advance=counted)

            held, total = batch.exclusive("rollups", lambda: rollups.rebuild(on_pass))
    finally:
        process.close()
    if not held:
        console.print("[red]the rollups job is running in another batch process[/red]: try again when it is done")
        raise typer.Exit(1)
    print(f"rollups rebuilt from {total} events", flush=True)


@app.command()
def dashboard(
    api_url: Annotated[str | None, typer.Option(help="REST API base URL (default: http://FT_HOST:FT_PORT)")] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8050,
    base_path: Annotated[str, typer.Option(help="URL path the dashboard is served under")] = "/",
) -> None:
    """Serve the dashboard alone (services mode); it reads the REST API at --api-url with each user's token."""
    import uvicorn

    from backend.logs import configure_logging
    from dashboard.serving import local_api_base, standalone

    try:
        settings = load_settings()  # no data dir: the dashboard keeps nothing
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]: {exc}")
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_json)
    api = (api_url or local_api_base(settings.host, settings.port)).rstrip("/")
    path = "/" + base_path.strip("/") + "/" if base_path.strip("/") else "/"
    try:
        reachable = httpx.get(f"{api}/healthz", timeout=3).status_code == 200
    except httpx.HTTPError:
        reachable = False
    print(
        f"file-telemetry dashboard on http://{host}:{port}{path}\n"
        f"  API      {api}/api/v1 ({'reachable' if reachable else 'not reachable yet: start it, the dashboard will retry'})",
        flush=True,
    )
    uvicorn.run(standalone(api, path), host=host, port=port, log_config=None, access_log=False)


def _admin_credentials(settings: Settings, client_id: str | None, client_secret: str | None) -> tuple[str, str]:
    if client_id and client_secret:
        return client_id, client_secret
    if settings.admin_client_id and settings.admin_client_secret:
        return settings.admin_client_id, settings.admin_client_secret
    path = settings.admin_credentials_file
    if path.exists():
        values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        return values["FT_ADMIN_CLIENT_ID"], values["FT_ADMIN_CLIENT_SECRET"]
    console.print(
        f"[red]no credentials[/red]: pass --client-id/--client-secret, set FT_ADMIN_CLIENT_ID and "
        f"FT_ADMIN_CLIENT_SECRET, or start `ftel serve` first ({path} not found)"
    )
    raise typer.Exit(2)


@app.command()
def demo(
    url: Annotated[str | None, typer.Option(help="server base URL (default: http://FT_HOST:FT_PORT)")] = None,
    trace: Annotated[
        str,
        typer.Option(
            help="key of the demo trace (its node keys File1..File4, data1..data6 are the same for every trace)"
        ),
    ] = "A",
    client_id: Annotated[str | None, typer.Option(help="client id (default: the admin credentials)")] = None,
    client_secret: Annotated[str | None, typer.Option(help="client secret")] = None,
) -> None:
    """Send the seed scenario (trace A: two drops, File3 → data1..6 → File4) to a running server."""
    from backend.demo import seed_events

    settings = _settings(data_dir=False)  # only talks HTTP
    base = (url or f"http://{settings.host}:{settings.port}").rstrip("/")
    cid, secret = _admin_credentials(settings, client_id, client_secret)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post("/api/v1/auth/token", json={"client_id": cid, "client_secret": secret})
            if token.status_code != 200:
                console.print(f"[red]sign-in failed[/red]: {token.text}")
                raise typer.Exit(1)
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            sent = client.post(  # merged before the answer: the summary below shows all of it
                "/api/v1/events", json=seed_events(trace), headers=headers, params={"wait_for_graph": "true"}
            )
            if sent.status_code != 202:
                console.print(f"[red]sending failed[/red]: {sent.text}")
                raise typer.Exit(1)
            summary = client.get(f"/api/v1/traces/{quote(trace, safe='')}", headers=headers).json()
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach {base}[/red]: {exc}. Is the server running (`make run`, or pass --url)?")
        raise typer.Exit(1) from None
    result = sent.json()
    print(f"sent trace {trace!r}: {result['accepted']} new events, {result['duplicates']} already there")
    print(f"summary: {summary.get('summary')}")
    print(f"see it:  {base}/api/v1/traces/{quote(trace, safe='')}/graph")


@graph_app.command("rebuild")
def graph_rebuild(
    batch: Annotated[int, typer.Option(min=1, help="events per graph merge")] = 1000,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before clearing the graph")] = False,
) -> None:
    """Clear the lineage graph and rebuild it from the event log (stop the all-in-one server first)."""
    settings = _settings()
    process = _build(settings, "maintenance")
    try:
        if not yes and sys.stdin.isatty() and not typer.confirm("Clear the graph and rebuild it from the event log?"):
            raise typer.Exit(1)
        total = process.projector.start_rebuild()
        columns = (
            TextColumn("rebuilding graph"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("events"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("rebuild", total=total)
            while done := process.projector.project_pending(batch):
                progress.advance(task, done)
        refill = process.after_graph_rebuild()
    finally:
        process.close()
    print(f"graph rebuilt from {total} events; {refill} traces back on the batch fill's list")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the SQL schema to the newest revision."""
    from backend.bootstrap import open_engine
    from backend.db.engine import current_revision, upgrade
    from backend.errors import SqlUnavailable

    engine = open_engine(_settings())
    try:
        before = current_revision(engine)
        upgrade(engine)
        print(f"schema: {before or 'empty'} → {current_revision(engine)}")
    except SqlUnavailable as exc:
        console.print(f"[red]SQL store[/red]: {exc.message}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Option(metavar="NAME", help="display name")],
    role: Annotated[list[str], typer.Option(metavar="ROLE", help="ingest, read, export or admin; repeat for several")],
    kind: Annotated[str, typer.Option(metavar="KIND", help="system or human")] = "system",
) -> None:
    """Create an account and print its client id and secret (shown once)."""
    from backend.errors import FtelError

    process = _build(_settings(), "admin")
    try:
        issued = process.auth.create_account(name, kind, role)
    except FtelError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        process.close()
    print(f"client_id={issued.account.client_id}\nclient_secret={issued.client_secret}")


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print what would be deleted; change nothing")] = False,
) -> None:
    """Run retention once on the configured file store: mark files over the limits, delete those whose
    grace period is over, write retention records. Safe beside a running server."""
    from backend.domain.retention import Deletion, limits_of
    from graph.unavailable import UnavailableGraph

    settings = _settings()
    process = _build(settings, "retention")
    assert process.retention is not None and process.objects is not None
    if isinstance(process.graph, UnavailableGraph) and not dry_run:
        console.print("graph held by the running server: its projector will mark the nodes expired")
    limits = limits_of(settings)
    console.print(
        f"retention on {process.objects.backend}: max_bytes={limits.max_bytes or '-'} max_files={limits.max_files or '-'} "
        f"max_age_days={limits.max_age_days or '-'} grace={limits.grace_seconds:g}s{' (dry run)' if dry_run else ''}"
    )

    def line(verb: str, d: Deletion) -> str:
        return f"{verb:<12} {d.key}  rule={d.rule}  bytes={d.bytes}  size={d.size}  stored={d.stored_at:%Y-%m-%dT%H:%M:%SZ}"

    def deleted(d: Deletion) -> None:
        print(line("deleted", d), flush=True)

    try:
        report = process.retention.run(dry_run=dry_run, on_delete=None if dry_run else deleted)
    finally:
        process.close()
    if dry_run:
        due = {d.key for d in report.deleted}
        for d in report.deleted:
            print(line("would delete", d))
        for d in [*report.marked, *report.waiting]:
            if d.key not in due:
                print(line("would mark", d) + f"  delete_after={d.delete_after:%Y-%m-%dT%H:%M:%SZ}")
        print(
            f"dry run: {len(report.deleted)} files ({sum(d.bytes for d in report.deleted)} stored bytes) would be deleted now, "
            f"{len(report.marked)} newly marked"
        )
        return
    for d in report.marked:
        if d.key not in {x.key for x in report.deleted}:
            print(line("marked", d) + f"  delete_after={d.delete_after:%Y-%m-%dT%H:%M:%SZ}")
    print(
        f"deleted {len(report.deleted)} files ({sum(d.bytes for d in report.deleted)} stored bytes), "
        f"marked {len(report.marked)}, waiting {len(report.waiting)}, failed {len(report.failed)}"
    )
    if report.failed:
        raise typer.Exit(1)


from backend.cli_backup import backup, restore  # noqa: E402  (ftel backup, ftel restore: docs/backup.md)

app.command("backup")(backup)
app.command("restore")(restore)

from backend.cli_export import export_app  # noqa: E402  (ftel export …: docs/exports.md)

app.add_typer(export_app, name="export")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
