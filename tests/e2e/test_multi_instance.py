"""Services mode on one Redis: two API replicas (`ftel api`) and two workers (`ftel worker`) on
PostgreSQL + Neo4j. A subscription made through one API is consumed by the workers' shared group; a
DELETE through the other stops every worker at once (pub/sub, not the periodic refresh); an idle
subscription expires once (ARQ cron) and every worker lets go of it."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, func, select

from backend.db.models import Event
from backend.demo import seed_events
from tests.conftest import ADMIN, Api, Server, create_pg_database, drop_pg_database, free_port, service_env, wait_for
from tests.stream_fixtures import WorkerProcess, rekeyed, xadd_events


def following(client: redis.Redis, worker: str) -> list[str]:
    state = client.hget("ft:consumers", worker)
    return json.loads(state)["streams"]["redis"] if state else []


def test_two_apis_and_two_workers_on_one_redis(tmp_path: Path, stream_redis_url: str) -> None:
    admin_url = service_env("FT_TEST_POSTGRES_URL")
    pg = create_pg_database(admin_url)
    env = {
        **ADMIN,
        "FT_DATABASE_URL": pg,
        "FT_GRAPH": "neo4j",
        "FT_NEO4J_URI": service_env("FT_TEST_NEO4J_URI"),
        "FT_NEO4J_USER": os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
        "FT_NEO4J_PASSWORD": os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
        "FT_REDIS_URL": stream_redis_url,
        "FT_STREAM_BLOCK_MS": "200",
        "FT_STREAM_READ_COUNT": "5",
        "FT_STREAM_RECONCILE_SECONDS": "1",
        "FT_STREAM_REFRESH_SECONDS": "300",  # propagation must come from ft:control
        "FT_SUBSCRIPTION_IDLE_MINUTES": "0.15",
        "FT_FLOW_EVENTS_PER_SECOND": "100000",  # no parking: every batch is stored by the worker that read it
    }
    client = redis.Redis.from_url(stream_redis_url, decode_responses=True)
    sql = create_engine(pg.replace("postgresql://", "postgresql+psycopg://"))
    started: list[Server | WorkerProcess] = []
    for name in ("api1", "api2"):
        (tmp_path / name).mkdir()
    try:
        api1 = Server(env, "api", tmp_path / "api1")  # migrates the fresh database first
        started.append(api1)
        api2 = Server(env, "api", tmp_path / "api2")
        started.append(api2)
        metrics = {name: free_port() for name in ("w1", "w2")}
        workers = {
            name: WorkerProcess(
                {**env, "FT_CONSUMER_NAME": name, "FT_WORKER_METRICS_PORT": str(metrics[name])}, tmp_path / name
            )
            for name in ("w1", "w2")
        }
        started += workers.values()
        for worker in workers.values():
            worker.wait_started()

        admin = Api(api1.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        created = admin.post("/accounts", json={"name": "observed", "roles": ["ingest"]}).json()
        via1 = Api(api1.base, created["client_id"], created["client_secret"])
        via2 = Api(api2.base, created["client_id"], created["client_secret"])

        # made through API 1: both workers follow it at once and share its entries
        sub = via1.post("/subscriptions", json={"user_id": "multi"}).json()
        stream = sub["stream_key"]
        assert wait_for(lambda: all(stream in following(client, w) for w in workers), timeout=10)
        tag = uuid.uuid4().hex[:6]

        def stored() -> tuple[int, int]:
            with sql.connect() as conn:
                total = conn.execute(select(func.count()).where(Event.channel == stream)).scalar_one()
                merged = conn.execute(
                    select(func.count()).where(Event.channel == stream, Event.projected.is_(True))
                ).scalar_one()
            return int(total), int(merged)

        def drained() -> bool:  # stored first, acknowledged right after
            group = client.xinfo_groups(stream)[0]
            return (
                group["pending"] == 0 and group["last-delivered-id"] == client.xinfo_stream(stream)["last-generated-id"]
            )

        def acked() -> dict[str, float]:  # each worker's own count (Prometheus, FT_WORKER_METRICS_PORT)
            return {
                name: _metric(
                    httpx.get(f"http://127.0.0.1:{port}/metrics").text,
                    "ftel_stream_entries_total",
                    {"transport": "redis", "outcome": "acked"},
                )
                for name, port in metrics.items()
            }

        # Which blocked reader Redis hands an entry to is up to it: batches go until both workers have acked
        # some (the first nearly always does it), each batch stored and acknowledged before the next.
        events: list[dict[str, object]] = []
        for batch in range(5):
            for trace in (f"mi1-{tag}-{batch}", f"mi2-{tag}-{batch}"):
                new = rekeyed(seed_events(trace), f"-{trace}")
                xadd_events(client, stream, new)
                events += new
            sent = len(events)
            assert wait_for(lambda n=sent: stored() == (n, n), timeout=60), (
                stored(),
                sent,
                [w.log() for w in workers.values()],
            )
            assert wait_for(drained, timeout=10)
            assert wait_for(lambda n=sent: sum(acked().values()) == n, timeout=10), acked()
            if all(acked().values()):
                break
        by_worker = acked()
        assert all(n > 0 for n in by_worker.values()), f"one worker got every entry of {batch + 1} batches: {by_worker}"
        assert sum(by_worker.values()) == len(events)
        print(f"\nentries acked per worker: {by_worker} ({batch + 1} batch(es) of 40)")
        assert {c["name"] for c in client.xinfo_consumers(stream, "ftel")} == {"w1", "w2"}

        # deleted through API 2: every worker stops consuming it. A read blocked on it at that moment may still
        # take an entry added now (left pending, never stored: backend/streams/redis.py); the entry added once
        # both workers follow a newer subscription is never read at all.
        assert via2.delete(f"/subscriptions/{sub['id']}").json()["delete_reason"] == "unsubscribed"
        assert wait_for(lambda: not any(stream in following(client, w) for w in workers), timeout=10)
        xadd_events(client, stream, [{"type": "log", "trace": f"mi1-{tag}-0", "message": "after unsubscribe"}])

        # idle expiry: runs once (ARQ cron) and reaches every worker
        quiet = via2.post("/subscriptions", json={"user_id": "quiet"}).json()
        assert wait_for(lambda: all(quiet["stream_key"] in following(client, w) for w in workers), timeout=10)
        [unread] = xadd_events(
            client, stream, [{"type": "log", "trace": f"mi1-{tag}-0", "message": "long after unsubscribe"}]
        )
        xadd_events(client, quiet["stream_key"], [{"type": "log", "trace": f"q-{tag}", "message": "one and done"}])
        expired = wait_for(
            lambda: via1.get(f"/subscriptions/{quiet['id']}").json()["delete_reason"] == "idle", timeout=60
        )
        assert expired, [w.log() for w in workers.values()]
        assert wait_for(lambda: not any(quiet["stream_key"] in following(client, w) for w in workers), timeout=10)
        assert json.loads(client.hget("ft:streams", quiet["stream_key"]))["reason"] == "idle"
        logs = "".join(w.log() for w in workers.values())
        assert logs.count(f"subscription {quiet['id']} closed (idle)") == 1  # one worker did it, once

        # the unsubscribed stream, seconds of reading later: nothing more stored, the late entry never delivered
        assert stored() == (len(events), len(events))
        assert _id(client.xinfo_groups(stream)[0]["last-delivered-id"]) < _id(unread)
    finally:
        for proc in reversed(started):
            proc.stop()
        sql.dispose()
        drop_pg_database(admin_url, pg)


def _id(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def _metric(text: str, name: str, labels: dict[str, str]) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    return next(
        (
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name and sample.labels == labels
        ),
        0.0,
    )
