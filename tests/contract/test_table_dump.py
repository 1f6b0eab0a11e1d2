"""The TableDump contract (backend/db/base.py) on SQLite and PostgreSQL: tables in foreign-key order without the
transient ones, keyset pages that add up to the table, rows that round-trip to the other database with their
ids, a load that is all or nothing, sequences moved past loaded ids, the merge's dedup, and a snapshot that does
not see later writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from backend.bootstrap import open_engine
from backend.db.accounts import SqlAccounts
from backend.db.base import DumpRow, TableReader
from backend.db.dump import EXCLUDED, SqlTableDump
from backend.db.engine import upgrade
from backend.db.event_log import SqlEventLog
from backend.db.models import TABLES
from backend.settings import Settings
from tests.conftest import create_pg_database, drop_pg_database, log_rows

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def other_engine(sql_settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh, migrated database of the other kind: rows go SQLite → PostgreSQL and PostgreSQL → SQLite."""
    if sql_settings.is_sqlite:
        admin = request.getfixturevalue("postgres_admin_url")
        url = create_pg_database(admin)
        engine = open_engine(Settings(data_dir=tmp_path / "other", database_url=url))
        upgrade(engine)
        yield engine
        engine.dispose()
        drop_pg_database(admin, url)
        return
    settings = Settings(data_dir=tmp_path / "other")
    settings.ensure_data_dir()
    engine = open_engine(settings)
    upgrade(engine)
    yield engine
    engine.dispose()


def events(n: int, trace: str = "T") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "trace.started", "trace": trace, "user": "u1", "time": "2026-12-01T09:00:00Z"}
    ]
    for i in range(n):
        out.append(
            {
                "type": "flow",
                "trace": trace,
                "op": "parse",
                "inputs": [{"kind": "file", "key": f"{trace}-F{i}"}],
                "outputs": [{"kind": "data", "key": f"{trace}-D{i}"}],
                "time": f"2026-12-01T09:{i % 60:02d}:00Z",
                "attrs": {"i": i, "ok": True},
            }
        )
    return out


def fill(engine: Engine) -> None:
    """A little of everything: events with node links, an account, meta, a stored file, rollup rows with a
    composite key, a retention record."""
    SqlEventLog(engine).insert(log_rows(events(12)))
    SqlAccounts(engine).insert("ops", "human", frozenset({"admin"}), "ops-client", "hash")
    with engine.begin() as conn:
        conn.execute(insert(TABLES["meta"]), [{"key": "jwt", "value": "k1"}])
        conn.execute(
            insert(TABLES["stored_files"]),
            [
                {
                    "uuid": "0190c7a0-0000-7000-8000-000000000001",
                    "key": "File1",
                    "trace_key": "T",
                    "group_key": "g",
                    "backend": "local",
                    "object_name": "2026/12/01/0190c7a0-0000-7000-8000-000000000001.zst",
                    "codec": "zstd",
                    "size": 3_000_000_000,
                    "stored_size": 10,
                    "sha256": "0" * 64,
                    "stored_at": T0,
                    "state": "stored",
                }
            ],
        )
        conn.execute(
            insert(TABLES["rollup_counts"]),
            [
                {"dim": d, "bucket": b, "key": k, "measure": "events", "value": b}
                for d in ("all", "user")
                for b in (5, 6, 7)
                for k in ("", "u1")
            ],
        )


def everything(reader: TableReader, table: str, page: int) -> list[DumpRow]:
    rows: list[DumpRow] = []
    after = None
    while batch := reader.rows(table, after, page):
        assert len(batch) <= page
        rows += batch
        after = reader.key(table, batch[-1])
    return rows


def dump_all(engine: Engine, page: int = 5) -> dict[str, list[DumpRow]]:
    dump = SqlTableDump(engine)
    with dump.snapshot() as reader:
        return {t: everything(reader, t, page) for t in dump.tables()}


def test_tables_come_parents_first_without_the_transient_ones(sql_engine: Engine) -> None:
    tables = SqlTableDump(sql_engine).tables()
    assert not set(tables) & set(EXCLUDED)
    assert {"accounts", "meta", "events", "event_nodes", "stored_files", "retention_records", "rollup_counts"} <= set(
        tables
    )
    assert len(tables) == len(set(tables))


def test_keyset_pages_add_up_to_the_table_in_key_order(sql_engine: Engine) -> None:
    fill(sql_engine)
    dumped = dump_all(sql_engine, page=4)
    assert [r["id"] for r in dumped["events"]] == sorted(r["id"] for r in dumped["events"])  # type: ignore[type-var]
    assert len(dumped["events"]) == 13
    assert len(dumped["rollup_counts"]) == 12  # a composite key pages too
    with SqlTableDump(sql_engine).snapshot() as reader:
        assert reader.count("rollup_counts") == 12
    orjson.dumps(dumped)  # JSON-safe as they are
    assert dumped["stored_files"][0]["stored_at"] == "2026-12-01T09:30:00+00:00"
    assert dumped["stored_files"][0]["size"] == 3_000_000_000


