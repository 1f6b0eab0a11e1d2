"""The composition root: `build(settings, role)` opens each adapter once, builds the typed services on
them and returns a Process with what the role needs. Nothing else constructs an engine, a graph store,
a Redis client or an object store (tests aside; the constructors are in backend/bootstrap/adapters.py);
the transports (api, grpc, worker, cli) get services.

    role         stores opened                          periodic tasks            elsewhere
    serve        SQL, graph, objects, embedded Redis*   projector, flow, retention,  stream consumers (a thread),
                                                        reconcile, expire-idle,      gRPC uploads, the dashboard
                                                        batch jobs
    api          SQL, graph, objects, Redis if set      projector, flow, retention   gRPC uploads
    worker       SQL, graph, objects, Redis             projector, flow, retention   stream consumers, and reconcile
                                                                                     and expire-idle as ARQ cron
    admin        SQL                                    -                            (ftel accounts)
    batch        SQL, graph, objects, Redis if set      batch jobs (under leases)    (ftel batch)
    maintenance  SQL, graph (must be free)              -                            (ftel graph rebuild)
    backup       SQL, objects                           -                            (ftel backup)
    restore      SQL, graph (must be free), objects     -                            (ftel restore)
    retention    SQL, objects, graph if free            -                            (ftel retention run)
    export       SQL, graph if free                     -                            (ftel export)

    serve, worker and batch also run export jobs (backend/exports), each export by one runner at a time.

    * unless FT_REDIS_URL names one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any, Literal

import grpc
import redis
import redis.asyncio
from limits.storage import MemoryStorage
from sqlalchemy import Engine

from backend import failpoints
from backend.api.deps import ApiServices
from backend.batch.fill import Fill
from backend.batch.insights import Insights
from backend.batch.relations import Relations
from backend.batch.rollups import Rollups
from backend.batch.runner import Batch, BatchJob
from backend.batch.stats import Stats
from backend.batch.summaries import Summaries
from backend.bootstrap.adapters import (
    async_redis,
    open_directory,
    open_engine,
    open_graph,
    open_object_store,
    serialized_writes,
    signin_windows,
    stream_sources,
    sync_redis,
)
from backend.bootstrap.backups import backups_service
from backend.db.accounts import SqlAccounts
from backend.db.base import AccountStore, EventLog
from backend.db.engine import checkpoint, upgrade
from backend.db.engine import ping as ping_sql
from backend.db.event_log import SqlEventLog
from backend.db.exports import SqlExports
from backend.db.files import SqlFileCatalog
from backend.db.leases import SqlJobLeases
from backend.db.stats import SqlStats
from backend.db.subscriptions import SqlSubscriptions
from backend.db.summaries import SqlTraceSummaries
from backend.domain.auth import Auth
from backend.domain.files import Files
from backend.domain.health import Health
from backend.domain.ingest import Ingest
from backend.domain.projector import Projector
from backend.domain.queries import Queries
from backend.domain.retention import Retention
from backend.domain.signin import SignIn
from backend.domain.subscriptions import Subscriptions
from backend.domain.summaries import TraceRules
from backend.errors import GraphError
from backend.exports.backups import Backups
from backend.exports.chunks import Limits
from backend.exports.service import Exports, ExportSettings
from backend.flow.accounting import Accounting, Allowance
from backend.flow.control import FlowControl
from backend.flow.drain import Drainer
from backend.flow.parking import Parking
from backend.flow.policy import FlowPolicy
from backend.flow.pressure import Pressure
from backend.park.redis import RedisPark
from backend.park.spool import Spool, SpoolPark
from backend.periodic import Periodic, PeriodicRunner
from backend.settings import Settings
from backend.storage.base import ObjectStore
from backend.streams.admin import StreamAdmin
from backend.streams.embedded_redis import EmbeddedRedis, stored_password
from backend.streams.notices import AccountNotices
from backend.worker import jobs
from backend.worker.main import ClusterJob
from backend.worker.runtime import StreamRuntime, consumer_name
from graph.base import GraphStore

__all__ = [  # the adapters (backend/bootstrap/adapters.py) are reached from here too
    "Process",
    "Role",
    "async_redis",
    "build",
    "open_directory",
    "open_engine",
    "open_graph",
    "open_object_store",
    "serialized_writes",
    "signin_windows",
    "stream_sources",
    "sync_redis",
    "wire_ingest",
]

log = logging.getLogger("ftel.bootstrap")

StreamJob = Callable[[Subscriptions, Callable[[], redis.asyncio.Redis]], Coroutine[Any, Any, object]]


class Role(str, Enum):
    serve = "serve"
    api = "api"
    worker = "worker"
    batch = "batch"
    admin = "admin"
    maintenance = "maintenance"
    retention = "retention"
    backup = "backup"
    restore = "restore"
    export = "export"


@dataclass(frozen=True)
class RoleSpec:
    graph: Literal["required", "optional", "none"]
    objects: bool
    redis: Literal["embedded", "configured", "none"]
    flow: bool
    streams: Literal["thread", "arq", "none"]
    uploads: bool  # the gRPC upload server (FT_GRPC_PORT > 0): API processes only
    tasks: tuple[str, ...] = ()
    cluster_jobs: tuple[str, ...] = ()
    batch: bool = False  # runs the batch app's jobs (backend/batch), each under its lease


_SERVING = ("projector", "sql-checkpoint", "flow-check", "flow-drain", "retention")
_STREAM_JOBS = ("reconcile", "expire-idle", "prune-consumers")
_API = ("auth-notices",)

ROLES: dict[Role, RoleSpec] = {
    Role.serve: RoleSpec(
        "required", True, "embedded", True, "thread", True, _SERVING + _API + _STREAM_JOBS + ("exports",), batch=True
    ),
    Role.api: RoleSpec("required", True, "configured", True, "none", True, _SERVING + _API),
    Role.worker: RoleSpec("required", True, "configured", True, "arq", False, (*_SERVING, "exports"), _STREAM_JOBS),
    Role.batch: RoleSpec(
        "required", True, "configured", False, "none", False, ("sql-checkpoint", "exports"), batch=True
    ),
    Role.admin: RoleSpec("none", False, "none", False, "none", False),
    Role.maintenance: RoleSpec("required", False, "none", False, "none", False),
    Role.retention: RoleSpec("optional", True, "none", False, "none", False),
    Role.backup: RoleSpec("none", True, "none", False, "none", False),
    Role.restore: RoleSpec("required", True, "none", False, "none", False),
    Role.export: RoleSpec("optional", False, "none", False, "none", False),
}


# -- the process ------------------------------------------------------------------------------------


@dataclass
class Process:
    """What one role of the service runs on: its stores and services, its background tasks, and (for the
    serving roles) its stream consumers and upload server. `start()` starts the background work,
    `close()` stops it and closes every store, each once."""

    role: Role
    settings: Settings
    engine: Engine
    graph: GraphStore
    events: SqlEventLog
    auth: Auth
    signin: SignIn
    projector: Projector
    ingest: Ingest
    queries: Queries
    subscriptions: Subscriptions
    health: Health
    notices: AccountNotices | None = None
    admin: StreamAdmin | None = None
    objects: ObjectStore | None = None
    files: Files | None = None
    retention: Retention | None = None
    flow: FlowControl | None = None
    redis_url: str | None = None
    embedded_redis: EmbeddedRedis | None = None
    streams: StreamRuntime | None = None
    cluster_jobs: list[ClusterJob] = field(default_factory=list)
    batch: Batch | None = None
    summaries: SqlTraceSummaries | None = None  # stored trace summaries (reads, the summaries and fill jobs)
    stats_store: SqlStats | None = None  # the rollups (GET /stats, the rollups job)
    stats: Stats | None = None  # GET /stats: the rollups as read
    rollups: Rollups | None = None  # the rollups job (ftel batch --rebuild-rollups)
    insights: Insights | None = None  # GET /insights
    exports: Exports | None = None  # export jobs (POST /exports, the exports task, `ftel export`)
    backups: Backups | None = None  # POST /admin/backups: backups into the object store (serving roles)
    runner: PeriodicRunner = field(default_factory=PeriodicRunner)
    closers: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)
    _grpc: grpc.Server | None = None
    _streams_thread: threading.Thread | None = None
    _closed: bool = False

    @property
    def spec(self) -> RoleSpec:
        return ROLES[self.role]

    def connect_redis(self) -> redis.asyncio.Redis:
        assert self.redis_url is not None
        return async_redis(self.redis_url)

    def api_services(self) -> ApiServices:
        return ApiServices(
            settings=self.settings,
            auth=self.auth,
            signin=self.signin,
            ingest=self.ingest,
            queries=self.queries,
            subscriptions=self.subscriptions,
            health=self.health,
            files=self.files,
            retention=self.retention,
            flow=self.flow,
            stats=self.stats,
            insights=self.insights,
            backups=self.backups,
            exports=self.exports,
            redis=self.connect_redis if self.redis_url else None,
        )

    def start(self) -> None:
        """The role's periodic tasks and graph merge thread; its gRPC uploads and in-process stream consumers
        where it has them."""
        if "projector" in self.spec.tasks:
            self.projector.start()
        self.runner.start()
        s = self.settings
        if self.spec.uploads and s.grpc_port > 0 and self.files is not None and self._grpc is None:
            from backend.grpc.server import start_grpc_server

            self._grpc = start_grpc_server(self.files, self.auth, s.host, s.grpc_port)
        if self.spec.streams == "thread" and self.streams is not None and self._streams_thread is None:
            self._streams_thread = threading.Thread(target=self.streams.run_in_thread, name="ftel-streams", daemon=True)
            self._streams_thread.start()

    def after_graph_rebuild(self) -> int:
        """A rebuilt graph holds what the events say, not what the batch jobs added (users filled in): every
        trace summary goes back to the fill job's list. How many."""
        assert self.summaries is not None
        return self.summaries.refill_all()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.streams is not None and self._streams_thread is not None:
            self.streams.stop()  # before the stores close: the consumer finishes its batch first
            self._streams_thread.join(timeout=20)
        if self._grpc is not None:
            self._grpc.stop(grace=5).wait(10)
        self.runner.stop()
        self.projector.close()  # merges what it holds (briefly); the rest waits in the log for the next start
        for name, close in reversed(self.closers):  # one failing close does not skip the others
            try:
                close()
            except Exception:
                log.exception("closing %s failed", name)


