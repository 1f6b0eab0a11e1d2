"""Exports over real HTTP on the all-in-one (`ftel serve`: SQLite, the embedded graph, the export runner
in-process), with small chunk limits: the seed scenario plus 200,000 generated events exported by period, by
trace and by key with its lineage give exactly the expected events (compared by id), in chunks none over the
limits; `ftel export verify` passes on the downloaded folder and fails on an altered chunk; roles per route;
bad input; and `ftel export` writing the same thing from the command line."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.demo import seed_events
from bench.workload import START, seed_mix
from tests.conftest import ADMIN, ROOT, Api, Server, wait_for

CHUNK_EVENTS, CHUNK_BYTES = 20_000, 1024 * 1024
GENERATED = 200_000
_NS = uuid.UUID("6f0c1c8e-3d4a-4f7e-9a51-0e8b8d1c0a77")


@pytest.fixture(scope="module")
def aio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        **ADMIN,
        "FT_EXPORT_CHUNK_EVENTS": str(CHUNK_EVENTS),
        "FT_EXPORT_CHUNK_BYTES": str(CHUNK_BYTES),
        "FT_EXPORT_POLL_SECONDS": "0.2",
        "FT_BATCH_INTERVAL_SECONDS": "0.5",
        "FT_FLOW_ENABLED": "false",
    }
    srv = Server(env, "serve", tmp_path_factory.mktemp("exports"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(aio: Server) -> Api:
    return Api(aio.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


@pytest.fixture(scope="module")
def sent(admin: Api) -> list[dict[str, Any]]:
    """What the instance holds: the seed scenario (trace A, with the graph merged) and 200,000 events of the
    seed mix, each with an id so that the test knows every id the export should give back."""
    seed = seed_events("A", user="team-7", start=datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC))
    answer = admin.post("/events", json=seed)
    assert answer.status_code == 202 and answer.json()["accepted"] == len(seed), answer.text
    generated = seed_mix(GENERATED)
    for n, event in enumerate(generated):
        event["id"] = str(uuid.uuid5(_NS, str(n)))
    for start in range(0, GENERATED, 5000):
        batch = generated[start : start + 5000]
        answer = admin.post("/events", json=batch, params={})
        assert answer.status_code == 202 and answer.json()["accepted"] == len(batch), answer.text
    return seed + generated


def run_export(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    started = api.post("/exports", json=body)
    assert started.status_code == 202, started.text
    export_id = started.json()["id"]
    done = wait_for(lambda: api.get(f"/exports/{export_id}").json()["status"] in ("done", "failed"), timeout=180)
    status = api.get(f"/exports/{export_id}").json()
    assert done and status["status"] == "done", status
    return status


def download(api: Api, export_id: str, folder: Path) -> dict[str, Any]:
    """The manifest and every chunk it lists, as a user saves them: the folder `ftel export verify` checks."""
    folder.mkdir(parents=True)
    manifest = api.get(f"/exports/{export_id}/manifest")
    assert manifest.status_code == 200, manifest.text
    (folder / "manifest.json").write_bytes(manifest.content)
    for chunk in manifest.json()["chunks"]:
        body = api.get(f"/exports/{export_id}/chunks/{chunk['seq']}")
        assert body.status_code == 200, body.text
        assert body.headers["x-content-sha256"] == hashlib.sha256(body.content).hexdigest() == chunk["sha256"]
        (folder / chunk["name"]).write_bytes(body.content)
    result: dict[str, Any] = manifest.json()
    return result


def records(folder: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every record of a downloaded NDJSON export, checking each chunk against the limits on the way."""
    out: list[dict[str, Any]] = []
    for chunk in manifest["chunks"]:
        raw = gzip.decompress((folder / chunk["name"]).read_bytes())
        assert len(raw) <= CHUNK_BYTES and chunk["events"] <= CHUNK_EVENTS
        lines = [json.loads(line) for line in raw.splitlines()]
        assert len(lines) == chunk["events"]
        assert lines[0]["seq"] == chunk["first"]["seq"] and lines[-1]["id"] == chunk["last"]["id"]
        out.extend(lines)
    return out


def ftel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def names(event: dict[str, Any]) -> set[str]:
    refs = [event.get("node"), *event.get("inputs", []), *event.get("outputs", [])]
    return {r["key"] for r in refs if r}


