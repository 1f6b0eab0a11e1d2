"""Exports in services mode: `ftel api` takes the request, `ftel worker` runs the export (the API process runs
no exports), chunks go to the S3 server, any API process serves them; after FT_EXPORT_TTL_HOURS the chunks
are deleted from the bucket and the export answers 410."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

from backend.demo import seed_events
from tests.conftest import ADMIN, Api, Server, services_stack, wait_for
from tests.storage_fixtures import S3Server
from tests.stream_fixtures import WorkerProcess, rekeyed

TTL_HOURS = 0.004  # 14.4 s


def test_a_worker_runs_the_export_into_s3_and_the_api_serves_it(
    tmp_path: Path, stream_redis_url: str, s3proxy_server: S3Server
) -> None:
    tag = uuid.uuid4().hex[:6]
    bucket = f"ftel-export-{tag}"
    services, drop = services_stack()
    env = {
        **ADMIN,
        **services,
        **s3proxy_server.env(bucket),
        "FT_REDIS_URL": stream_redis_url,
        "FT_EXPORT_POLL_SECONDS": "0.2",
        "FT_EXPORT_TTL_HOURS": str(TTL_HOURS),
        "FT_EXPORT_CHUNK_EVENTS": "7",
    }
    started: list[Server | WorkerProcess] = []
    try:
        (tmp_path / "api").mkdir()
        api = Server(env, "api", tmp_path / "api")
        started.append(api)
        worker = WorkerProcess(env, tmp_path / "worker")
        started.append(worker)
        worker.wait_started()
        admin = Api(api.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        events = rekeyed(seed_events(f"exp-{tag}"), f"-{tag}")
        assert admin.post("/events", json=events).status_code == 202
        made = admin.post("/exports", json={"content": "events", "trace": f"exp-{tag}"})
        assert made.status_code == 202, made.text
        export_id = made.json()["id"]
        assert wait_for(lambda: admin.get(f"/exports/{export_id}").json()["status"] == "done", timeout=60), worker.log()
        manifest = admin.get(f"/exports/{export_id}/manifest").json()
        assert manifest["events"] == len(events) and len(manifest["chunks"]) == -(-len(events) // 7)
        got = []
        for chunk in manifest["chunks"]:
            body = admin.get(f"/exports/{export_id}/chunks/{chunk['seq']}")
            assert body.status_code == 200
            got += [json.loads(line)["id"] for line in gzip.decompress(body.content).splitlines()]
        assert got == [e["id"] for e in events]
        store = s3proxy_server.store(bucket)
        names = [o.name for o in store.list(f"exports/{export_id}/")]
        assert f"exports/{export_id}/manifest.json" in names and len(names) == len(manifest["chunks"]) + 1
        assert f"export {export_id}: done" in worker.log() and f"export {export_id}: running" not in api.log()
        # expiry: the worker deletes the chunks from the bucket, the API answers 410
        assert wait_for(lambda: admin.get(f"/exports/{export_id}").json()["status"] == "expired", timeout=60)
        assert list(store.list(f"exports/{export_id}/")) == []
        gone = admin.get(f"/exports/{export_id}/chunks/1")
        assert gone.status_code == 410 and gone.json()["error"]["code"] == "gone"
    finally:
        for proc in reversed(started):
            proc.stop()
        drop()