def build(settings: Settings, role: Role) -> Process:
    """Open the stores of `role` (migrating SQL), wire the services, and plan the background work (started
    by `Process.start()`). A store that cannot be opened raises its error; what was opened is closed."""
    spec = ROLES[role]
    settings.ensure_data_dir()
    failpoints.configure(settings.failpoints)
    closers: list[tuple[str, Callable[[], Any]]] = []
    try:
        return _build(settings, role, spec, closers)
    except BaseException:
        for name, close in reversed(closers):
            try:
                close()
            except Exception:
                log.exception("closing %s failed", name)
        raise


def _build(settings: Settings, role: Role, spec: RoleSpec, closers: list[tuple[str, Callable[[], Any]]]) -> Process:
    engine = open_engine(settings)
    closers.append(("sql", engine.dispose))
    upgrade(engine)
    events, accounts = SqlEventLog(engine), SqlAccounts(engine)
    graph = _graph(settings, spec)
    closers.append(("graph", graph.close))

    embedded: EmbeddedRedis | None = None
    redis_url = settings.redis_url if spec.redis != "none" else None
    if spec.redis == "embedded" and redis_url is None and settings.embedded_redis:
        password = settings.embedded_redis_password or stored_password(settings.embedded_redis_password_file)
        embedded = EmbeddedRedis(settings.data_dir / "redis", settings.embedded_redis_port, password, sync_redis)
        closers.append(("redis", embedded.close))
        redis_url = embedded.url
    # a Redis user per subscription, allowed only XADD to its stream: on by default where the Redis is ours
    manage_acl = settings.redis_manage_acl if settings.redis_manage_acl is not None else embedded is not None
    # one blocking client (a connection pool) for the process's own Redis work: administration, park media,
    # account notices, the graph write lock
    client = sync_redis(redis_url) if redis_url is not None else None
    admin: StreamAdmin | None = None
    notices: AccountNotices | None = None
    if client is not None:
        closers.append(("redis client", client.close))
        admin = StreamAdmin(client, settings.stream_group)
        notices = AccountNotices(client)
        closers.append(("account notices", notices.close))
        if not graph.capabilities.no_shared_writers:
            graph = serialized_writes(graph, settings, client)

    ingest, flow = wire_ingest(
        settings, events, graph, accounts, closers, flow=spec.flow, redis_client=client, admin=admin
    )
    projector = ingest.projector
    auth = Auth(accounts, settings, notify=notices.publish if notices else None)
    _ = auth.signing_key  # read now, while SQL answers: tokens are then verified without it
    signin = SignIn(auth, settings, signin_windows(client) if client is not None else None, MemoryStorage())
    subscriptions = Subscriptions(
        SqlSubscriptions(engine), accounts, settings, redis_url, admin, manage_acl=manage_acl and redis_url is not None
    )
    checks: list[tuple[str, Callable[[], None]]] = [("sql", lambda: ping_sql(engine)), ("graph", graph.ping)]
    objects: ObjectStore | None = None
    if spec.objects:
        objects = open_object_store(settings)
        closers.append(("files", objects.close))
        checks.append(("files", objects.ping))
    summaries, stats_store = SqlTraceSummaries(engine), SqlStats(engine)
    process = Process(
        role=role,
        settings=settings,
        engine=engine,
        graph=graph,
        events=events,
        auth=auth,
        signin=signin,
        notices=notices,
        admin=admin,
        projector=projector,
        ingest=ingest,
        queries=Queries(graph, events, settings.trace_graph_limit, summaries, _trace_rules(settings)),
        summaries=summaries,
        stats_store=stats_store,
        subscriptions=subscriptions,
        health=Health(checks, projector.state if "projector" in spec.tasks else None),
        objects=objects,
        flow=flow,
        redis_url=redis_url,
        embedded_redis=embedded,
        closers=closers,
    )
    process.stats = Stats(stats_store, settings.stats_unconverted_grace_seconds)
    catalog = SqlFileCatalog(engine) if objects is not None else None
    if objects is not None and catalog is not None:
        process.files = Files(catalog, objects, ingest, settings)
        process.retention = Retention(catalog, objects, ingest, settings)
    process.insights = Insights(
        graph,
        process.stats,
        catalog,
        objects.backend if objects is not None else None,
        settings.stuck_minutes,
        settings.retention_max_bytes,
    )
    if objects is not None and role in (Role.serve, Role.api):
        process.backups = backups_service(process)
    process.exports = Exports(
        SqlExports(engine),
        objects,
        process.queries,
        process.stats,
        ExportSettings(
            Limits(settings.export_chunk_events, settings.export_chunk_bytes),
            timedelta(hours=settings.export_ttl_hours),
            settings.export_lease_seconds,
            settings.export_max_active,
        ),
        holder=f"{socket.gethostname()}:{os.getpid()}:{role.value}",
    )
    if spec.streams != "none" and redis_url is not None:
        named = consumer_name(settings, "serve" if role is Role.serve else "worker")
        closers.append(("consumer slot", named.close))
        consumer = named.name
        process.streams = StreamRuntime(
            settings,
            subscriptions,
            ingest,
            redis_url,
            process.connect_redis,
            stream_sources(settings, consumer),
            consumer,
        )
    if spec.batch:
        process.batch = Batch(_batch_jobs(process), SqlJobLeases(engine), settings.batch_lease_seconds)
    process.runner = PeriodicRunner(
        [_task(process, name) for name in spec.tasks] + (process.batch.periodic() if process.batch else [])
    )
    process.cluster_jobs = [_cluster_job(process, name) for name in spec.cluster_jobs]
    return process


