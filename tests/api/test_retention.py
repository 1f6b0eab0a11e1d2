"""Retention: each rule (size, count, age) deletes the oldest files first, writes one record per
deletion and leaves the lineage node with status `expired`; grace periods, dry runs, overlapping
runs and failed deletes. The rules run in-process on SQLite and PostgreSQL with a movable clock;
the schedule, GET /retention/records and `ftel retention run` run against a real server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.bootstrap import open_engine, open_graph, wire_ingest
from backend.db.accounts import SqlAccounts
from backend.db.base import LiveTotals
from backend.db.engine import upgrade
from backend.db.event_log import SqlEventLog
from backend.db.files import SqlFileCatalog
from backend.domain import retention as retention_module
from backend.domain.files import Content, Files
from backend.domain.retention import Limits, Retention, RetentionReport
from backend.errors import NotFound
from backend.settings import Settings
from backend.storage.base import ObjectStore, StorageError
from backend.storage.local import LocalObjectStore
from tests.conftest import ADMIN, ROOT, Api, Server, wait_for
from tests.storage_fixtures import S3Server, new_bucket

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Source:
    """An in-process upload: every field known up front."""

    fields: dict[str, str]
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    def fields_before_file(self) -> dict[str, str]:
        return self.fields

    def file_chunks(self) -> Iterator[bytes]:
        yield self.data

    def all_fields(self) -> dict[str, str]:
        return self.fields


class Ctx:
    """The file use cases in-process, on real SQL and the embedded graph, with a movable clock and an object
    store the test may swap (a flaky one, another backend)."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        settings.ensure_data_dir()
        self.settings = settings
        self.engine = open_engine(settings)
        upgrade(self.engine)
        self.graph = open_graph(settings)
        self.catalog = SqlFileCatalog(self.engine)
        self.ingest, _ = wire_ingest(
            settings, SqlEventLog(self.engine), self.graph, SqlAccounts(self.engine), [], flow=False
        )
        self.clock = Clock(T0)
        self.store: ObjectStore = LocalObjectStore(tmp_path / "files")

    @property
    def files(self) -> Files:
        return Files(self.catalog, self.store, self.ingest, self.settings, self.clock)

    @property
    def retention(self) -> Retention:
        return Retention(self.catalog, self.store, self.ingest, self.settings, self.clock)

    def close(self) -> None:
        self.graph.close()
        self.engine.dispose()


FileContext = Ctx


def upload(ctx: Ctx, source: Any, account_id: int | None) -> dict[str, Any]:
    return ctx.files.upload(source, account_id)


def metadata(ctx: Ctx, key: str) -> dict[str, Any]:
    return ctx.files.metadata(key)


def content(ctx: Ctx, key: str) -> Content:
    return ctx.files.content(key)


def run_retention(ctx: Ctx, **kwargs: Any) -> RetentionReport:
    return ctx.retention.run(**kwargs)


def live_bytes(ctx: Ctx, backend: str = "local") -> int:
    seen: list[LiveTotals] = []
    ctx.catalog.plan_marks(backend, lambda totals, files: seen.append(totals) or [], T0, apply=False)
    return seen[0].stored_bytes


@pytest.fixture
def ctx(sql_settings: Settings, tmp_path: Path) -> Iterator[Ctx]:
    context = Ctx(sql_settings, tmp_path)
    yield context
    context.close()


def store_file(
    ctx: FileContext, key: str, size: int, at: datetime, trace: str = "ret-trace", group: str = "ret-group"
) -> dict[str, Any]:
    ctx.clock.now = at  # type: ignore[attr-defined]
    # distinct bytes per file, incompressible enough that stored sizes differ with `size`
    return upload(ctx, Source({"trace": trace, "key": key, "group": group}, os.urandom(size)), None)


def node_status(ctx: FileContext, key: str) -> str | None:
    node = ctx.graph.node(key)
    return None if node is None else node["status"]


def records(ctx: FileContext) -> list[dict[str, Any]]:
    return [
        {"key": r.file_key, "rule": r.rule, "bytes": r.bytes, "deleted_at": r.deleted_at}
        for r in reversed(ctx.catalog.retention_records(1000, None, None, None))
    ]


def assert_expired(ctx: FileContext, key: str) -> None:
    assert metadata(ctx, key)["state"] == "expired"
    with pytest.raises(NotFound):
        content(ctx, key)
    assert node_status(ctx, key) == "expired"
    nodes = {n["key"]: n["status"] for n in ctx.graph.trace_graph("ret-trace").nodes}
    assert nodes[key] == "expired"  # the node stays in its trace


