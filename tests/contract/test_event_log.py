"""The EventLog contract (backend/db/base.py) on SQLite and PostgreSQL, and the schema it lives in:
migrations, dedup inserts, the projection cursor, per-node reads, and SqlUnavailable when unreachable."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, event, inspect

from backend.bootstrap import open_engine
from backend.db.base import EventLog
from backend.db.engine import alembic_config, current_revision, upgrade
from backend.db.event_log import SqlEventLog
from backend.demo import seed_events
from backend.errors import SqlUnavailable
from backend.settings import Settings
from tests.conftest import log_rows


@pytest.fixture
def log(sql_engine: Engine) -> EventLog:
    return SqlEventLog(sql_engine)


rows = log_rows


def head_revision(engine: Engine) -> str:
    """The newest revision of the migration scripts, as alembic itself reads them."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def store(log: EventLog, raw: list[dict], channel: str = "rest:x") -> dict[str, int]:
    return log.insert(rows(raw, channel))


def test_migrations_create_the_schema_and_rerun_as_no_op(sql_engine: Engine) -> None:
    tables = set(inspect(sql_engine).get_table_names())
    assert {
        "accounts",
        "events",
        "event_nodes",
        "meta",
        "subscriptions",
        "stored_files",
        "retention_records",
        "alembic_version",
    } <= tables
    assert current_revision(sql_engine) == head_revision(sql_engine)
    upgrade(sql_engine)
    assert current_revision(sql_engine) == head_revision(sql_engine)


def test_primary_keys_are_bigint_on_postgres(sql_engine: Engine) -> None:
    cols = {c["name"]: c for c in inspect(sql_engine).get_columns("events")}
    expected = "BIGINT" if sql_engine.dialect.name == "postgresql" else "INTEGER"
    assert str(cols["id"]["type"]) == expected
    assert str(cols["uuid"]["type"]).startswith("VARCHAR")


def test_each_event_is_stored_once(log: EventLog) -> None:
    events = seed_events("A")
    assert len(store(log, events)) == len(events)
    assert store(log, events) == {}
    assert len(log.unprojected(1000)) == len(events)


def test_new_rows_come_back_in_insertion_order_with_their_payload_and_utc_times(log: EventLog) -> None:
    events = seed_events("A")
    inserted = store(log, events)
    back = log.unprojected(1000)
    assert [e.id for e in back] == sorted(inserted.values())
    assert all(e.created_at.tzinfo is not None for e in back)
    assert {e.payload for e in back} == {r.payload for r in rows(events)}


def test_same_payload_on_another_channel_is_another_event_unless_it_has_an_id(log: EventLog) -> None:
    no_id = {"type": "log", "trace": "t", "message": "m", "time": "2026-01-01T00:00:00Z"}
    assert len(store(log, [no_id], "rest:a")) == 1
    assert len(store(log, [no_id], "rest:b")) == 1
    with_id = no_id | {"id": "0190f2d4-0000-7000-8000-000000000001"}
    assert len(store(log, [with_id], "rest:a")) == 1
    assert len(store(log, [with_id], "rest:b")) == 0


def test_duplicates_inside_one_batch_are_stored_once(log: EventLog) -> None:
    event = {"type": "log", "trace": "t", "message": "m", "time": "2026-01-01T00:00:00Z"}
    assert len(store(log, [event, event, event])) == 1


def test_projection_cursor_marks_and_resets(log: EventLog) -> None:
    total = len(seed_events("A"))
    store(log, seed_events("A"))
    pending = log.unprojected(5)
    assert [e.id for e in pending] == sorted(e.id for e in pending)
    log.mark_projected([pending[0].id, *(e.id for e in pending[2:])])  # two runs of ids
    backlog, oldest = log.projection_backlog()
    assert backlog == total - 4 and oldest is not None and oldest.tzinfo is not None
    assert log.oldest_unprojected() == oldest
    assert [e.id for e in log.unprojected(1)] == [pending[1].id]
    log.mark_projected([pending[1].id])
    assert log.projection_backlog()[0] == total - 5
    assert log.reset_projection() == total
    assert log.projection_backlog()[0] == total


