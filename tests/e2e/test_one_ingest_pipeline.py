"""Every producer of events enters the one ingest pipeline: REST, the stream consumers, file uploads and
retention's `file.expired` through `Ingest.admit`, the drainer of parked events through
`Ingest.admit_drained` (the same validation, store and merge, without asking the policy again). The
all-in-one role is built by the composition root, both doors are wrapped to count who calls them, and each
producer is made to produce; then the event log holds exactly what the counted calls stored: nothing
entered another way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import text

from backend.api.app import create_app
from backend.bootstrap import Process, Role, build
from backend.domain.ingest import DrainResult, IngestResult
from backend.settings import Settings
from tests.conftest import wait_for


@pytest.fixture
def process(tmp_path: Path, stream_redis_url: str) -> Iterator[Process]:
    settings = Settings(
        data_dir=tmp_path,
        redis_url=stream_redis_url,
        stream_block_ms=100,
        stream_refresh_seconds=0.5,
        retention_max_files=1,
        retention_grace_seconds=0,
        retention_interval_seconds=0,
        flow_tick_seconds=3600,
        flow_check_seconds=3600,
        projector_interval_seconds=0.2,
    )
    built = build(settings, Role.serve)
    yield built
    built.close()


def producer(channel: str, raw: list[Any]) -> str:
    if channel.startswith("rest:"):
        return "rest"
    if channel.startswith("ft:s:"):
        return "stream"
    types = {e.get("type") for e in raw if isinstance(e, dict)}
    return "retention" if types == {"file.expired"} else "upload" if types == {"file.stored"} else f"other {channel}"


def test_every_producer_of_events_enters_the_one_ingest_pipeline(process: Process, stream_redis_url: str) -> None:
    calls: list[tuple[str, int]] = []  # (producer, events it stored)
    admit, admit_drained = process.ingest.admit, process.ingest.admit_drained

    def counted(raw: Any, channel: str, account_id: int | None, **kwargs: Any) -> IngestResult:
        result = admit(raw, channel, account_id, **kwargs)
        calls.append((producer(channel, list(raw)), result.accepted))
        return result

    def counted_drain(batches: Any) -> DrainResult:
        result = admit_drained(batches)
        calls.append(("drain", result.accepted))
        return result

    process.ingest.admit = counted  # type: ignore[method-assign]
    process.ingest.admit_drained = counted_drain  # type: ignore[method-assign]
    creds = process.auth.create_account("producer", "system", ["ingest", "read", "admin"])
    app = create_app(process.api_services(), on_start=process.start, on_stop=process.close)
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/token", json={"client_id": creds.account.client_id, "client_secret": creds.client_secret}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"

        # REST, over an allowance of 1 event: one stored, the rest parked for the drainer
        assert (
            client.put(
                f"/api/v1/flow/allowances/{creds.account.uuid}",
                json={"events_per_second": 0.1, "bytes_per_second": 1e9, "burst_seconds": 10},
            ).status_code
            == 200
        )
        sent = client.post(
            "/api/v1/events", json=[{"type": "trace.started", "trace": f"one-{i}", "user": "u"} for i in range(3)]
        )
        assert sent.status_code == 202 and sent.json()["buffered"] == 2, sent.text

        # uploads (two, so that retention with FT_RETENTION_MAX_FILES=1 has one to delete); their file.stored
        # events come from the same account, so the second is over the allowance and parked too
        for key in ("one-file-a", "one-file-b"):
            up = client.post(
                "/api/v1/files", files={"file": (key, b"bytes of " + key.encode())}, data={"trace": "one-0", "key": key}
            )
            assert up.status_code == 201, up.text  # oldest first is (stored_at, id): a tie keeps this order

        # a stream entry, written like an app does
        sub = client.post("/api/v1/subscriptions", json={"user_id": "streamer"}).json()
        app_redis = redis.Redis.from_url(sub["endpoint"])
        app_redis.xadd(
            sub["stream_key"], {"event": json.dumps({"type": "trace.started", "trace": "one-stream", "user": "s"})}
        )
        assert wait_for(lambda: any(p == "stream" for p, _ in calls), timeout=30)
        app_redis.close()

        # retention, then the drainer
        assert [d.key for d in process.retention.run().deleted] == ["one-file-a"]  # type: ignore[union-attr]
        assert process.flow is not None
        process.flow.accounting.set_allowance(creds.account.id, process.flow.accounting.default)
        assert process.flow.drain_once() == 3  # two REST events and one file.stored

    seen = {p for p, _ in calls}
    assert seen == {"rest", "upload", "stream", "retention", "drain"}, calls
    stored = sum(n for _, n in calls)
    with process.engine.connect() as conn:
        logged = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
    assert (
        logged == stored == 3 + 2 + 1 + 1
    )  # REST (1 now, 2 drained), two uploads (1 drained), the stream entry, one expiry
