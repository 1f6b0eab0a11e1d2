"""The FileCatalog contract (backend/db/base.py) on SQLite and PostgreSQL. The retention rules on top of
it are specified in tests/api/test_retention.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from backend.db.base import FileCatalog, LiveTotals, Mark, StoredFileRow
from backend.db.files import SqlFileCatalog
from backend.errors import Conflict, SqlUnavailable, StorageError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def catalog(sql_engine: Engine) -> FileCatalog:
    return SqlFileCatalog(sql_engine)


def row(
    n: int, *, group: str = "g", at: datetime | None = None, size: int = 100, backend: str = "local"
) -> StoredFileRow:
    return StoredFileRow(
        uuid=f"0190f2d4-0000-7000-8000-{n:012d}",
        key=f"f-{n}",
        trace_key="t",
        group_key=group,
        filename=None,
        content_type=None,
        backend=backend,
        object_name=f"2026/03/01/{n}.zst",
        codec="zstd",
        size=size,
        stored_size=size // 2,
        sha256="0" * 64,
        account_id=None,
        stored_at=at or T0 + timedelta(minutes=n),
    )


def test_insert_assigns_an_id_and_refuses_a_taken_key(catalog: FileCatalog) -> None:
    stored = catalog.insert(row(1))
    assert stored.id is not None and stored.state == "stored"
    assert catalog.by_key("f-1") == stored and catalog.key_taken("f-1") and not catalog.key_taken("f-2")
    with pytest.raises(Conflict):
        catalog.insert(row(1))
    assert catalog.by_key("nope") is None


def test_groups_and_days_list_held_files_in_upload_order(catalog: FileCatalog) -> None:
    for n in (1, 2, 3):
        catalog.insert(row(n, group="g1" if n != 2 else "g2"))
    catalog.insert(row(4, group="g1", at=T0 + timedelta(days=1)))
    assert [f.key for f in catalog.in_group("g1")] == ["f-1", "f-3", "f-4"]
    assert catalog.group_exists("g2") and not catalog.group_exists("g3")
    assert [f.key for f in catalog.of_day(T0)] == ["f-1", "f-2", "f-3"]


def test_planning_sees_totals_and_oldest_first_and_marks_only_when_applied(catalog: FileCatalog) -> None:
    for n in (3, 1, 2):
        catalog.insert(row(n))
    seen: list[object] = []

    def plan(totals: LiveTotals, files: object) -> list[Mark]:
        listed = list(files)  # type: ignore[call-overload]
        seen.append((totals, [f.key for f in listed]))
        return [(listed[0], "max_files")]

    dry = catalog.plan_marks("local", plan, T0, apply=False)
    assert seen == [(LiveTotals(3, 150), ["f-1", "f-2", "f-3"])] and [f.key for f, _ in dry] == ["f-1"]
    assert catalog.marked("local") == []
    catalog.plan_marks("local", plan, T0, apply=True)
    [marked] = catalog.marked("local")
    assert (marked.key, marked.state, marked.marked_rule, marked.marked_at) == ("f-1", "marked", "max_files", T0)
    assert catalog.marked("local", before=T0 - timedelta(seconds=1)) == []
    assert catalog.marked("other-backend") == []


def test_two_runs_planning_at_once_never_mark_from_the_same_totals(catalog: FileCatalog) -> None:
    for n in range(1, 7):
        catalog.insert(row(n))
    start = threading.Barrier(2)

    def plan_two_over(totals: LiveTotals, files: object) -> list[Mark]:
        listed = list(files)  # type: ignore[call-overload]
        return [(f, "max_files") for f in listed[: max(0, totals.files - 4)]]

    def run() -> None:
        start.wait()
        catalog.plan_marks("local", plan_two_over, T0, apply=True)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [f.key for f in catalog.marked("local")] == ["f-1", "f-2"]


def test_expire_claims_deletes_and_records_once(catalog: FileCatalog) -> None:
    stored = catalog.insert(row(1))
    catalog.plan_marks("local", lambda totals, files: [(next(iter(files)), "max_age")], T0, apply=True)  # type: ignore[call-overload]
    [marked] = catalog.marked("local")
    deleted: list[str] = []
    record = catalog.expire(marked, T0 + timedelta(hours=1), deleted.append)
    assert record is not None and deleted == [stored.object_name]
    assert (record.file_key, record.rule, record.bytes, record.size) == ("f-1", "max_age", 50, 100)
    assert catalog.expire(marked, T0 + timedelta(hours=2), deleted.append) is None  # another run took it
    assert catalog.by_key("f-1").state == "expired"  # type: ignore[union-attr]
    assert [r.file_key for r in catalog.retention_records(10, None, None, None)] == ["f-1"]
    assert (
        catalog.retention_records(10, None, "other", None) == []
        and catalog.retention_records(10, None, None, "max_bytes") == []
    )


def test_a_failed_object_delete_leaves_the_file_marked(catalog: FileCatalog) -> None:
    catalog.insert(row(1))
    catalog.plan_marks("local", lambda totals, files: [(next(iter(files)), "max_age")], T0, apply=True)  # type: ignore[call-overload]
    [marked] = catalog.marked("local")

    def refuse(name: str) -> None:
        raise StorageError("disk gone")

    with pytest.raises(StorageError):
        catalog.expire(marked, T0, refuse)
    assert catalog.by_key("f-1").state == "marked"  # type: ignore[union-attr]
    assert catalog.retention_records(10, None, None, None) == []


def test_retention_records_page_newest_first(catalog: FileCatalog) -> None:
    for n in (1, 2, 3):
        catalog.insert(row(n))
    catalog.plan_marks("local", lambda totals, files: [(f, "max_files") for f in files], T0, apply=True)  # type: ignore[attr-defined]
    for f in catalog.marked("local"):
        catalog.expire(f, T0, lambda name: None)
    first = catalog.retention_records(2, None, None, None)
    assert [r.file_key for r in first] == ["f-3", "f-2"]
    assert [r.file_key for r in catalog.retention_records(2, first[-1].id, None, None)] == ["f-1"]


def test_usage_counts_live_bytes_and_the_bytes_stored_since(catalog: FileCatalog) -> None:
    assert catalog.usage("local", T0) == (0, 0)
    for n in (1, 2, 3):
        catalog.insert(row(n, size=100 * n))  # stored_size 50, 100, 150 at T0 + n minutes
    catalog.insert(row(4, backend="s3", size=1000))
    catalog.plan_marks("local", lambda totals, files: [(next(iter(files)), "max_bytes")], T0, apply=True)
    assert catalog.usage("local", T0 + timedelta(minutes=2)) == (250, 250)  # f-1 marked: no longer held
    assert catalog.usage("local", T0) == (250, 300)
    assert catalog.usage("s3", T0) == (500, 500)


def test_an_unreachable_database_raises_sql_unavailable_from_every_method(unreachable_engine: Engine) -> None:
    catalog = SqlFileCatalog(unreachable_engine)
    calls = [
        lambda: catalog.key_taken("k"),
        lambda: catalog.insert(row(1)),
        lambda: catalog.by_key("k"),
        lambda: catalog.group_exists("g"),
        lambda: list(catalog.in_group("g")),
        lambda: list(catalog.of_day(T0)),
        lambda: catalog.plan_marks("local", lambda t, f: [], T0, apply=True),
        lambda: catalog.marked("local"),
        lambda: catalog.expire(row(1), T0, lambda name: None),
        lambda: catalog.retention_records(1, None, None, None),
        lambda: catalog.usage("local", T0),
    ]
    for call in calls:
        with pytest.raises(SqlUnavailable):
            call()