def test_an_export_by_event_time_period_gives_exactly_its_events(
    admin: Api, sent: list[dict[str, Any]], tmp_path: Path
) -> None:
    since, until = START + timedelta(seconds=5), START + timedelta(seconds=15)

    def at(e: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(e["time"].replace("Z", "+00:00"))

    expected = {e["id"] for e in sent if since <= at(e) < until}
    assert len(expected) > 60_000
    body = {"content": "events", "since": since.isoformat(), "until": until.isoformat(), "time": "event"}
    status = run_export(admin, body)
    manifest = download(admin, status["id"], tmp_path / "period")
    got = records(tmp_path / "period", manifest)
    assert [r["id"] for r in got if r["id"] not in expected] == []
    assert len(got) == len(expected) == status["events"] == manifest["events"]
    assert len(manifest["chunks"]) > 1 and [r["seq"] for r in got] == sorted(r["seq"] for r in got)
    assert status["estimate"] == len(expected)
    verified = ftel("export", "verify", str(tmp_path / "period"))
    assert verified.returncode == 0 and f"{len(expected)} records" in verified.stdout, verified.stdout + verified.stderr
    # one byte changed in one chunk: verify names it and fails
    chunk = tmp_path / "period" / manifest["chunks"][1]["name"]
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    chunk.write_bytes(bytes(data))
    altered = ftel("export", "verify", str(tmp_path / "period"))
    assert altered.returncode == 1 and manifest["chunks"][1]["name"] in altered.stdout, altered.stdout
    chunk.write_bytes(chunk.read_bytes()[:-100])  # and cut short
    assert ftel("export", "verify", str(tmp_path / "period")).returncode == 1


def test_an_export_of_trace_a_gives_its_events(admin: Api, sent: list[dict[str, Any]], tmp_path: Path) -> None:
    expected = [e["id"] for e in sent if e.get("trace") == "A"]
    status = run_export(admin, {"content": "events", "trace": "A"})
    got = records(tmp_path / "a", download(admin, status["id"], tmp_path / "a"))
    assert [r["id"] for r in got] == expected  # the seed was sent in order: log order is its order
    resent = [{**r["event"], "id": r["id"], "time": r["time"]} for r in got]
    again = admin.post("/events", json=resent)  # the envelope plus id and time: a re-send stores nothing new
    assert again.status_code == 202 and again.json()["accepted"] == 0, again.text


@pytest.mark.parametrize(("key", "lineage"), [("File3", {"File3"}), ("File4", {"File4", "data5", "data2", "File3"})])
def test_an_export_by_key_with_its_upstream_lineage(
    admin: Api, sent: list[dict[str, Any]], tmp_path: Path, key: str, lineage: set[str]
) -> None:
    expected = {e["id"] for e in sent if names(e) & lineage}
    body = {"content": "events", "key": key, "direction": "upstream", "depth": 5}
    status = run_export(admin, body)
    assert status["query"] == {"key": key, "direction": "upstream", "depth": 5}
    got = records(tmp_path / key, download(admin, status["id"], tmp_path / key))
    assert sorted(r["id"] for r in got) == sorted(expected)
    logs = [r["event"]["node"]["key"] for r in got if r["type"] == "log"]
    assert logs == (["data5"] if "data5" in lineage else [])  # the logs of its nodes come along


def test_csv_chunks_each_carry_the_header(admin: Api, sent: list[dict[str, Any]], tmp_path: Path) -> None:
    status = run_export(admin, {"content": "events", "trace": "seed-t3", "format": "csv", "compression": "none"})
    manifest = download(admin, status["id"], tmp_path / "csv")
    text = (tmp_path / "csv" / manifest["chunks"][0]["name"]).read_text()
    assert text.startswith("seq,id,type,time,received_at,trace,node,user,channel,account,event\n")
    assert manifest["events"] == sum(1 for e in sent if e.get("trace") == "seed-t3")
    assert ftel("export", "verify", str(tmp_path / "csv")).returncode == 0


def test_statistics_and_summaries_export(admin: Api, sent: list[dict[str, Any]], tmp_path: Path) -> None:
    day = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}

    def counted() -> int:
        return sum(admin.get("/stats/summary", params=day).json()["events"].values())

    assert wait_for(lambda: counted() == len(sent), timeout=120), counted()
    stats = run_export(admin, {"content": "stats", **day, "by": ["user"]})
    manifest = download(admin, stats["id"], tmp_path / "stats")
    rows = [
        json.loads(line)
        for c in manifest["chunks"]
        for line in gzip.decompress((tmp_path / "stats" / c["name"]).read_bytes()).splitlines()
    ]
    assert {r["by"] for r in rows} == {None, "user"} and stats["query"]["window"] == "1h"
    assert sum(sum(r["events"].values()) for r in rows if r["by"] is None) == len(sent)
    assert sum(sum(r["events"].values()) for r in rows if r["by"] == "user") == len(sent)

    def stored_summary() -> dict[str, Any] | None:  # once the summaries job has stored trace A's row
        done = run_export(admin, {"content": "summaries", "trace": "A", "format": "csv", "compression": "none"})
        return done if done["events"] == 1 else None

    summaries = wait_for(stored_summary, timeout=60, interval=1)
    assert summaries is not None
    manifest = download(admin, summaries["id"], tmp_path / "summaries")
    lines = (tmp_path / "summaries" / manifest["chunks"][0]["name"]).read_text().splitlines()
    assert lines[0].startswith("trace,user,status") and lines[1].startswith("A,team-7,")


