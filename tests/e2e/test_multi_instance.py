"""Services mode on one Redis: two API replicas (`ftel api`) and two workers (`ftel worker`) on
PostgreSQL + Neo4j. A subscription made through one API is consumed by the workers' shared group; a
DELETE through the other stops every worker at once (pub/sub, not the periodic refresh); an idle
subscription expires once (ARQ cron) and every worker lets go of it."""

from __future__ import annotations

import json
import os
import time
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
        events = []
        for trace in (f"mi1-{tag}", f"mi2-{tag}"):
            events += rekeyed(seed_events(trace), f"-{trace}")
        xadd_events(client, stream, events)

        def stored() -> tuple[int, int]:
            with sql.connect() as conn:
                total = conn.execute(select(func.count()).where(Event.channel == stream)).scalar_one()
                merged = conn.execute(
                    select(func.count()).where(Event.channel == stream, Event.projected.is_(True))
                ).scalar_one()
            return int(total), int(merged)

        assert wait_for(lambda: stored() == (len(events), len(events)), timeout=60), [w.log() for w in workers.values()]

        def drained() -> bool:  # stored first, acknowledged right after
            group = client.xinfo_groups(stream)[0]
            return (
                group["pending"] == 0 and group["last-delivered-id"] == client.xinfo_stream(stream)["last-generated-id"]
            )

        assert wait_for(drained, timeout=10)
        assert {c["name"] for c in client.xinfo_consumers(stream, "ftel")} == {"w1", "w2"}
        # each worker serves Prometheus metrics (FT_WORKER_METRICS_PORT): together they acked every entry
        acked = sum(
            _metric(
                httpx.get(f"http://127.0.0.1:{port}/metrics").text,
                "ftel_stream_entries_total",
                {"transport": "redis", "outcome": "acked"},
            )
            for port in metrics.values()
        )
        assert acked == len(events)

        # deleted through API 2: every worker stops consuming it
        assert via2.delete(f"/subscriptions/{sub['id']}").json()["delete_reason"] == "unsubscribed"
        assert wait_for(lambda: not any(stream in following(client, w) for w in workers), timeout=10)
        time.sleep(0.5)  # a read already blocked on the stream ends within FT_STREAM_BLOCK_MS
        last_read = client.xinfo_groups(stream)[0]["last-delivered-id"]
        xadd_events(client, stream, [{"type": "log", "trace": f"mi1-{tag}", "message": "after unsubscribe"}])
        time.sleep(1.5)
        assert client.xinfo_groups(stream)[0]["last-delivered-id"] == last_read  # nobody reads it any more
        assert stored() == (len(events), len(events))

        # idle expiry: runs once (ARQ cron) and reaches every worker
        quiet = via2.post("/subscriptions", json={"user_id": "quiet"}).json()
        assert wait_for(lambda: all(quiet["stream_key"] in following(client, w) for w in workers), timeout=10)
        xadd_events(client, quiet["stream_key"], [{"type": "log", "trace": f"q-{tag}", "message": "one and done"}])
        expired = wait_for(
            lambda: via1.get(f"/subscriptions/{quiet['id']}").json()["delete_reason"] == "idle", timeout=30
        )
        assert expired, [w.log() for w in workers.values()]
        assert wait_for(lambda: not any(quiet["stream_key"] in following(client, w) for w in workers), timeout=10)
        assert json.loads(client.hget("ft:streams", quiet["stream_key"]))["reason"] == "idle"
        logs = "".join(w.log() for w in workers.values())
        assert logs.count(f"subscription {quiet['id']} closed (idle)") == 1  # one worker did it, once
    finally:
        for proc in reversed(started):
            proc.stop()
        sql.dispose()
        drop_pg_database(admin_url, pg)


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
