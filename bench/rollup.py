"""The rollups (backend/batch/rollups.py) beside a raw SQL GROUP BY over the same rows, in the same run:
the seed mix (bench/workload.py) stored in the service's event log, rolled up from scratch, then
incrementally after `--new` more events; each against one GROUP BY of those rows by 15-minute bucket, type
and level with a distinct count of traces (the least a rollup of them could cost, with none of ours: no
dimensions, dedup, lag histogram, files or exactly-once mark).

    python bench/rollup.py [--events 1000000] [--new 10000] [--postgres]

The ratio is raw time / our time (1.00: as fast as the raw GROUP BY). --postgres: a fresh database on
FT_TEST_POSTGRES_URL (scripts/services.sh start postgres) instead of SQLite.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain, islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text

from backend.batch.rollups import Rollups
from backend.batch.stats import Stats
from backend.bootstrap import open_engine
from backend.db.engine import upgrade
from backend.db.event_log import SqlEventLog
from backend.db.stats import SqlStats
from backend.domain.events import validate_events
from backend.domain.ingest import _Item, _new_event
from backend.settings import Settings
from bench.workload import START, seed_traces

LOAD_BATCH = 5000
RAW = {
    "sqlite": "SELECT CAST(strftime('%s', created_at) AS INTEGER) / 900 AS b, type, level, count(*), "
    "count(DISTINCT trace_key) FROM events WHERE id > :after GROUP BY b, type, level",
    "postgresql": "SELECT floor(extract(epoch FROM created_at) / 900) AS b, type, level, count(*), "
    "count(DISTINCT trace_key) FROM events WHERE id > :after GROUP BY b, type, level",
}


def events(n: int, source: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(islice(source, n))


def load(engine: Engine, batch: list[dict[str, Any]]) -> None:
    """Stored as the ingest pipeline stores them (validated, canonical payload, dedup key, node rows)."""
    log = SqlEventLog(engine)
    now = datetime.now(UTC)
    for k in range(0, len(batch), LOAD_BATCH):
        accepted, rejected = validate_events(batch[k : k + LOAD_BATCH], "rest:bench", now)
        assert not rejected
        log.insert([_new_event(_Item(ev, "rest:bench", None), None) for ev in accepted])


def raw_group_by(engine: Engine, after: int) -> float:
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(text(RAW[engine.dialect.name]), {"after": after}).all()
    assert rows
    return time.perf_counter() - started


def ours(engine: Engine, batch: int) -> tuple[float, int]:
    rollups = Rollups(SqlStats(engine), batch)
    started, passes = time.perf_counter(), 1
    while rollups.run():
        passes += 1
    return time.perf_counter() - started, passes


def last_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT max(id) FROM events")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000, help="events added before the incremental run")
    parser.add_argument("--batch", type=int, default=Settings().rollup_batch_events, help="events per rollup pass")
    parser.add_argument("--postgres", action="store_true", help="on a fresh database of FT_TEST_POSTGRES_URL")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ftel-rollup-"))
    admin_url = database = None
    if args.postgres:
        import os

        import psycopg

        admin_url = os.environ["FT_TEST_POSTGRES_URL"]
        name = f"ftel_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database = admin_url.rsplit("/", 1)[0] + "/" + name
    settings = Settings(data_dir=tmp, database_url=database)
    settings.ensure_data_dir()
    engine = open_engine(settings)
    upgrade(engine)
    try:
        source = chain.from_iterable(seed_traces())
        started = time.perf_counter()
        load(engine, events(args.events, source))
        where = "PostgreSQL" if args.postgres else "SQLite"
        print(
            f"seed mix: {args.events:,} events stored in {where} in {time.perf_counter() - started:.1f} s", flush=True
        )

        rows: list[tuple[str, int, float, float, str]] = []
        raw = min(raw_group_by(engine, 0) for _ in range(2))  # the second run has the pages cached, as ours does
        took, passes = ours(engine, args.batch)
        rows.append(("from scratch", args.events, took, raw, f"{passes} passes"))

        before = last_id(engine)
        load(engine, events(args.new, source))
        raw = min(raw_group_by(engine, before) for _ in range(2))
        took, passes = ours(engine, args.batch)
        rows.append(("incrementally, new events", args.new, took, raw, f"{passes} pass(es)"))

        stats = Stats(SqlStats(engine), settings.stats_unconverted_grace_seconds)
        started = time.perf_counter()
        summary = stats.summary(START, datetime(2027, 1, 1, tzinfo=UTC))
        read = time.perf_counter() - started
        counted = sum(summary["events"].values())
        assert counted == args.events + args.new, (counted, args.events + args.new)
        started = time.perf_counter()
        hourly = stats.windows("15m", START, START.replace(hour=12), "user")
        by_user = time.perf_counter() - started

        print()
        print(f"{'rollup':<28} {'events':>10} {'ours s':>8} {'raw s':>8} {'ratio':>6}   ours ev/s")
        for name, n, took, raw, note in rows:
            print(f"{name:<28} {n:>10,} {took:>8.2f} {raw:>8.3f} {raw / took:>6.2f}   {n / took:>9,.0f} ({note})")
        print(
            f"\nreads: the summary of all {counted:,} events in {read * 1000:.0f} ms; 15-minute windows by user "
            f"({len(hourly['buckets'])} buckets) in {by_user * 1000:.0f} ms"
        )
    finally:
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
        if admin_url and database:
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    main()