def test_roles_per_route(admin: Api, sent: list[dict[str, Any]]) -> None:
    ingest, reader = admin.account("ingest", name="sender-only"), admin.account("read", name="reader-only")
    exporter, export_reader = admin.account("export", "ingest", name="exporter"), admin.account("export", "read")
    body = {"content": "events", "trace": "A"}
    done = run_export(admin, body)
    for api in (ingest, reader):
        assert api.post("/exports", json=body).status_code == 403
        assert api.get("/exports").status_code == 403
        assert api.get(f"/exports/{done['id']}").status_code == 403
        assert api.get(f"/exports/{done['id']}/manifest").status_code == 403
        assert api.get(f"/exports/{done['id']}/chunks/1").status_code == 403
    # an export account without read: its own events only; not the statistics
    mine = exporter.post("/events", json=[{"type": "log", "trace": "A", "message": "from the exporter"}])
    assert mine.status_code == 202
    own = run_export(exporter, body)
    assert own["query"]["sent_by"] and own["events"] == 1
    assert exporter.post("/exports", json={"content": "stats"}).status_code == 403
    assert exporter.get(f"/exports/{done['id']}").status_code == 404  # not its export
    assert [e["id"] for e in exporter.get("/exports").json()["exports"]] == [own["id"]]
    # export + read: everything it could read
    both = run_export(export_reader, body)
    assert both["events"] == done["events"] + 1 and "sent_by" not in both["query"]
    assert admin.get(f"/exports/{both['id']}/manifest").status_code == 200  # admins see every export


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"content": "events"}, 400),  # no scope
        ({"content": "events", "trace": "A", "key": "File3"}, 400),  # two scopes
        ({"content": "events", "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, 400),
        ({"content": "events", "since": "yesterday"}, 422),
        ({"content": "events", "trace": "A\u202e"}, 400),
        ({"content": "events", "trace": "A", "direction": "upstream"}, 400),
        ({"content": "events", "key": "no-such-key"}, 404),
        ({"content": "stats", "trace": "A"}, 400),
        ({"content": "events", "trace": "A", "extra": 1}, 422),
        ({"content": "everything", "trace": "A"}, 422),
        ({"content": "events", "key": "File3", "direction": "upstream", "depth": 99}, 422),
        ({"content": "events", "key": "File3", "direction": "upstream", "depth": 0}, 422),
        ({"content": "events", "trace": "A", "time": "event"}, 400),  # time goes with a period
        ({"content": "events", "trace": "A", "window": "15m"}, 400),  # window goes with stats
        ({"content": "stats", "since": "1970-01-01T00:00:00Z", "window": "15m"}, 400),  # over 100,000 windows
        ({"content": "events", "trace": "no-such-trace"}, 404),
        ({"content": "openlineage", "trace": "A", "format": "csv"}, 400),
    ],
)
def test_bad_requests_get_a_clear_4xx(admin: Api, body: dict[str, Any], status: int) -> None:
    answer = admin.post("/exports", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"] if "error" in answer.json() else answer.json()["detail"]


def test_unknown_and_unwritten_exports_are_404(admin: Api) -> None:
    assert admin.get("/exports/not-an-id").status_code == 404
    assert admin.get(f"/exports/{uuid.uuid4()}/manifest").status_code == 404
    done = run_export(admin, {"content": "events", "trace": "A"})
    assert admin.get(f"/exports/{done['id']}/chunks/{done['chunks'] + 1}").status_code == 404
    assert admin.get(f"/exports/{done['id']}/chunks/0").status_code == 422


def test_the_cli_writes_the_same_export(aio: Server, admin: Api, sent: list[dict[str, Any]], tmp_path: Path) -> None:
    over_api = run_export(admin, {"content": "events", "trace": "A"})
    expected = [r["id"] for r in records(tmp_path / "api", download(admin, over_api["id"], tmp_path / "api"))]
    env = {"FT_DATA_DIR": str(aio.data_dir), "FT_EXPORT_CHUNK_BYTES": str(CHUNK_BYTES)}
    out = tmp_path / "cli"
    made = ftel("export", "events", "--trace", "A", "--out", str(out), env=env)
    assert made.returncode == 0, made.stderr
    assert f"{len(expected)} records" in made.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["id"] for r in records(out, manifest)] == expected
    assert ftel("export", "verify", str(out)).returncode == 0
    again = ftel("export", "events", "--trace", "A", "--out", str(out), env=env)
    assert again.returncode == 2 and "holds an export already" in " ".join(again.stderr.split())
    # the lineage needs the graph, which the running server holds: said plainly
    held = ftel("export", "events", "--key", "File4", "--upstream", "--out", str(tmp_path / "held"), env=env)
    assert held.returncode == 1 and "needs the graph" in " ".join(held.stderr.split()), held.stderr
    assert not (tmp_path / "held").exists()  # a failed export leaves no folder it made
    missing = ftel("export", "events", "--key", "no-such-key", "--out", str(tmp_path / "missing"), env=env)
    assert missing.returncode == 1 and "no events name 'no-such-key'" in " ".join(missing.stderr.split())
    assert not (out / ".tmp").exists()
