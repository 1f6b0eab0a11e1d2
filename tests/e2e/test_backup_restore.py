"""Backup and restore, end to end (issue #14, docs/backup.md): an all-in-one (SQLite, embedded graph, local
files) with the seed scenario, ten uploaded files and retention records is backed up with `ftel backup` and
restored with `ftel restore` into PostgreSQL + Neo4j + S3, where `ftel api` answers the same traces, summaries,
lineage, retention records and byte-identical files, and takes new events. A cut or altered backup restores
nothing and says which part; a non-empty target is refused unless merging; a killed backup finishes when run
again; the admin route writes a backup into the object store that `ftel restore --from-store` reads."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from backend.bootstrap import open_directory, open_engine
from backend.db.dump import SqlTableDump
from backend.db.engine import upgrade
from backend.db.event_log import SqlEventLog
from backend.db.stats import SqlStats
from backend.db.summaries import SqlTraceSummaries
from backend.demo import seed_events
from backend.domain.projector import Projector
from backend.exports.artifacts import Artifacts
from backend.exports.restore import GraphNotRebuilt, Restore
from backend.settings import Settings
from graph.unavailable import UnavailableGraph
from tests.conftest import ADMIN, ROOT, Api, Server, services_stack, wait_for
from tests.storage_fixtures import S3Server

FILES = 10
KEEP = 8  # retention keeps the newest eight: two files deleted, two retention records
SOURCE_ENV = {
    **ADMIN,
    "FT_RETENTION_MAX_FILES": str(KEEP),
    "FT_RETENTION_GRACE_SECONDS": "0",
    "FT_RETENTION_INTERVAL_SECONDS": "0.5",
    "FT_BATCH_INTERVAL_SECONDS": "0.3",
}


def ftel(env: dict[str, str], data_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env, "FT_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env=full,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def content(i: int) -> bytes:
    return (f"file {i}\n".encode() + os.urandom(2000 + 300 * i)) * 3


@dataclass
class Source:
    data_dir: Path
    backup: Path
    seen: dict[str, Any]  # what the all-in-one answered before it stopped
    backup_seconds: float


def answers(api: Api, live_keys: list[str]) -> dict[str, Any]:
    """What a user reads: traces with summaries, a trace, lineage, retention records, file contents."""

    def ok(path: str, **params: Any) -> Any:
        r = api.get(path, params=params)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    traces = ok("/traces", limit=100)["items"]
    return {
        "traces": sorted((t["key"], t.get("user"), t.get("status"), t.get("summary")) for t in traces),
        "trace A": {k: v for k, v in ok("/traces/A").items() if k not in ("projection",)},
        "lineage": ok("/lineage/File4", direction="upstream"),
        "retention": [{k: v for k, v in r.items() if k != "backend"} for r in ok("/retention/records")["items"]],
        "files": {
            key: hashlib.sha256(api.get(f"/files/{key}/content").content).hexdigest() for key in sorted(live_keys)
        },
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    data_dir = tmp_path_factory.mktemp("aio")
    server = Server(SOURCE_ENV, "serve", data_dir)
    try:
        admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        assert admin.post("/events", json=seed_events("A") + seed_events("B", user="team-b")).status_code == 202
        for i in range(FILES):
            r = admin.post("/files", files={"file": (f"f{i}.bin", content(i))}, data={"trace": "A", "key": f"up-{i}"})
            assert r.status_code == 201, r.text
            time.sleep(0.01)  # distinct stored_at: retention deletes the two oldest
        wait_for(lambda: len(admin.get("/retention/records").json()["items"]) == FILES - KEEP, timeout=30)
        wait_for(lambda: admin.get("/traces/A").json().get("summary", {}).get("files"), timeout=30)
        live = [f"up-{i}" for i in range(FILES - KEEP, FILES)]
        seen = answers(admin, live)
    finally:
        server.stop()
    backup = tmp_path_factory.mktemp("backup") / "b1"
    started = time.monotonic()
    done = ftel({}, data_dir, "backup", "--out", str(backup), "--part-rows", "20")
    assert done.returncode == 0, done.stderr
    return Source(data_dir, backup, seen, time.monotonic() - started)


@dataclass
class Target:
    env: dict[str, str]
    data_dir: Path


@pytest.fixture
def services_target(tmp_path: Path, s3proxy_server: S3Server) -> Iterator[Target]:
    """PostgreSQL (a fresh database) + Neo4j (cleared) + S3 (a fresh bucket)."""
    env, drop = services_stack()
    env.update(s3proxy_server.env(f"restore-{uuid.uuid4().hex[:12]}"))
    yield Target({**env, **ADMIN}, tmp_path / "target")
    drop()


@pytest.fixture
def sqlite_target(tmp_path: Path) -> Target:
    """An all-in-one's stores, never started: quick to check for "nothing written"."""
    return Target(dict(ADMIN), tmp_path / "small")