def test_rows_round_trip_to_the_other_database_with_their_ids(sql_engine: Engine, other_engine: Engine) -> None:
    fill(sql_engine)
    before = dump_all(sql_engine)
    target = SqlTableDump(other_engine)
    with target.loading() as loader:
        loader.clear(["accounts", "meta"])
        for table, rows in before.items():
            loader.load(table, rows)
    assert dump_all(other_engine) == before
    # the sequences moved past the loaded ids: the log goes on after them
    new = SqlEventLog(other_engine).insert(log_rows(events(1, trace="T2")))
    assert min(new.values()) > max(int(str(r["id"])) for r in before["events"])


def test_a_failed_load_writes_nothing(sql_engine: Engine, other_engine: Engine) -> None:
    fill(sql_engine)
    rows = dump_all(sql_engine)["events"]
    with pytest.raises(IntegrityError), SqlTableDump(other_engine).loading() as loader:
        loader.load("events", rows)
        loader.load("events", rows[:1])  # the same id again
    assert dump_all(other_engine)["events"] == []


def test_occupied_names_what_makes_an_instance_non_empty(sql_engine: Engine) -> None:
    dump = SqlTableDump(sql_engine)
    SqlAccounts(sql_engine).insert("admin", "system", frozenset({"admin"}), "a", "h")
    assert dump.occupied() == []  # a first start's admin does not count
    SqlEventLog(sql_engine).insert(log_rows(events(1)))
    assert dump.occupied() == ["events"]


def test_merge_keeps_the_event_logs_dedup(sql_engine: Engine, other_engine: Engine) -> None:
    SqlEventLog(sql_engine).insert(log_rows(events(5)) + log_rows(events(3, trace="B")))
    SqlEventLog(other_engine).insert(log_rows(events(5)))  # the target already has trace T
    dumped = dump_all(sql_engine)
    target = SqlTableDump(other_engine)
    with target.loading() as loader:
        added = loader.merge_events(dumped["events"])
        links = loader.merge_event_nodes(dumped["event_nodes"], added)
    assert len(added) == 4  # trace B's four events only
    assert links == 3 * 2
    with target.loading() as loader:
        assert loader.merge_events(dumped["events"]) == {}  # again: nothing new
    with other_engine.connect() as conn:
        events_of_b = conn.execute(select(TABLES["events"].c.id).where(TABLES["events"].c.trace_key == "B")).all()
        linked = conn.execute(
            select(TABLES["event_nodes"].c.event_id).where(TABLES["event_nodes"].c.node_key.like("B-%"))
        ).all()
    assert {r[0] for r in linked} <= {r[0] for r in events_of_b}
    assert {r[0] for r in events_of_b} == set(added.values())


def test_account_ids_are_found_by_uuid(sql_engine: Engine) -> None:
    account = SqlAccounts(sql_engine).insert("ops", "human", frozenset({"admin"}), "ops-client", "hash")
    with SqlTableDump(sql_engine).loading() as loader:
        assert loader.account_ids([account.uuid, "0190c7a0-0000-7000-8000-00000000ffff"]) == {account.uuid: account.id}


def test_merged_files_are_those_with_a_free_key(sql_engine: Engine, other_engine: Engine) -> None:
    fill(sql_engine)
    rows = dump_all(sql_engine)["stored_files"]
    second = {**rows[0], "id": 99, "uuid": "0190c7a0-0000-7000-8000-000000000002", "key": "File2"}
    with SqlTableDump(other_engine).loading() as loader:
        first = loader.merge_files(rows)
    with SqlTableDump(other_engine).loading() as loader:
        again = loader.merge_files([*rows, second])
        records = loader.merge_retention(
            [
                {
                    "id": 1,
                    "uuid": "0190c7a0-0000-7000-8000-0000000000aa",
                    "file_id": 99,
                    "file_key": "File2",
                    "trace_key": "T",
                    "group_key": "g",
                    "backend": "local",
                    "rule": "max_age",
                    "bytes": 10,
                    "size": 20,
                    "stored_at": "2026-12-01T09:30:00+00:00",
                    "marked_at": "2026-12-01T09:31:00+00:00",
                    "deleted_at": "2026-12-01T09:32:00+00:00",
                }
            ],
            again,
        )
    assert list(first) == [rows[0]["id"]]
    assert list(again) == [99]  # File1's key is taken now
    assert records == 1


def test_a_snapshot_does_not_see_later_writes(sql_engine: Engine) -> None:
    SqlEventLog(sql_engine).insert(log_rows(events(2)))
    dump = SqlTableDump(sql_engine)
    with dump.snapshot() as reader:
        first = reader.rows("events", None, 100)
        SqlEventLog(sql_engine).insert(log_rows(events(2, trace="later")))
        assert reader.count("events") == len(first) == 3
        assert reader.rows("events", reader.key("events", first[-1]), 100) == []
    assert len(dump_all(sql_engine)["events"]) == 6