def wire_ingest(
    settings: Settings,
    events: EventLog,
    graph: GraphStore,
    accounts: AccountStore,
    closers: list[tuple[str, Callable[[], Any]]],
    *,
    flow: bool,
    redis_client: redis.Redis | None = None,
    admin: StreamAdmin | None = None,
) -> tuple[Ingest, FlowControl | None]:
    """The one ingest pipeline on these stores; with `flow`, behind flow control (allowances, pressure, the
    park media: the disk spool, and Redis when there is one, and the drainer)."""
    if not flow:
        return Ingest(events, _projector(settings, events, graph)), None
    accounting = Accounting(
        Allowance(settings.flow_events_per_second, settings.flow_bytes_per_second, settings.flow_burst_seconds)
    )
    pressure = Pressure(settings, events, graph, admin.consumer_lag if admin else None)
    parking = Parking(
        SpoolPark(Spool(settings.spool_dir, settings.flow_spool_segment_bytes)),
        RedisPark(redis_client) if redis_client is not None else None,
        settings.flow_redis_max_memory_mb,
    )
    closers.append(("park media", parking.close))
    policy = FlowPolicy(accounting, pressure, enabled=settings.flow_enabled)
    ingest = Ingest(
        events,
        _projector(settings, events, graph, policy.graph_deferred),
        policy=policy,
        parking=parking,
        park_quantum=settings.flow_drain_user_quantum,
    )
    return ingest, FlowControl(
        accounting, pressure, parking, Drainer(ingest, parking, pressure, settings), accounts, admin
    )


