"""Export jobs (backend/exports) on SQLite and a local object store, with a clock of the test's own: a runner
killed half-way is resumed after its last recorded chunk with nothing lost or doubled, chunks keep to both
limits, exports expire and their chunks go, an account's active exports are bounded, and `verify` finds a
missing, altered or miscounted chunk."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from backend.bootstrap import open_directory, open_engine
from backend.db.engine import upgrade
from backend.db.event_log import SqlEventLog
from backend.db.exports import SqlExports
from backend.domain.auth import Principal
from backend.errors import Gone, TooManyRequests
from backend.exports.artifacts import Artifacts
from backend.exports.chunks import Limits, verify
from backend.exports.service import ExportRequest, Exports, ExportSettings
from backend.settings import Settings
from tests.conftest import log_rows

ADMIN = Principal(1, "00000000-0000-0000-0000-0000000000aa", "admin", frozenset({"admin"}))
EVENTS = 1000


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(Settings(data_dir=tmp_path))
    upgrade(engine)
    log = SqlEventLog(engine)
    log.insert(
        log_rows(
            [
                {
                    "type": "log",
                    "trace": "T",
                    "message": f"line {n} " + "x" * (n % 50),
                    "time": f"2026-01-01T00:00:{n % 60:02d}Z",
                }
                for n in range(EVENTS)
            ]
        )
    )
    yield engine
    engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def exports(engine: Engine, tmp_path: Path, clock: Clock, holder: str = "r1", **limits: Any) -> Exports:
    settings = ExportSettings(
        Limits(limits.get("events", 300), limits.get("bytes", 64 * 1024)), timedelta(hours=1), 30, 2
    )
    objects = open_directory(tmp_path / "objects")
    return Exports(SqlExports(engine), objects, None, None, settings, holder, now=clock)  # type: ignore[arg-type]


def lines(folder: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for c in manifest["chunks"]
        for line in gzip.decompress((folder / c["name"]).read_bytes()).splitlines()
    ]


def test_chunks_keep_to_both_limits(engine: Engine, tmp_path: Path) -> None:
    clock = Clock()
    by_count = exports(engine, tmp_path, clock, events=300, bytes=10**6)
    manifest = by_count.write_to(Artifacts(open_directory(tmp_path / "a")), ExportRequest("events", trace="T"))
    assert [c["events"] for c in manifest["chunks"]] == [300, 300, 300, 100]
    by_size = exports(engine, tmp_path, clock, events=10**6, bytes=64 * 1024)
    manifest = by_size.write_to(Artifacts(open_directory(tmp_path / "b")), ExportRequest("events", trace="T"))
    assert len(manifest["chunks"]) > 2 and manifest["events"] == EVENTS
    for c in manifest["chunks"]:
        assert len(gzip.decompress((tmp_path / "b" / c["name"]).read_bytes())) <= 64 * 1024
    got = lines(tmp_path / "b", manifest)
    assert [r["seq"] for r in got] == list(range(1, EVENTS + 1))
    assert verify(Artifacts(open_directory(tmp_path / "b"))).ok


def test_a_killed_runner_is_resumed_after_its_last_chunk(engine: Engine, tmp_path: Path) -> None:
    clock = Clock()
    first = exports(engine, tmp_path, clock, holder="killed")
    row = first.create(ADMIN, ExportRequest("events", trace="T"))
    # the first runner writes two chunks, then dies (its third chunk's object may be half-written: ignored)
    claimed = first.store.claim("killed", 0.01)
    assert claimed is not None
    recorded = 0

    def record(chunk: Any) -> bool:
        nonlocal recorded
        if recorded == 2:
            raise KeyboardInterrupt  # SIGKILL stands here: nothing after it runs
        recorded += 1
        return first.store.record_chunk(row.uuid, "killed", chunk, 0.01)

    from backend.exports.chunks import write_chunks

    with pytest.raises(KeyboardInterrupt):
        write_chunks(
            first.content(claimed), claimed, first.settings.limits, (0, ""), first._folder(claimed).put, record
        )
    import time

    time.sleep(0.05)  # its lease runs out
    second = exports(engine, tmp_path, clock, holder="next")
    assert second.run_once()
    done = second.get(ADMIN, row.uuid)
    assert done.status == "done" and done.events == EVENTS and done.chunks > 2
    manifest = second.manifest(ADMIN, row.uuid)
    folder = tmp_path / "objects" / "exports" / row.uuid
    got = lines(folder, manifest)
    assert [r["seq"] for r in got] == list(range(1, EVENTS + 1))  # nothing lost, nothing twice
    assert verify(Artifacts(open_directory(folder))).ok


def test_exports_expire_and_their_chunks_go(engine: Engine, tmp_path: Path) -> None:
    clock = Clock()
    service = exports(engine, tmp_path, clock)
    row = service.create(ADMIN, ExportRequest("events", trace="T"))
    assert service.run_once()
    assert (tmp_path / "objects" / "exports" / row.uuid / "manifest.json").exists()
    clock.now += timedelta(hours=2)
    assert not service.run_once()  # nothing to run; the expiry happened on the way
    assert not (tmp_path / "objects" / "exports" / row.uuid).exists() or not any(
        (tmp_path / "objects" / "exports" / row.uuid).iterdir()
    )
    assert service.get(ADMIN, row.uuid).status == "expired"
    with pytest.raises(Gone):
        service.manifest(ADMIN, row.uuid)
    with pytest.raises(Gone):
        service.chunk(ADMIN, row.uuid, 1)


def test_an_account_has_a_bounded_number_of_active_exports(engine: Engine, tmp_path: Path) -> None:
    service = exports(engine, tmp_path, Clock())
    service.create(ADMIN, ExportRequest("events", trace="T"))
    service.create(ADMIN, ExportRequest("events", trace="T"))
    with pytest.raises(TooManyRequests):
        service.create(ADMIN, ExportRequest("events", trace="T"))
    other = Principal(2, "00000000-0000-0000-0000-0000000000bb", "other", frozenset({"export", "read"}))
    service.create(other, ExportRequest("events", trace="T"))  # per account
    assert service.run_once()
    service.create(ADMIN, ExportRequest("events", trace="T"))  # one finished: room again


def test_verify_finds_missing_altered_and_miscounted_chunks(engine: Engine, tmp_path: Path) -> None:
    service = exports(engine, tmp_path, Clock())
    folder = tmp_path / "v"
    manifest = service.write_to(Artifacts(open_directory(folder)), ExportRequest("events", trace="T"))
    assert verify(Artifacts(open_directory(folder))).ok
    names = [c["name"] for c in manifest["chunks"]]
    (folder / names[0]).unlink()
    lied = dict(manifest)
    lied["chunks"] = [dict(c) for c in manifest["chunks"]]
    lied["chunks"][2]["events"] += 1  # the manifest itself altered
    (folder / "manifest.json").write_text(json.dumps(lied))
    data = bytearray((folder / names[1]).read_bytes())
    data[-1] ^= 0xFF
    (folder / names[1]).write_bytes(bytes(data))
    verdict = verify(Artifacts(open_directory(folder)))
    assert not verdict.ok
    text = "\n".join(verdict.problems)
    third = manifest["chunks"][2]["events"]
    assert f"{names[0]}: missing" in text and f"{names[1]}: " in text
    assert f"{names[2]}: {third} records; the manifest says {third + 1}" in text
    (folder / "manifest.json").write_text("{not json")
    assert not verify(Artifacts(open_directory(folder))).ok


def test_a_runner_that_loses_its_export_mid_chunk_stops(engine: Engine, tmp_path: Path) -> None:
    from backend.exports.chunks import ExportLost, write_chunks

    service = exports(engine, tmp_path, Clock(), events=10**6, bytes=10**7)
    row = service.create(ADMIN, ExportRequest("events", trace="T"))
    claimed = service.store.claim("r1", 30)
    assert claimed is not None
    beats = iter([True, False])  # the second page finds the lease gone
    content = service.content(claimed)
    content.page = 400  # type: ignore[attr-defined]
    with pytest.raises(ExportLost):
        write_chunks(
            content,
            claimed,
            service.settings.limits,
            (0, ""),
            service._folder(claimed).put,
            lambda c: True,
            lambda: next(beats),
        )
    assert service.store.chunks(row.uuid) == []


def test_a_stats_export_at_the_end_of_the_calendar_is_refused_or_runs(engine: Engine, tmp_path: Path) -> None:
    from backend.batch.stats import Stats
    from backend.db.stats import SqlStats
    from backend.errors import InvalidInput

    settings = ExportSettings(Limits(1000, 10**6), timedelta(hours=1), 30, 2)
    service = Exports(
        SqlExports(engine), open_directory(tmp_path / "o"), None, Stats(SqlStats(engine), 900), settings, "r"
    )  # type: ignore[arg-type]
    end = datetime(9999, 12, 30, tzinfo=UTC)
    done = service.write_to(
        Artifacts(open_directory(tmp_path / "s")),
        ExportRequest("stats", since=datetime(9999, 1, 1, tzinfo=UTC), until=end, window="12h"),
    )
    assert done["events"] == 0 and done["query"]["until"] == "9999-12-30T00:00:00Z"
    with pytest.raises(InvalidInput, match="at most 100,000 windows"):
        service.write_to(
            Artifacts(open_directory(tmp_path / "t")),
            ExportRequest("stats", since=datetime(1970, 1, 1, tzinfo=UTC), until=end, window="15m"),
        )