def occupied(target: Target) -> list[str]:
    engine = open_engine(Settings(data_dir=target.data_dir))
    try:
        return SqlTableDump(engine).occupied()
    finally:
        engine.dispose()


def stored_files(target: Target) -> dict[str, dict[str, object]]:
    engine = open_engine(Settings(data_dir=target.data_dir))
    try:
        with SqlTableDump(engine).snapshot() as reader:
            return {str(r["key"]): r for r in reader.rows("stored_files", None, 1000)}
    finally:
        engine.dispose()


def stored_objects(target: Target) -> list[Path]:
    return [p for p in (target.data_dir / "files").rglob("*") if p.is_file() and ".tmp" not in p.parts]


def manifest(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads((path / "manifest.json").read_bytes())
    return data


def copy_of(backup: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(backup, copy)
    return copy


def test_an_all_in_one_restored_into_services_mode_answers_the_same(
    source: Source, services_target: Target, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = manifest(source.backup)
    assert m["source"] == {"database": "sqlite", "graph": "embedded", "storage": "local"}
    assert "rebuilt from the event log" in m["graph"]
    assert len(m["objects"]) == KEEP
    started = time.monotonic()
    done = ftel(services_target.env, services_target.data_dir, "restore", str(source.backup))
    restore_seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert f"{KEEP} stored files" in done.stdout
    size = sum(p.stat().st_size for p in source.backup.rglob("*") if p.is_file())
    with capsys.disabled():
        print(
            f"\nbackup: {size} bytes, {sum(t['rows'] for t in m['tables'])} rows, {len(m['objects'])} objects, "
            f"{source.backup_seconds:.1f} s; restore into PostgreSQL + Neo4j + S3: {restore_seconds:.1f} s"
        )
    server = Server(services_target.env, "api", services_target.data_dir)
    try:
        api = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        live = [f"up-{i}" for i in range(FILES - KEEP, FILES)]
        assert answers(api, live) == source.seen
        for key in live:  # named by the target's rules, in its bucket
            assert api.get(f"/files/{key}").json()["key"] == key
        sent = api.post("/events", json=seed_events("C"))
        assert sent.status_code == 202 and sent.json()["accepted"] > 0
        assert api.get("/traces/C").status_code == 200
        assert api.get("/lineage/File4", params={"direction": "upstream"}).status_code == 200
        # services mode backs itself up into its bucket, for `ftel restore --from-store`
        backup_id = api.post("/admin/backups").json()["id"]
        status = wait_for(
            lambda: (s := api.get(f"/admin/backups/{backup_id}").json())["status"] != "running" and s, timeout=60
        )
        assert status["status"] == "done" and status["objects"] == KEEP, status
    finally:
        server.stop()
    bucket = {k: v for k, v in services_target.env.items() if k.startswith("FT_S3") or k == "FT_STORAGE"}
    again = ftel({**ADMIN, **bucket}, tmp_path / "from-s3", "restore", "--from-store", backup_id)
    assert again.returncode == 0, again.stderr
    assert f"{KEEP} stored files" in again.stdout and "Traceback" not in again.stderr


def test_a_truncated_part_restores_nothing_and_names_the_part(
    source: Source, sqlite_target: Target, tmp_path: Path
) -> None:
    backup = copy_of(source.backup, tmp_path)
    part = backup / "tables" / "events" / "000001.ndjson.gz"
    data = part.read_bytes()
    part.write_bytes(data[:-7])
    done = ftel(sqlite_target.env, sqlite_target.data_dir, "restore", str(backup))
    assert done.returncode == 1
    assert "tables/events/000001.ndjson.gz" in done.stderr and "nothing was written" in done.stderr
    assert occupied(sqlite_target) == [] and stored_objects(sqlite_target) == []


def test_an_altered_object_restores_nothing(source: Source, sqlite_target: Target, tmp_path: Path) -> None:
    backup = copy_of(source.backup, tmp_path)
    obj = sorted((backup / "objects").iterdir())[3]
    data = bytearray(obj.read_bytes())
    data[100] ^= 0xFF
    obj.write_bytes(bytes(data))
    done = ftel(sqlite_target.env, sqlite_target.data_dir, "restore", str(backup))
    assert done.returncode == 1
    assert f"objects/{obj.name}" in done.stderr and "altered" in done.stderr
    assert occupied(sqlite_target) == [] and stored_objects(sqlite_target) == []


def test_a_decompression_bomb_is_refused(source: Source, sqlite_target: Target, tmp_path: Path) -> None:
    """A part that inflates far past what the manifest says, with its hash made to match."""
    import gzip

    backup = copy_of(source.backup, tmp_path)
    m = manifest(backup)
    part = m["tables"][0]["parts"][0]
    bomb = gzip.compress(b"{}\n" * 5_000_000, mtime=0)
    (backup / part["name"]).write_bytes(bomb)
    part.update(bytes=len(bomb), sha256=hashlib.sha256(bomb).hexdigest())
    (backup / "manifest.json").write_bytes(orjson.dumps(m))
    done = ftel(sqlite_target.env, sqlite_target.data_dir, "restore", str(backup))
    assert done.returncode == 1 and "inflates past" in done.stderr and part["name"] in done.stderr
    assert occupied(sqlite_target) == []


def test_a_non_empty_target_is_refused_unless_merging(source: Source, sqlite_target: Target) -> None:
    first = ftel(sqlite_target.env, sqlite_target.data_dir, "restore", str(source.backup))
    assert first.returncode == 0, first.stderr
    again = ftel(sqlite_target.env, sqlite_target.data_dir, "restore", str(source.backup))
    assert again.returncode == 1 and "not empty" in again.stderr
    merged = ftel(sqlite_target.env, sqlite_target.data_dir, "restore", "--merge", str(source.backup))
    assert merged.returncode == 0, merged.stderr
    assert "0 stored files" in merged.stdout and "graph merged from 0 events" in merged.stdout  # all known already


def test_a_killed_backup_finishes_when_run_again(source: Source, tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    killed = ftel({"FT_FAILPOINTS": "backup.part=4"}, source.data_dir, "backup", "--out", str(out), "--part-rows", "20")
    assert killed.returncode == -9
    assert not (out / "manifest.json").exists() and (out / "progress.json").exists()
    again = ftel({}, source.data_dir, "backup", "--out", str(out), "--part-rows", "20")
    assert again.returncode == 0, again.stderr
    assert "kept from the last run" in again.stdout
    first, second = manifest(source.backup), manifest(out)
    for m in (first, second):
        m.pop("created_at")
    assert second == first


def test_the_admin_route_backs_up_into_the_store_for_restore_from_store(
    source: Source, tmp_path: Path, sqlite_target: Target
) -> None:
    server = Server(SOURCE_ENV, "serve", source.data_dir)
    try:
        admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        reader = admin.account("read", "ingest", "export", name="not-admin")
        assert reader.post("/admin/backups").status_code == 403
        started = admin.post("/admin/backups")
        assert started.status_code == 202, started.text
        backup_id = started.json()["id"]
        assert reader.get(f"/admin/backups/{backup_id}").status_code == 403
        status = wait_for(
            lambda: (s := admin.get(f"/admin/backups/{backup_id}").json())["status"] != "running" and s, timeout=60
        )
        assert status["status"] == "done", status
        assert status["objects"] == KEEP and status["tables"]["events"] > 0
        assert admin.get(f"/admin/backups/{uuid.uuid4()}").status_code == 404
    finally:
        server.stop()
    # the all-in-one's store is its files directory: a target of the same FT_STORAGE_DIR reads it from there
    env = {**sqlite_target.env, "FT_STORAGE_DIR": str(source.data_dir / "files")}
    done = ftel(env, sqlite_target.data_dir, "restore", "--from-store", backup_id)
    assert done.returncode == 0, done.stderr
    assert f"{KEEP} stored files" in done.stdout


def test_merge_adds_new_events_and_files_with_free_keys(source: Source, sqlite_target: Target, tmp_path: Path) -> None:
    """Another all-in-one's backup (trace M, a file whose key the target has, one whose key is free) merged into
    a restored instance: the new events and the free-keyed file come in, the rest is skipped."""
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    server = Server(ADMIN, "serve", other_dir)
    try:
        api = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        assert api.post("/events", json=seed_events("M") + seed_events("A")).status_code == 202
        for key in ("up-9", "fresh-1"):
            r = api.post("/files", files={"file": (f"{key}.bin", content(42))}, data={"trace": "M", "key": key})
            assert r.status_code == 201, r.text
    finally:
        server.stop()
    other = tmp_path / "other-backup"
    assert ftel({}, other_dir, "backup", "--out", str(other)).returncode == 0
    assert ftel(sqlite_target.env, sqlite_target.data_dir, "restore", str(source.backup)).returncode == 0
    before = {p.name for p in stored_objects(sqlite_target)}
    files_before = stored_files(sqlite_target)
    merged = ftel(sqlite_target.env, sqlite_target.data_dir, "restore", "--merge", str(other))
    assert merged.returncode == 0, merged.stderr
    # trace M's events and the two file.stored events are new; trace A's seed events are known already
    new_events = len(seed_events("M")) + 2
    assert f"events {new_events}" in merged.stdout and "stored_files 1" in merged.stdout
    assert f"graph merged from {new_events} events" in merged.stdout
    added = {p.name for p in stored_objects(sqlite_target)} - before
    assert len(added) == 1
    files = stored_files(sqlite_target)
    assert set(files) == {*files_before, "fresh-1"}
    assert str(files["fresh-1"]["object_name"]).endswith(added.pop())
    assert files["up-9"] == files_before["up-9"]  # the target's own file stayed as it was
    # the other instance's admin is not an account of the target (another uuid): no owner, not a stranger's id
    assert files["fresh-1"]["account_id"] is None


def test_a_graph_that_fails_after_the_load_says_what_is_restored(source: Source, tmp_path: Path) -> None:
    """The tables and files are committed before the graph is rebuilt: a graph store failing then is reported
    as such (restore incomplete: run `ftel graph rebuild`), not as "nothing was written"."""
    settings = Settings(data_dir=tmp_path / "t")
    settings.ensure_data_dir()
    engine = open_engine(settings)
    try:
        upgrade(engine)
        restore = Restore(
            SqlTableDump(engine),
            open_directory(tmp_path / "t" / "files"),
            Artifacts(open_directory(source.backup)),
            Projector(SqlEventLog(engine), UnavailableGraph("graph store down")),
            SqlTraceSummaries(engine),
            SqlStats(engine),
        )
        with pytest.raises(GraphNotRebuilt, match="ftel graph rebuild"):
            restore.run()
        assert SqlTableDump(engine).occupied() == ["events", "stored_files", "retention_records"]
    finally:
        engine.dispose()


def test_restoring_into_a_started_all_in_one_retires_its_first_admin_credentials(
    source: Source, tmp_path: Path
) -> None:
    """The target's accounts become the backup's: the credentials file of its own first admin would only
    mislead, so it goes, and restore says so."""
    target = tmp_path / "started"
    target.mkdir()
    Server({}, "serve", target).stop()  # first start: an admin is made and written to admin-credentials
    credentials = target / "admin-credentials"
    assert credentials.is_file()
    done = ftel({}, target, "restore", str(source.backup))
    assert done.returncode == 0, done.stderr
    assert not credentials.exists() and "the accounts are now the backup's" in " ".join(done.stdout.split())