def _projector(
    settings: Settings, events: EventLog, graph: GraphStore, on_deferred: Callable[[], None] | None = None
) -> Projector:
    return Projector(
        events,
        graph,
        settings.graph_batch_size,
        settings.projector_grace_seconds,
        queue_events=settings.projector_queue_events,
        merge_events=settings.projector_merge_events,
        on_deferred=on_deferred,
    )


def _graph(settings: Settings, spec: RoleSpec) -> GraphStore:
    if spec.graph == "none":
        from graph.unavailable import UnavailableGraph

        return UnavailableGraph("this command does not open the graph")
    try:
        return open_graph(settings)
    except GraphError:
        if spec.graph == "required":
            raise
        from graph.unavailable import UnavailableGraph

        log.info("graph held by another process: its projector will merge this command's events")
        return UnavailableGraph()


def _task(p: Process, name: str) -> Periodic:
    """The periodic tasks a role may run, by name (the ROLES table picks them); an interval of 0 leaves
    out a task whose part this process does not have."""
    s = p.settings
    flow_on = p.flow is not None and s.flow_enabled

    def flow_check() -> None:
        assert p.flow is not None
        p.flow.check()

    def flow_drain() -> None:  # returns nothing: the drain rate, not the runner, paces the next tick
        assert p.flow is not None
        p.flow.drain_once()

    def retention() -> None:
        assert p.retention is not None
        p.retention.run()

    def account_notices() -> None:
        assert p.notices is not None
        p.notices.receive(p.auth.forget, p.auth.forget_all)

    def stream_job(job: StreamJob) -> Callable[[], None]:
        def run() -> None:
            if p.streams is None or not p.streams.started:  # the runtime's own start-up sync comes first
                return
            asyncio.run(job(p.subscriptions, p.connect_redis))

        return run

    def exports() -> bool:
        assert p.exports is not None
        return p.exports.run_once()

    def prune_consumers() -> None:
        if p.admin is not None:
            asyncio.run(jobs.prune_consumers(p.admin, s.consumer_grace_seconds))

    every_stream_tick = s.stream_reconcile_seconds if p.streams else 0
    table = {
        "projector": Periodic("projector", s.projector_interval_seconds, p.projector.catch_up),
        "sql-checkpoint": Periodic(
            "sql-checkpoint", s.sqlite_checkpoint_seconds if s.is_sqlite else 0, lambda: checkpoint(p.engine)
        ),
        "flow-check": Periodic("flow-check", s.flow_check_seconds if flow_on else 0, flow_check),
        "flow-drain": Periodic("flow-drain", s.flow_tick_seconds if flow_on else 0, flow_drain),
        "retention": Periodic("retention", s.retention_interval_seconds if p.retention else 0, retention),
        "auth-notices": Periodic("auth-notices", 0.5 if p.notices else 0, account_notices),
        "reconcile": Periodic("reconcile", every_stream_tick, stream_job(jobs.reconcile_subscriptions)),
        "expire-idle": Periodic("expire-idle", every_stream_tick, stream_job(jobs.expire_idle_subscriptions)),
        "prune-consumers": Periodic("prune-consumers", every_stream_tick, prune_consumers),
        "exports": Periodic("exports", s.export_poll_seconds if p.objects else 0, exports),
    }
    return table[name]


