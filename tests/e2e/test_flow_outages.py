"""Store outages with real, PRIVATE engines (never the shared ones other tests use): Redis and Neo4j are
stopped mid-load and started again; ingestion keeps answering 202, parks, and after the engine returns
the backlog drains — every event stored once and in the graph."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from tests.conftest import ADMIN, Api, Server, wait_for
from tests.outage_fixtures import START_SECONDS, STOP_SECONDS, PrivateRedis, PrivateService

CATCH_UP_SECONDS = 120  # each wait for the backlog once Neo4j is back (its JVM is cold then)
SERVER_SECONDS = 60 + 20  # Server: answering within 60 s, stopped within 20
# Every bounded wait of the Neo4j test in a row: two starts and stops of its private Neo4j (the fixture's and
# the test's), the server, the pressure wait and three catch-up waits, plus a minute of slack. The global
# 300 s would cut the test short on a loaded machine while each wait was still within its bound.
NEO4J_TEST_SECONDS = 2 * START_SECONDS + 2 * STOP_SECONDS + SERVER_SECONDS + 30 + 3 * CATCH_UP_SECONDS + 60


def stored(data_dir: Path, like: str) -> tuple[int, int]:
    with sqlite3.connect(data_dir / "ftel.sqlite3") as db:
        rows = db.execute(
            "SELECT count(*), count(DISTINCT payload) FROM events WHERE payload LIKE ?", (f"%{like}%",)
        ).fetchone()
    return int(rows[0]), int(rows[1])


def burst(tag: str, start: int, count: int, user: str = "heavy") -> list[dict[str, str]]:
    return [{"type": "trace.started", "trace": f"{tag}-{i}", "user": user} for i in range(start, start + count)]


def test_redis_stopped_rest_keeps_answering_202_into_the_spool_and_nothing_is_lost(
    tmp_path: Path, private_redis: PrivateRedis
) -> None:
    env = {
        **ADMIN,
        "FT_REDIS_URL": private_redis.url,
        "FT_FLOW_EVENTS_PER_SECOND": "10",
        "FT_FLOW_BURST_SECONDS": "1",
        "FT_FLOW_DRAIN_EVENTS_PER_SECOND": "20",
        "FT_FLOW_CHECK_SECONDS": "0.3",
        "FT_FLOW_TICK_SECONDS": "0.1",
    }
    (tmp_path / "data").mkdir()
    server = Server(env, "serve", tmp_path / "data")
    try:
        admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        app = admin.account("ingest", name="app")
        tag = f"r-{uuid.uuid4().hex[:8]}"
        first = app.post("/events", json=burst(tag, 0, 100)).json()
        assert first["buffered"] >= 80  # parked in Redis
        private_redis.stop()
        answers = [app.post("/events", json=burst(tag, 100 + 50 * i, 50)) for i in range(4)]
        assert [r.status_code for r in answers] == [202] * 4
        assert all(r.json()["accepted"] + r.json()["buffered"] == 50 for r in answers)
        spool = server.data_dir / "spool"
        assert list(spool.glob("seg-*.log")), "events over the allowance went to the disk spool"
        assert wait_for(lambda: admin.get("/flow").json()["redis"] == "unusable", timeout=10)
        private_redis.start()
        total = 300
        assert wait_for(lambda: stored(server.data_dir, f"{tag}-") == (total, total), timeout=60), stored(
            server.data_dir, f"{tag}-"
        )
        view = wait_for(
            lambda: (v := admin.get("/flow").json())["buffered"] == {"redis": 0, "spool": 0} and v, timeout=10
        )
        assert view and view["redis"] == "ok"
        assert not list(spool.glob("seg-*.log"))
        assert admin.get(f"/traces/{tag}-{total - 1}").status_code == 200
    finally:
        server.stop()


@pytest.mark.timeout(NEO4J_TEST_SECONDS)
def test_neo4j_stopped_mid_load_events_park_and_the_graph_is_complete_after_it_returns(
    tmp_path: Path, private_neo4j: PrivateService
) -> None:
    env = {
        **ADMIN,
        "FT_GRAPH": "neo4j",
        "FT_NEO4J_URI": private_neo4j.uri,
        "FT_NEO4J_PASSWORD": "x",
        "FT_FLOW_CHECK_SECONDS": "0.3",
        "FT_FLOW_TICK_SECONDS": "0.1",
        "FT_FLOW_DRAIN_EVENTS_PER_SECOND": "500",
    }
    (tmp_path / "data").mkdir()
    server = Server(env, "serve", tmp_path / "data")
    try:
        admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        app = admin.account("ingest", name="app")
        tag = f"n-{uuid.uuid4().hex[:8]}"
        sent = 0
        for _ in range(3):
            assert app.post("/events", json=burst(tag, sent, 20)).json()["accepted"] == 20
            sent += 20
        private_neo4j.run("stop")
        assert wait_for(lambda: "graph" in admin.get("/flow").json()["pressure"], timeout=30)
        for _ in range(5):
            r = app.post("/events", json=burst(tag, sent, 20))
            assert r.status_code == 202 and r.json()["buffered"] == 20, r.text
            sent += 20
        parked = admin.get("/flow").json()
        assert parked["buffered"]["redis"] + parked["buffered"]["spool"] >= 100
        private_neo4j.run("start")
        assert wait_for(lambda: "graph" not in admin.get("/flow").json()["pressure"], timeout=CATCH_UP_SECONDS)
        assert wait_for(lambda: stored(server.data_dir, f"{tag}-") == (sent, sent), timeout=CATCH_UP_SECONDS)
        missing = wait_for(
            lambda: [i for i in range(sent) if admin.get(f"/traces/{tag}-{i}").status_code != 200] == [],
            timeout=CATCH_UP_SECONDS,
        )
        assert missing, "every trace reached the graph after Neo4j returned"
        assert admin.get("/flow").json()["buffered"] == {"redis": 0, "spool": 0}
    finally:
        server.stop()
