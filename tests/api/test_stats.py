"""GET /stats and /stats/summary over real HTTP on the all-in-one (`ftel serve`: SQLite, embedded graph and
Redis, the batch jobs in-process): the same events sent over REST and over a subscription stream count once
(the second copies marked in the log and counted as duplicates), and the routes' errors and roles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text

from backend.demo import seed_events
from tests.conftest import ADMIN, Api, Server, wait_for
from tests.stream_fixtures import rekeyed, xadd_events

DAY = "2026-11-30T00:00:00Z"
NEXT_DAY = "2026-12-01T00:00:00Z"


def scenario(trace: str) -> list[dict[str, Any]]:
    """The seed scenario on 2026-11-30 09:00, without ids: what an app that sends none writes to both channels
    (with ids the event log itself keeps one copy)."""
    events = rekeyed(seed_events(trace, user="team-7", start=datetime(2026, 11, 30, 9, 0, tzinfo=UTC)), f"-{trace}")
    return [{k: v for k, v in e.items() if k != "id"} for e in events]


@pytest.fixture(scope="module")
def aio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {**ADMIN, "FT_STREAM_BLOCK_MS": "200", "FT_STREAM_RECONCILE_SECONDS": "1", "FT_BATCH_INTERVAL_SECONDS": "0.3"}
    srv = Server(env, "serve", tmp_path_factory.mktemp("stats"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(aio: Server) -> Api:
    return Api(aio.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


def summary(api: Api) -> dict[str, Any]:
    answer = api.get("/stats/summary", params={"since": DAY, "until": NEXT_DAY})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_same_events_over_rest_and_a_stream_count_once(aio: Server, admin: Api) -> None:
    app = admin.account("ingest", name="observed-app")
    events = scenario("dup")
    sent = app.post("/events", json=events, params={})
    assert sent.status_code == 202, sent.text
    sub = app.post("/subscriptions", json={"user_id": "team-7"}).json()
    xadd_events(redis.Redis.from_url(sub["endpoint"], decode_responses=True), sub["stream_key"], events)
    sql = create_engine(f"sqlite:///{aio.data_dir / 'ftel.sqlite3'}")

    def marked() -> tuple[int, int]:
        with sql.connect() as conn:
            row = conn.execute(
                text("SELECT count(*), count(duplicate_of) FROM events WHERE channel = :s"), {"s": sub["stream_key"]}
            ).one()
        return int(row[0]), int(row[1])

    assert wait_for(lambda: marked() == (len(events), len(events)), timeout=30), marked()
    assert wait_for(lambda: summary(admin)["duplicates"] == len(events), timeout=30), summary(admin)
    whole = summary(admin)
    types: dict[str, int] = {}
    for e in events:
        types[e["type"]] = types.get(e["type"], 0) + 1
    assert whole["events"] == types  # once each, though stored twice
    assert whole["files"] == {"received": 3, "stored": 3, "dropped": 2, "expired": 0, "deleted": 0, "unconverted": 0}
    assert (whole["data_produced"], whole["outputs"]) == (6, 1)
    assert whole["drops"] == {"checksum mismatch (see log)": 1, "header row missing (see log)": 1}
    assert whole["logs"] == {"debug": 1, "info": 2, "warn": 1, "error": 1}
    assert whole["active"] == {"traces": 1, "users": 1}
    assert "dedup: " in aio.log()
    by_account = admin.get("/stats", params={"window": "1h", "since": DAY, "until": NEXT_DAY, "by": "account"}).json()
    (bucket,) = by_account["buckets"]  # REST and the stream both came from the app's account
    assert bucket["start"] == "2026-11-30T09:00:00.000000Z" and bucket["duplicates"] == len(events)
    assert sum(bucket["events"].values()) == len(events)


def test_windows_by_user_and_reason_in_the_contracts_shape(admin: Api) -> None:
    admin.post("/events", json=scenario("shape"))
    params = {"window": "15m", "since": "2026-11-30T09:07:00Z", "until": "2026-11-30T09:20:00Z"}
    assert wait_for(lambda: summary(admin)["events"]["trace.started"] == 2, timeout=30)  # with the trace "dup"
    answer = admin.get("/stats", params={**params, "by": "user"}).json()
    assert (answer["window"], answer["by"]) == ("15m", "user")
    assert (answer["since"], answer["until"]) == ("2026-11-30T09:00:00.000000Z", "2026-11-30T09:30:00.000000Z")
    (bucket,) = answer["buckets"]
    assert bucket["key"] == "team-7" and bucket["end"] == "2026-11-30T09:15:00.000000Z"
    assert set(bucket) == {
        "start", "end", "key", "events", "files", "data_produced", "outputs", "drops", "logs", "bytes", "active",
        "duplicates", "lag_ms",
    }  # fmt: skip
    assert set(bucket["lag_ms"]) == {"p50", "p95", "max"} and bucket["lag_ms"]["max"] > 0
    reasons = admin.get("/stats", params={**params, "by": "reason"}).json()["buckets"]
    assert {b["key"]: b["drops"] for b in reasons} == {
        "checksum mismatch (see log)": {"checksum mismatch (see log)": 2},
        "header row missing (see log)": {"header row missing (see log)": 2},
    }
    whole = admin.get("/stats", params=params).json()["buckets"]
    assert [b["key"] for b in whole] == [None]
    default = admin.get("/stats", params={"window": "1h"}).json()  # the last 24 hours, whole windows
    assert default["until"][14:] == "00:00.000000Z" and default["buckets"] == []


def test_bad_windows_ranges_and_roles_are_clear_errors(aio: Server, admin: Api) -> None:
    def error(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        return str(response.json()["error"]["code"])

    assert error(admin.get("/stats"), 422) == "unprocessable"  # window is required
    assert error(admin.get("/stats", params={"window": "2h"}), 422) == "unprocessable"
    assert error(admin.get("/stats", params={"window": "1h", "by": "trace"}), 422) == "unprocessable"
    assert error(admin.get("/stats", params={"window": "1h", "since": "yesterday"}), 422) == "unprocessable"
    assert error(admin.get("/stats", params={"window": "1h", "since": NEXT_DAY, "until": DAY}), 400) == "invalid_input"
    assert error(admin.get("/stats/summary", params={"since": NEXT_DAY, "until": DAY}), 400) == "invalid_input"
    many = {"window": "15m", "since": "1990-01-01T00:00:00Z", "until": NEXT_DAY}
    assert "10000 windows" in json.dumps(admin.get("/stats", params=many).json())
    assert error(httpx.get(f"{aio.base}/api/v1/stats", params={"window": "1h"}), 401) == "unauthenticated"
    writer = admin.account("ingest", name="writer-only")
    assert error(writer.get("/stats", params={"window": "1h"}), 403) == "forbidden"
    reader = admin.account("read", name="reader")
    assert reader.get("/stats/summary").status_code == 200  # role read sees the whole service