def test_backlog_is_counted_per_trace_and_empty_when_all_is_merged(log: EventLog) -> None:
    store(log, seed_events("A"))
    store(log, seed_events("B"))
    a = sum(1 for e in seed_events("A") if e.get("trace") == "A")
    assert log.trace_backlog("A") == a and log.trace_backlog("nope") == 0
    log.mark_projected([e.id for e in log.unprojected(10_000)])
    assert log.projection_backlog() == (0, None) and log.oldest_unprojected() is None
    assert log.trace_backlog("A") == 0


def test_unprojected_can_be_narrowed_to_one_batch_by_dedup_key(log: EventLog) -> None:
    batch = rows(seed_events("A"))
    log.insert(batch)
    wanted = [batch[0].dedup_key, batch[3].dedup_key]
    assert {e.payload for e in log.unprojected(100, wanted)} == {batch[0].payload, batch[3].payload}


def test_node_events_and_log_counts_come_back_in_time_order(log: EventLog) -> None:
    store(log, seed_events("A"))
    events = log.node_events("File1", 100)
    assert [e.type for e in events] == ["file.received", "file.stored", "log", "file.dropped"]
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    assert {e.role for e in events} == {"node"}
    counts = log.log_counts({("File1", "file"), ("data5", "data")})
    assert counts == {("File1", "file"): {"warn": 1}, ("data5", "data"): {"debug": 1}}
    assert log.known_node_traces(["data5", "nope"]) == {"data5": "A"}


KEYED = [
    {"type": "trace.started", "trace": "s3-jobs/daily/2026-12-01", "user": "u"},
    {"type": "trace.started", "trace": "s3%_literal", "user": "u"},
    {
        "type": "file.received",
        "trace": "s3-jobs/daily/2026-12-01",
        "node": {"kind": "file", "key": "s3://bucket/in/a.csv"},
    },
    {
        "type": "file.received",
        "trace": "s3-jobs/daily/2026-12-01",
        "node": {"kind": "file", "key": "s3://bucket/in/b.csv"},
    },
    {"type": "file.received", "trace": "s3%_literal", "node": {"kind": "file", "key": "s3%_x/ünï 100%.csv"}},
    {"type": "file.received", "trace": "s3%_literal", "node": {"kind": "file", "key": "S3://upper.csv"}},
    {
        "type": "flow",
        "trace": "s3-jobs/daily/2026-12-01",
        "inputs": [{"kind": "file", "key": "s3://bucket/in/a.csv"}],
        "outputs": [{"kind": "sink", "key": "s3://bucket/warehouse"}],
    },
]


def test_keys_are_found_by_their_start_traces_first(log: EventLog) -> None:
    store(log, KEYED)
    assert log.search_keys("s3://bucket/", 10) == [
        ("s3://bucket/in/a.csv", "file"),
        ("s3://bucket/in/b.csv", "file"),
        ("s3://bucket/warehouse", "sink"),
    ]
    assert log.search_keys("s3", 3) == [
        ("s3%_literal", "trace"),
        ("s3-jobs/daily/2026-12-01", "trace"),
        ("s3%_x/ünï 100%.csv", "file"),
    ]
    assert log.search_keys("s3%_", 10) == [("s3%_literal", "trace"), ("s3%_x/ünï 100%.csv", "file")]  # no wildcards
    assert log.search_keys("s3%_x/ünï", 10) == [("s3%_x/ünï 100%.csv", "file")]
    assert log.search_keys("S3:", 10) == [("S3://upper.csv", "file")]  # case-sensitive
    assert log.search_keys("nothing", 10) == []


