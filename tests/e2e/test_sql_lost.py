"""The all-in-one loses its SQL file while Redis keeps the streams: after a restart the subscriptions are
rebuilt from the Redis registry (owner re-linked, deletions kept) and nothing in the streams is lost."""

from __future__ import annotations

import json
from pathlib import Path

import redis
from sqlalchemy import select

from backend.bootstrap import open_engine
from backend.db.models import Event
from backend.demo import seed_events
from backend.settings import Settings
from tests.conftest import ADMIN, Api, Server, wait_for
from tests.stream_fixtures import xadd_events


def test_subscriptions_are_rediscovered_from_redis_and_no_entry_is_lost(tmp_path: Path, stream_redis_url: str) -> None:
    env = {**ADMIN, "FT_REDIS_URL": stream_redis_url, "FT_STREAM_BLOCK_MS": "200", "FT_STREAM_RECONCILE_SECONDS": "1"}
    client = redis.Redis.from_url(stream_redis_url, decode_responses=True)
    events = seed_events("lost")
    before, while_down = events[:9], events[9:]

    srv = Server(env, "serve", tmp_path)
    try:
        api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        live = api.post("/subscriptions", json={"user_id": "team-lost", "user_name": "Lost & Found"}).json()
        closed = api.post("/subscriptions", json={"user_id": "team-gone"}).json()
        assert api.delete(f"/subscriptions/{closed['id']}").status_code == 200
        xadd_events(client, live["stream_key"], before)
        assert wait_for(
            lambda: (
                api.get("/traces/lost").status_code == 200 and api.get("/traces/lost").json()["summary"]["dropped"] == 1
            ),
            timeout=30,
        )
    finally:
        srv.stop()

    for path in tmp_path.glob("ftel.sqlite3*"):
        path.unlink()  # the SQL store is gone: accounts, subscriptions, event log
    xadd_events(client, live["stream_key"], while_down)  # the app keeps writing meanwhile
    # acknowledged entries are trimmed a few seconds after their ack: whatever is still in the stream
    # (at least everything written while down) must end up in the new event log
    in_stream = {json.loads(fields["event"])["id"] for _, fields in client.xrange(live["stream_key"])}
    assert {e["id"] for e in while_down} <= in_stream

    srv = Server(env, "serve", tmp_path)
    try:
        api = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        mine = {s["id"]: s for s in api.get("/subscriptions", params={"include_deleted": "true"}).json()}
        assert set(mine) == {live["id"], closed["id"]}  # the admin was re-created: re-linked by client id
        back = mine[live["id"]]
        assert (back["stream_key"], back["user_id"], back["user_name"], back["deleted_at"]) == (
            live["stream_key"],
            "team-lost",
            "Lost & Found",
            None,
        )
        assert back["created_at"] == live["created_at"]
        assert mine[closed["id"]]["delete_reason"] == "unsubscribed"

        def complete() -> bool:
            detail = api.get("/traces/lost")
            return (
                detail.status_code == 200
                and detail.json()["status"] == "ended"
                and detail.json()["summary"]["outputs"] == 1
            )

        assert wait_for(complete, timeout=30), srv.log()
        assert api.get("/traces/lost").json()["summary"] == {
            "files": 3,
            "dropped": 2,
            "unconverted": 0,
            "data": 6,
            "outputs": 1,
            "drop_reasons": {"checksum mismatch (see log)": 1, "header row missing (see log)": 1},
            "user_missing": False,
        }
        # entries written while the server was down are in the new event log
        written = {e["type"] for e in api.get("/nodes/File4").json()["events"]}
        assert "flow" in written
        group = client.xinfo_groups(live["stream_key"])[0]
        assert (
            group["pending"] == 0
            and group["last-delivered-id"] == client.xinfo_stream(live["stream_key"])["last-generated-id"]
        )
        assert json.loads(client.hget("ft:streams", live["stream_key"]))["deleted"] is None
        assert client.xlen("ft:dlq") == 0
        assert "restored 2 subscriptions from the Redis registry into SQL" in srv.log()
        engine = open_engine(Settings(data_dir=tmp_path))
        with engine.connect() as conn:
            logged = set(conn.execute(select(Event.uuid)).scalars())
        engine.dispose()
        assert in_stream <= logged
    finally:
        srv.stop()