def _batch_jobs(p: Process) -> list[BatchJob]:
    """The batch app's jobs, in the order `ftel batch --once` runs them (each re-runnable; backend/batch)."""
    every = p.settings.batch_interval_seconds
    jobs: list[BatchJob] = []
    summaries, stats_store = p.summaries, p.stats_store
    assert summaries is not None and stats_store is not None
    p.rollups = Rollups(stats_store, p.settings.rollup_batch_events)
    jobs.append(BatchJob("rollups", every, p.rollups.run))
    jobs.append(BatchJob("summaries", every, Summaries(summaries, p.graph, _trace_rules(p.settings)).run))
    jobs.append(BatchJob("fill", every, Fill(summaries, p.graph, _trace_rules(p.settings)).run))
    jobs.append(BatchJob("relations", every, Relations(p.graph).run))
    return jobs


def _trace_rules(s: Settings) -> TraceRules:
    return TraceRules(idle=timedelta(minutes=s.trace_idle_minutes), grace=timedelta(minutes=s.fill_grace_minutes))


def _cluster_job(p: Process, name: str) -> ClusterJob:
    """The same stream jobs, run by ARQ cron once per cluster (`ftel worker`)."""
    every = p.settings.stream_reconcile_seconds
    if name == "prune-consumers":
        admin = p.admin
        assert admin is not None
        return ClusterJob(
            "prune_consumers", every, lambda: jobs.prune_consumers(admin, p.settings.consumer_grace_seconds)
        )
    job = {"reconcile": jobs.reconcile_subscriptions, "expire-idle": jobs.expire_idle_subscriptions}[name]
    return ClusterJob(job.__name__, every, lambda: job(p.subscriptions, p.connect_redis))