def test_key_search_is_served_by_an_index(log: EventLog, sql_engine: Engine) -> None:
    """Each statement the search runs is planned on a key index, not a scan of the table (PostgreSQL is told
    to avoid sequential scans: on a table this small it would prefer one)."""
    store(log, KEYED)
    ran: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        ran.append((statement, params))

    event.listen(sql_engine, "before_cursor_execute", capture)
    try:
        log.search_keys("s3://bucket/", 10)
    finally:
        event.remove(sql_engine, "before_cursor_execute", capture)
    assert len(ran) == 2
    postgres = sql_engine.dialect.name == "postgresql"
    with sql_engine.connect() as conn:
        if postgres:
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, params in ran:
            explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(explain + statement, params))
            assert "Index" in plan and "Seq Scan" not in plan if postgres else "USING" in plan and "INDEX" in plan, plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan  # in index order: stops at the limit


def test_trace_logs_are_the_newest_trace_level_logs_oldest_first(log: EventLog) -> None:
    raw = [
        {"type": "log", "trace": "T", "level": "info", "message": f"step {i}", "time": f"2026-01-01T00:00:0{i}Z"}
        for i in range(5)
    ]
    raw.append({"type": "log", "trace": "T", "node": {"kind": "file", "key": "f"}, "message": "about f"})
    raw.append({"type": "log", "trace": "other", "message": "elsewhere"})
    store(log, raw)
    logs = log.trace_logs("T", 3)
    assert [orjson.loads(e.payload)["message"] for e in logs] == ["step 2", "step 3", "step 4"]
    assert {e.level for e in logs} == {"info"}
    assert log.trace_logs("nope", 3) == []


def test_an_unreachable_database_raises_sql_unavailable_from_every_method(unreachable_engine: Engine) -> None:
    log = SqlEventLog(unreachable_engine)
    calls = [
        lambda: log.insert(rows(seed_events("A"))),
        lambda: log.known_node_traces(["a"]),
        lambda: log.unprojected(10),
        lambda: log.mark_projected([1]),
        log.reset_projection,
        log.projection_backlog,
        log.oldest_unprojected,
        lambda: log.trace_backlog("a"),
        lambda: log.log_counts({("a", "file")}),
        lambda: log.node_events("a", 10),
        lambda: log.trace_logs("a", 10),
        lambda: log.search_keys("a", 10),
        log.ping,
    ]
    for call in calls:
        with pytest.raises(SqlUnavailable):
            call()


def test_an_existing_database_upgrades_in_place(sql_settings: Settings) -> None:
    """A database made by the first revision keeps its rows through every later migration."""
    from alembic import command

    from backend.db.accounts import SqlAccounts

    sql_settings.ensure_data_dir()
    engine = open_engine(sql_settings)
    command.upgrade(alembic_config(engine), "0001")
    assert current_revision(engine) == "0001"
    with engine.begin() as conn:  # what revision 0001 knew: accounts and events
        conn.exec_driver_sql(
            "INSERT INTO accounts (uuid, name, kind, roles, client_id, secret_hash, secret_version, "
            "created_at) VALUES ('u-1', 'old', 'system', 'read', 'old-client', 'h', 1, '2026-01-01 00:00:00')"
        )
    SqlEventLog(engine).insert(rows(seed_events("A")))
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine) != "0001"
    assert [a.client_id for a in SqlAccounts(engine).listed()] == ["old-client"]
    assert len(SqlEventLog(engine).unprojected(1000)) == len(seed_events("A"))
    engine.dispose()


def test_processes_starting_together_migrate_an_empty_database_once(sql_settings: Settings) -> None:
    """`ftel api` and `ftel worker` both migrate at start (compose starts them together): concurrent
    upgrades of an empty database must all succeed, and leave one schema at the newest revision."""
    import threading

    sql_settings.ensure_data_dir()
    engines = [open_engine(sql_settings) for _ in range(3)]
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def migrate(engine: Engine) -> None:
        start.wait()
        try:
            upgrade(engine)
        except BaseException as exc:  # collected: the assertion below shows it
            errors.append(exc)

    for _ in range(2):  # twice: the second round races on an up-to-date schema
        threads = [threading.Thread(target=migrate, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        start.reset()
    assert errors == []
    assert [current_revision(e) for e in engines] == [head_revision(engines[0])] * len(engines)
    for engine in engines:
        engine.dispose()
