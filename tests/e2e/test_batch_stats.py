"""Services mode gives the same statistics as the all-in-one: `ftel api` + `ftel worker` + `ftel batch` on
PostgreSQL, Neo4j and Redis, and `ftel serve` (SQLite, embedded graph and Redis, the batch jobs in-process),
each sent the same events over REST and over a subscription stream (half of them over both)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from backend.demo import seed_events
from tests.conftest import ADMIN, Api, Server, create_pg_database, drop_pg_database, service_env, wait_for
from tests.crash_fixtures import Proc
from tests.stream_fixtures import WorkerProcess, rekeyed, xadd_events

SINCE, UNTIL = "2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z"
BATCH = {"FT_BATCH_INTERVAL_SECONDS": "0.3", "FT_STREAM_BLOCK_MS": "200", "FT_STREAM_RECONCILE_SECONDS": "1"}


def workload(tag: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(over REST, over the stream): six seed traces of two users across a day's windows, without ids; traces
    0-2 go over both channels (duplicates the dedup pass must mark), 3-5 over the stream only."""
    rest: list[dict[str, Any]] = []
    stream: list[dict[str, Any]] = []
    for i in range(6):
        start = datetime(2026, 11, 30, 2 * i + 1, 59, 50, tzinfo=UTC)  # across window edges (02:00, 03:00, …)
        trace = f"eq-{tag}-{i}"
        events = rekeyed(seed_events(trace, user=f"team-{i % 2}", start=start), f"-{trace}")
        events = [{k: v for k, v in e.items() if k != "id"} for e in events]
        if i < 3:
            rest += events
        stream += events
    return rest, stream


def send(api: Api, rest: list[dict[str, Any]], stream: list[dict[str, Any]]) -> None:
    app = api.account("ingest", name="observed")
    assert app.post("/events", json=rest, params={}).status_code == 202
    sub = app.post("/subscriptions", json={"user_id": "team-0"}).json()
    xadd_events(redis.Redis.from_url(sub["endpoint"], decode_responses=True), sub["stream_key"], stream)


def picture(api: Api) -> dict[str, Any]:
    """Every statistic both deployments must agree on: each window and dimension but accounts (their ids are
    each deployment's own), and the summary; ingest lag apart (it is each deployment's own receive time)."""

    def bare(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k != "lag_ms"}

    out: dict[str, Any] = {"summary": bare(api.get("/stats/summary", params={"since": SINCE, "until": UNTIL}).json())}
    for window in ("15m", "30m", "1h", "3h", "6h", "12h"):
        for by in (None, "user", "reason"):
            params = {"window": window, "since": SINCE, "until": UNTIL, **({"by": by} if by else {})}
            answer = api.get("/stats", params=params)
            assert answer.status_code == 200, answer.text
            out[f"{window}/{by}"] = [bare(b) for b in answer.json()["buckets"]]
    return out


def settled(api: Api, events: int, duplicates: int) -> bool:
    whole = api.get("/stats/summary", params={"since": SINCE, "until": UNTIL}).json()
    return sum(whole["events"].values()) == events and whole["duplicates"] == duplicates


def test_services_mode_gives_the_same_stats_as_the_all_in_one(tmp_path: Path, stream_redis_url: str) -> None:
    tag = uuid.uuid4().hex[:6]  # the Neo4j is shared: keys of this test's own
    rest, stream = workload(tag)
    expected = (len(stream), len(rest))  # each event once; every REST copy repeated over the stream
    admin_url = service_env("FT_TEST_POSTGRES_URL")
    pg = create_pg_database(admin_url)
    env = {
        **ADMIN,
        **BATCH,
        "FT_DATABASE_URL": pg,
        "FT_GRAPH": "neo4j",
        "FT_NEO4J_URI": service_env("FT_TEST_NEO4J_URI"),
        "FT_NEO4J_USER": os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
        "FT_NEO4J_PASSWORD": os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
        "FT_REDIS_URL": stream_redis_url,
    }
    started: list[Server | Proc] = []
    try:
        (tmp_path / "api").mkdir()
        api = Server(env, "api", tmp_path / "api")
        started.append(api)
        worker = WorkerProcess(env, tmp_path / "worker")
        started.append(worker)
        batch = Proc("batch", tmp_path / "batch", env, "batch")
        started.append(batch)
        (tmp_path / "aio").mkdir()
        aio = Server({**ADMIN, **BATCH}, "serve", tmp_path / "aio")
        started.append(aio)
        worker.wait_started()

        services = Api(api.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        all_in_one = Api(aio.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        send(services, rest, stream)
        send(all_in_one, rest, stream)
        for deployment, proc in ((services, batch), (all_in_one, aio)):
            assert wait_for(lambda d=deployment: settled(d, *expected), timeout=90), proc.log()
        assert "batch job rollups" in batch.log() and "rollups" not in api.log_path.read_text()
        ours, theirs = picture(services), picture(all_in_one)
        assert ours == theirs
        assert ours["summary"]["active"] == {"traces": 6, "users": 2}
        assert [b["start"][11:16] for b in ours["3h/None"]] == ["00:00", "03:00", "06:00", "09:00", "12:00"]
        assert len(ours["1h/None"]) == 12  # each trace spans two hours' windows: 01:59:50 … 02:00:09
    finally:
        for proc in reversed(started):
            proc.stop()
        drop_pg_database(admin_url, pg)