def assert_held(ctx: FileContext, key: str) -> None:
    assert metadata(ctx, key)["state"] in ("stored", "marked")
    assert b"".join(content(ctx, key).chunks)
    assert node_status(ctx, key) == "stored"


# -- the three rules ---------------------------------------------------------------------------


def test_size_rule_deletes_oldest_files_until_the_total_fits(ctx: FileContext) -> None:
    stored = [store_file(ctx, f"size-{i}", 4000 + i, T0 + timedelta(minutes=i)) for i in range(4)]
    limit = stored[2]["stored_size"] + stored[3]["stored_size"]
    now = T0 + timedelta(hours=1)
    report = run_retention(ctx, now=now, limits=Limits(max_bytes=limit))
    assert [d.key for d in report.deleted] == ["size-0", "size-1"]
    assert records(ctx) == [
        {"key": f"size-{i}", "rule": "max_bytes", "bytes": stored[i]["stored_size"], "deleted_at": now} for i in (0, 1)
    ]
    for i in (0, 1):
        assert_expired(ctx, f"size-{i}")
    for i in (2, 3):
        assert_held(ctx, f"size-{i}")
    assert len(list(ctx.store.list())) == 2
    assert live_bytes(ctx) == limit


def test_count_rule_keeps_the_newest_files(ctx: FileContext) -> None:
    for i in range(5):
        store_file(ctx, f"count-{i}", 100, T0 + timedelta(seconds=i))
    report = run_retention(ctx, now=T0 + timedelta(minutes=5), limits=Limits(max_files=2))
    assert [(d.key, d.rule) for d in report.deleted] == [
        ("count-0", "max_files"),
        ("count-1", "max_files"),
        ("count-2", "max_files"),
    ]
    assert [r["key"] for r in records(ctx)] == ["count-0", "count-1", "count-2"]
    for i in range(3):
        assert_expired(ctx, f"count-{i}")
    for i in (3, 4):
        assert_held(ctx, f"count-{i}")
    # a second run has nothing to do
    assert run_retention(ctx, now=T0 + timedelta(minutes=6), limits=Limits(max_files=2)).deleted == []
    assert len(records(ctx)) == 3


def test_age_rule_deletes_files_older_than_the_limit(ctx: FileContext) -> None:
    now = T0 + timedelta(days=30)
    for days in (10, 8, 6, 1):
        store_file(ctx, f"age-{days}d", 200, now - timedelta(days=days))
    report = run_retention(ctx, now=now, limits=Limits(max_age_days=7))
    assert [(d.key, d.rule) for d in report.deleted] == [("age-10d", "max_age"), ("age-8d", "max_age")]
    assert [(r["key"], r["rule"], r["deleted_at"]) for r in records(ctx)] == [
        ("age-10d", "max_age", now),
        ("age-8d", "max_age", now),
    ]
    assert_expired(ctx, "age-10d")
    assert_expired(ctx, "age-8d")
    assert_held(ctx, "age-6d")
    assert_held(ctx, "age-1d")


def test_rules_combine_each_file_under_the_first_rule_that_applies(ctx: FileContext) -> None:
    now = T0 + timedelta(days=10)
    for i in range(6):
        store_file(ctx, f"mix-{i}", 1000, now - timedelta(days=9 - i))  # 9..4 days old
    report = run_retention(ctx, now=now, limits=Limits(max_age_days=7.5, max_files=3))
    assert [(d.key, d.rule) for d in report.deleted] == [
        ("mix-0", "max_age"),
        ("mix-1", "max_age"),
        ("mix-2", "max_files"),
    ]


# -- grace, dry runs, overlap, failures ----------------------------------------------------------


def test_files_are_marked_first_and_deleted_after_the_grace_period(ctx: FileContext) -> None:
    for i in range(3):
        store_file(ctx, f"grace-{i}", 100, T0 + timedelta(seconds=i))
    limits = Limits(max_files=1, grace_seconds=3600)
    first = run_retention(ctx, now=T0 + timedelta(minutes=1), limits=limits)
    assert [d.key for d in first.marked] == ["grace-0", "grace-1"] and first.deleted == []
    assert metadata(ctx, "grace-0")["state"] == "marked" and metadata(ctx, "grace-0")["marked_rule"] == "max_files"
    assert b"".join(content(ctx, "grace-0").chunks)  # still downloadable while marked
    assert records(ctx) == [] and node_status(ctx, "grace-0") == "stored"
    assert run_retention(ctx, now=T0 + timedelta(minutes=30), limits=limits).deleted == []
    later = run_retention(ctx, now=T0 + timedelta(minutes=62), limits=limits)
    assert [d.key for d in later.deleted] == ["grace-0", "grace-1"]
    assert [r["key"] for r in records(ctx)] == ["grace-0", "grace-1"]
    assert_expired(ctx, "grace-0")
    assert_held(ctx, "grace-2")


