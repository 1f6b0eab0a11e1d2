"""The SQL side on SQLite and PostgreSQL: migrations, dedup inserts, projection cursor, accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from backend.db import event_log
from backend.db.engine import current_revision, make_engine, upgrade
from backend.demo import seed_events
from backend.domain import auth
from backend.domain.errors import Conflict, InvalidInput, Unauthenticated
from backend.domain.events import validate_events
from backend.settings import Settings


@pytest.fixture
def engine(sql_settings: Settings) -> Engine:
    engine = make_engine(sql_settings)
    upgrade(engine)
    yield engine
    engine.dispose()


def store(engine: Engine, raw: list[dict], channel: str = "rest:x") -> dict[str, int]:
    accepted, rejected = validate_events(raw, channel, datetime.now(UTC))
    assert not rejected
    return event_log.insert_events(engine, channel, None, accepted, {})


def test_migrations_create_the_schema_and_rerun_as_no_op(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"accounts", "events", "event_nodes", "meta", "alembic_version"} <= tables
    revision = current_revision(engine)
    assert revision is not None
    upgrade(engine)
    assert current_revision(engine) == revision


def test_primary_keys_are_bigint_on_postgres(engine: Engine) -> None:
    cols = {c["name"]: c for c in inspect(engine).get_columns("events")}
    expected = "BIGINT" if engine.dialect.name == "postgresql" else "INTEGER"
    assert str(cols["id"]["type"]) == expected
    assert str(cols["uuid"]["type"]).startswith("VARCHAR")


def test_each_event_is_stored_once(engine: Engine) -> None:
    events = seed_events("A")
    assert len(store(engine, events)) == len(events)
    assert store(engine, events) == {}
    assert len(event_log.unprojected(engine, 1000)) == len(events)


def test_same_payload_on_another_channel_is_another_event_unless_it_has_an_id(engine: Engine) -> None:
    no_id = {"type": "log", "trace": "t", "message": "m", "time": "2026-01-01T00:00:00Z"}
    assert len(store(engine, [no_id], "rest:a")) == 1
    assert len(store(engine, [no_id], "rest:b")) == 1
    with_id = no_id | {"id": "0190f2d4-0000-7000-8000-000000000001"}
    assert len(store(engine, [with_id], "rest:a")) == 1
    assert len(store(engine, [with_id], "rest:b")) == 0


def test_duplicates_inside_one_batch_are_stored_once(engine: Engine) -> None:
    event = {"type": "log", "trace": "t", "message": "m", "time": "2026-01-01T00:00:00Z"}
    assert len(store(engine, [event, event, event])) == 1


def test_projection_cursor_marks_and_resets(engine: Engine) -> None:
    store(engine, seed_events("A"))
    pending = event_log.unprojected(engine, 5)
    assert [e.id for e in pending] == sorted(e.id for e in pending)
    event_log.mark_projected(engine, [e.id for e in pending])
    assert event_log.pending_count(engine) == len(seed_events("A")) - 5
    assert event_log.reset_projection(engine) == len(seed_events("A"))
    assert event_log.pending_count(engine) == len(seed_events("A"))


def test_node_events_and_log_counts_come_back_in_time_order(engine: Engine) -> None:
    store(engine, seed_events("A"))
    events = event_log.node_events(engine, "File1", 100)
    assert [e["type"] for e in events] == ["file.received", "file.stored", "log", "file.dropped"]
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    counts = event_log.log_counts(engine, {("File1", "file"), ("data5", "data")})
    assert counts == {("File1", "file"): {"warn": 1}, ("data5", "data"): {"debug": 1}}
    assert event_log.known_node_traces(engine, ["data5", "nope"]) == {"data5": "A"}


def test_accounts_hash_secrets_and_issue_tokens(engine: Engine) -> None:
    issued = auth.create_account(engine, "importer", "system", ["ingest"])
    assert issued.client_secret not in issued.account.secret_hash
    assert issued.account.secret_hash.startswith("$argon2")
    key = auth.signing_key(engine, Settings())
    assert key == auth.signing_key(engine, Settings())
    token = auth.issue_token(engine, key, 60, issued.account.client_id, issued.client_secret)
    principal = auth.authenticate(engine, key, token["access_token"])
    assert principal.roles == {"ingest"} and not principal.has("read")
    with pytest.raises(Unauthenticated):
        auth.issue_token(engine, key, 60, issued.account.client_id, "wrong")
    with pytest.raises(Conflict):
        auth.create_account(engine, "again", "system", ["read"], client_id=issued.account.client_id)
    with pytest.raises(InvalidInput):
        auth.create_account(engine, "bad", "system", ["superuser"])
    auth.rotate_secret(engine, issued.account.uuid)
    with pytest.raises(Unauthenticated, match="revoked"):
        auth.authenticate(engine, key, token["access_token"])


def test_an_existing_database_upgrades_in_place(sql_settings: Settings) -> None:
    """A database made by the first revision keeps its rows through every later migration."""
    from alembic import command

    from backend.db.engine import alembic_config

    engine = make_engine(sql_settings)
    command.upgrade(alembic_config(engine), "0001")
    assert current_revision(engine) == "0001"
    issued = auth.create_account(engine, "old", "system", ["read"])
    store(engine, seed_events("A"))
    upgrade(engine)
    assert current_revision(engine) != "0001" or len(list((Path(__file__).parents[2] / "backend/db/migrations/versions").glob("*.py"))) == 1
    assert [a.client_id for a in auth.list_accounts(engine)] == [issued.account.client_id]
    assert len(event_log.unprojected(engine, 1000)) == len(seed_events("A"))
    engine.dispose()


def test_processes_starting_together_migrate_an_empty_database_once(sql_settings: Settings) -> None:
    """`ftel api` and `ftel worker` both migrate at start (compose starts them together): concurrent
    upgrades of an empty database must all succeed, and leave one schema at the newest revision."""
    import threading

    sql_settings.ensure_data_dir()
    engines = [make_engine(sql_settings) for _ in range(3)]
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
    head = sorted(p.stem.split("_")[0] for p in (Path(__file__).parents[2] / "backend/db/migrations/versions").glob("*.py"))[-1]
    assert current_revision(engines[0]) == head
    for engine in engines:
        engine.dispose()