def test_dry_run_reports_and_changes_nothing(ctx: FileContext) -> None:
    for i in range(4):
        store_file(ctx, f"dry-{i}", 100, T0 + timedelta(seconds=i))
    before = sorted(i.name for i in ctx.store.list())
    dry = run_retention(ctx, dry_run=True, now=T0 + timedelta(hours=1), limits=Limits(max_files=1))
    assert [d.key for d in dry.deleted] == ["dry-0", "dry-1", "dry-2"]
    assert sorted(i.name for i in ctx.store.list()) == before
    assert records(ctx) == [] and all(metadata(ctx, f"dry-{i}")["state"] == "stored" for i in range(4))
    real = run_retention(ctx, now=T0 + timedelta(hours=1), limits=Limits(max_files=1))
    assert [d.key for d in real.deleted] == [d.key for d in dry.deleted]


def test_overlapping_runs_delete_each_file_once(ctx: FileContext, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(12):
        store_file(ctx, f"overlap-{i}", 100, T0 + timedelta(seconds=i))
    plan = retention_module.planner
    planning = threading.Event()

    def slow_planner(*args: Any) -> Any:  # widen the window between reading the totals and marking
        inner = plan(*args)

        def slow(totals: LiveTotals, files: Any) -> Any:
            marks = inner(totals, files)
            planning.set()
            time.sleep(0.2)  # not a wait for anything: the runs started meanwhile contend for the lock
            return marks

        return slow

    monkeypatch.setattr(retention_module, "planner", slow_planner)
    reports = []

    def run() -> None:
        reports.append(run_retention(ctx, now=T0 + timedelta(hours=1), limits=Limits(max_files=2)))

    threads = [threading.Thread(target=run) for _ in range(3)]
    threads[0].start()
    assert planning.wait(timeout=60)  # the first run has read the totals and is marking (its lock held)
    for t in threads[1:]:  # the others run into it
        t.start()
    for t in threads:
        t.join()
    deleted = [d.key for r in reports for d in r.deleted]
    assert sorted(deleted) == sorted(f"overlap-{i}" for i in range(10))  # each once, across runs
    assert len(records(ctx)) == 10
    assert sum(1 for e in _events_of(ctx, "file.expired")) == 10  # one lineage event per file


def _events_of(ctx: FileContext, event_type: str) -> list[Any]:
    from sqlalchemy import select

    from backend.db.models import Event

    with ctx.engine.connect() as conn:
        return list(conn.execute(select(Event.node_key).where(Event.type == event_type)))


class FlakyStore:
    """Delegates to a real store; the first `failures` deletes fail like an unreachable S3."""

    def __init__(self, inner: ObjectStore, failures: int) -> None:
        self._inner, self.failures = inner, failures
        self.backend = inner.backend

    def delete(self, name: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise StorageError("connection refused")
        self._inner.delete(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_failed_delete_keeps_the_file_marked_and_the_next_run_finishes_it(ctx: FileContext) -> None:
    store_file(ctx, "flaky-0", 100, T0)
    store_file(ctx, "flaky-1", 100, T0 + timedelta(seconds=1))
    ctx.store = FlakyStore(ctx.store, failures=1)  # type: ignore[assignment]
    first = run_retention(ctx, now=T0 + timedelta(minutes=1), limits=Limits(max_files=1))
    assert first.failed == ["flaky-0"] and first.deleted == []
    assert metadata(ctx, "flaky-0")["state"] == "marked" and records(ctx) == []
    assert b"".join(content(ctx, "flaky-0").chunks)  # the object is still there
    second = run_retention(ctx, now=T0 + timedelta(minutes=2), limits=Limits(max_files=1))
    assert [d.key for d in second.deleted] == ["flaky-0"]
    assert [r["key"] for r in records(ctx)] == ["flaky-0"]
    assert_expired(ctx, "flaky-0")


def test_retention_works_per_backend(ctx: FileContext, s3_server: S3Server) -> None:
    local = ctx.store
    s3 = s3_server.store(new_bucket())
    for i in range(2):
        store_file(ctx, f"local-{i}", 100, T0 + timedelta(seconds=i))
    ctx.store = s3
    for i in range(3):
        store_file(ctx, f"s3-{i}", 100, T0 + timedelta(seconds=i))
    report = run_retention(ctx, now=T0 + timedelta(minutes=1), limits=Limits(max_files=1))
    assert [d.key for d in report.deleted] == ["s3-0", "s3-1"]
    assert [i.name.split("/")[-1] for i in s3.list()] and len(list(s3.list())) == 1
    assert_expired(ctx, "s3-0")
    assert all(metadata(ctx, f"local-{i}")["state"] == "stored" for i in range(2))
    ctx.store = local
    assert [d.key for d in run_retention(ctx, now=T0 + timedelta(minutes=1), limits=Limits(max_files=1)).deleted] == [
        "local-0"
    ]
    for info in list(s3.list()):
        s3.delete(info.name)


def test_no_limits_means_nothing_is_deleted(ctx: FileContext) -> None:
    for i in range(3):
        store_file(ctx, f"keep-{i}", 100, T0 - timedelta(days=3650))
    assert run_retention(ctx, now=T0, limits=Limits()).deleted == []
    assert records(ctx) == []


# -- the server: schedule, REST records, CLI ---------------------------------------------------


@pytest.fixture
def retention_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own: its retention counts every file the server holds, so a test sharing it
    would see another's files deleted or kept."""
    env = {
        **ADMIN,
        "FT_RETENTION_MAX_FILES": "2",
        "FT_RETENTION_GRACE_SECONDS": "0",
        "FT_RETENTION_INTERVAL_SECONDS": "0.5",
    }
    srv = Server(env, "serve", tmp_path)
    yield srv
    srv.stop()


def ftel(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FT_") or k.startswith("FT_TEST_")}
    full = {**clean, "FT_DATA_DIR": str(server.data_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args], env=full, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_scheduled_retention_records_and_expired_nodes_over_http(retention_server: Server) -> None:
    admin = Api(retention_server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    reader, ingest = admin.account("read", name="auditor"), admin.account("ingest", name="app")
    keys = []
    for i in range(3):
        r = ingest.post(
            "/files", files={"file": (f"f{i}", f"file {i}".encode())}, data={"trace": "sched", "key": f"sched-{i}"}
        )
        assert r.status_code == 201, r.text
        keys.append((r.json()["key"], r.json()["stored_size"]))
    listed = wait_for(lambda: reader.get("/retention/records").json()["items"], timeout=20)
    assert [(x["key"], x["rule"], x["bytes"], x["trace"]) for x in listed] == [
        ("sched-0", "max_files", keys[0][1], "sched")
    ]
    assert listed[0]["deleted_at"] >= listed[0]["marked_at"] >= listed[0]["stored_at"]
    assert reader.get("/files/sched-0").json()["state"] == "expired"
    assert reader.get("/files/sched-0/content").status_code == 404
    assert wait_for(lambda: reader.get("/nodes/sched-0").json()["node"]["status"] == "expired")
    graph = {n["key"]: n["status"] for n in reader.get("/traces/sched/graph").json()["nodes"]}
    assert graph == {"sched-0": "expired", "sched-1": "stored", "sched-2": "stored"}
    assert ingest.get("/retention/records").status_code == 403
    assert reader.get("/retention/records?rule=max_age").json()["items"] == []
    assert [x["key"] for x in reader.get("/retention/records?key=sched-0").json()["items"]] == ["sched-0"]


def test_cli_dry_run_prints_and_changes_nothing_then_a_real_run_deletes(retention_server: Server) -> None:
    admin = Api(retention_server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    for i in range(2):  # as many as the server's own limit keeps (FT_RETENTION_MAX_FILES=2)
        r = admin.post("/files", files={"file": (f"c{i}", b"cli")}, data={"trace": "cli", "key": f"cli-{i}"})
        assert r.status_code == 201
    before = admin.get("/retention/records?limit=1000").json()["items"]
    assert before == []
    held = [k for k in ("cli-0", "cli-1") if admin.get(f"/files/{k}").json()["state"] == "stored"]
    assert held == ["cli-0", "cli-1"]
    dry = ftel(
        retention_server, "retention", "run", "--dry-run", FT_RETENTION_MAX_FILES="1", FT_RETENTION_GRACE_SECONDS="0"
    )
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {held[0]}" in dry.stdout.replace("  ", " ") or f"would delete  {held[0]}" in dry.stdout
    assert "1 files" in dry.stdout and held[1] not in dry.stdout
    assert admin.get("/retention/records?limit=1000").json()["items"] == before
    real = ftel(retention_server, "retention", "run", FT_RETENTION_MAX_FILES="1", FT_RETENTION_GRACE_SECONDS="0")
    assert real.returncode == 0, real.stderr
    assert "deleted" in real.stdout and held[0] in real.stdout
    after = admin.get("/retention/records?limit=1000").json()["items"]
    assert after[0]["key"] == held[0] and len(after) == len(before) + 1
    # the CLI cannot open the embedded graph the server holds: the server's projector marks it expired
    assert wait_for(lambda: admin.get(f"/nodes/{held[0]}").json()["node"]["status"] == "expired")
