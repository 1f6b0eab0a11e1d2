"""File-level lineage, trace-to-trace feeds and insights over real HTTP, after the batch app's jobs ran: on the
all-in-one (SQLite + embedded graph, the jobs in-process every half second) and on the services stack
(PostgreSQL + Neo4j, `ftel api` beside `ftel batch --once`)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.demo import seed_events
from backend.domain.events import format_time
from tests.conftest import ADMIN, ROOT, Api, Server, services_stack, wait_for

MAX_BYTES = 50_000_000


@dataclass
class Stack:
    server: Server
    admin: Api
    run_batch: Callable[[], None]  # the batch app's jobs once (in-process on the all-in-one: they run anyway)

    def settled(self, read: Callable[[], Any], timeout: float = 30) -> Any:
        """What `read` gives once the batch jobs have caught up with the events sent (a falsy read is retried)."""

        def attempt() -> Any:
            self.run_batch()
            return read()

        return wait_for(attempt, timeout=timeout, interval=0.3)


@pytest.fixture(scope="module", params=["embedded+sqlite", "neo4j+postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("relations")
    env = {**ADMIN, "FT_RETENTION_MAX_BYTES": str(MAX_BYTES)}
    cleanup: list[Callable[[], None]] = []
    if request.param == "embedded+sqlite":
        command = "serve"
        env["FT_BATCH_INTERVAL_SECONDS"] = "0.5"
    else:
        command = "api"
        services, drop = services_stack()
        env.update(services)
        cleanup.append(drop)
    server = Server(env, command, data_dir)

    def batch_once() -> None:
        subprocess.run(
            [sys.executable, "-m", "backend.cli", "batch", "--once"],
            env={**os.environ, **env, "FT_DATA_DIR": str(data_dir / "batch")},
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=120,
        )

    try:
        yield Stack(server, Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"]),
                    (lambda: None) if command == "serve" else batch_once)  # fmt: skip
    finally:
        server.stop()
        for fn in cleanup:
            fn()


def send(api: Api, events: list[dict[str, Any]]) -> None:
    r = api.post("/events", json=events)
    assert r.status_code == 202, r.text
    assert r.json()["rejected"] == [], r.text


def flow(trace: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "flow",
        "trace": trace,
        "inputs": [{"kind": k, "key": key} for k, key in inputs],
        "outputs": [{"kind": k, "key": key} for k, key in outputs],
    }


def test_file_level_lineage_of_the_seed_gives_file3_upstream_of_file4(stack: Stack) -> None:
    admin = stack.admin
    send(admin, seed_events("A", user="team-7"))

    def upstream() -> Any:
        r = admin.get("/lineage/File4", params={"level": "file", "direction": "upstream"})
        assert r.status_code == 200, r.text
        return r.json() if len(r.json()["nodes"]) > 1 else None

    up = stack.settled(upstream)
    assert {n["key"]: n["kind"] for n in up["nodes"]} == {"File4": "file", "File3": "file"}
    assert up["edges"] == [{"source": "File3", "target": "File4", "op": "via data"}]
    assert up["level"] == "file" and up["truncated"] is False
    down = admin.get("/lineage/File3", params={"level": "file", "direction": "downstream"}).json()
    assert [e["target"] for e in down["edges"]] == ["File4"]
    node_level = admin.get("/lineage/File4", params={"direction": "upstream"}).json()  # today's walk, unchanged
    assert node_level["level"] == "node" and {"data5", "data2"} <= {n["key"] for n in node_level["nodes"]}
    r = admin.get("/lineage/data2", params={"level": "file"})
    assert r.status_code == 422 and "file or a sink" in r.json()["error"]["message"]
    schema = admin.http.get("/openapi.json").json()
    assert {"/api/v1/traces/{key}/feeds", "/api/v1/insights"} <= set(schema["paths"])
    assert "level" in {p["name"] for p in schema["paths"]["/api/v1/lineage/{key}"]["get"]["parameters"]}


def test_a_trace_that_reads_what_another_wrote_is_fed_by_it(stack: Stack) -> None:
    admin = stack.admin
    a, b, x = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("TA", "TB", "X"))
    send(
        admin,
        [
            {"type": "trace.started", "trace": a, "user": "u"},
            flow(a, [("file", f"in-{a}")], [("data", f"rows-{a}")]),
            flow(a, [("data", f"rows-{a}")], [("file", x)]),
            {"type": "trace.started", "trace": b, "user": "u"},
            flow(b, [("file", x)], [("data", f"rows-{b}")]),
            flow(b, [("data", f"rows-{b}")], [("sink", f"db#{b}")]),
        ],
    )

    def feeding() -> Any:
        r = admin.get(f"/traces/{b}/feeds", params={"direction": "upstream"})
        assert r.status_code == 200, r.text
        return r.json()["traces"]

    assert [t["key"] for t in stack.settled(feeding)] == [a]
    down = admin.get(f"/traces/{a}/feeds", params={"direction": "downstream"}).json()
    assert down["trace"] == a and down["direction"] == "downstream" and [t["key"] for t in down["traces"]] == [b]
    assert admin.get(f"/traces/{a}/feeds").json()["traces"] == []  # upstream by default: nothing feeds a
    assert admin.get("/traces/nope-nope/feeds").status_code == 404
    sink_up = admin.get(f"/lineage/db%23{b}", params={"level": "file", "direction": "upstream", "depth": 2}).json()
    assert {n["key"] for n in sink_up["nodes"]} == {f"db#{b}", x, f"in-{a}"}  # two file-level hops, two traces
    literal = f"k-{uuid.uuid4().hex[:6]}/feeds"  # a trace whose key ends in /feeds, its '/' sent encoded
    send(admin, [{"type": "trace.started", "trace": literal, "user": "u"}])
    r = admin.get(f"/traces/{literal.replace('/', '%2F')}")
    assert r.status_code == 200 and r.json()["key"] == literal
    r = admin.get(f"/traces/{literal.replace('/', '%2F')}/feeds")
    assert r.status_code == 200 and r.json()["trace"] == literal


def test_insights_name_stuck_files_drop_anomalies_slow_traces_and_the_retention_forecast(stack: Stack) -> None:
    admin = stack.admin
    now = datetime.now(UTC)
    run = uuid.uuid4().hex[:6]
    user, reason, slow, stuck = f"dropper-{run}", f"schema drift {run}", f"slow-{run}", f"stuck-{run}"

    def at(minutes_ago: float) -> str:
        return format_time(now - timedelta(minutes=minutes_ago))

    drops = [
        {
            "type": "file.dropped",
            "trace": f"d-{run}",
            "user": user,
            "time": at(1 + i),
            "node": {"kind": "file", "key": f"bad-{run}-{i}"},
            "reason": reason,
        }
        for i in range(6)
    ]
    send(
        admin,
        [
            {"type": "trace.started", "trace": f"d-{run}", "user": user, "time": at(10)},
            *drops,
            {"type": "trace.started", "trace": slow, "user": user, "time": at(23 * 60)},
            {"type": "trace.ended", "trace": slow, "time": at(60)},
            {"type": "file.received", "trace": slow, "time": at(120), "node": {"kind": "file", "key": stuck}},
        ],
    )
    r = admin.post("/files", files={"file": ("up.bin", os.urandom(20_000))}, data={"trace": f"up-{run}"})
    assert r.status_code == 201, r.text

    def report() -> Any:
        r = admin.get("/insights")
        assert r.status_code == 200, r.text
        body = r.json()
        return body if {"reason": reason, "count": 6} in body["top_drop_reasons"] else None

    body = stack.settled(report)
    [stuck_file] = [f for f in body["stuck_files"] if f["key"] == stuck]
    assert stuck_file["trace"] == slow and 119 <= stuck_file["minutes"] <= 125
    anomalies = {(a["by"], a["key"]): a for a in body["drop_rate_anomalies"]}
    assert anomalies[("user", user)]["rate"] == 6.0 and anomalies[("user", user)]["baseline"] == 0.0
    assert anomalies[("reason", reason)]["rate"] == 6.0
    assert body["slowest_traces"][0] == {"key": slow, "seconds": 22 * 3600.0, "status": "ended"}
    forecast = body["retention_forecast"]
    assert forecast["limit_bytes"] == MAX_BYTES and 0 < forecast["bytes"] == forecast["bytes_per_day"]
    assert forecast["days_left"] == pytest.approx((MAX_BYTES - forecast["bytes"]) / forecast["bytes_per_day"], 0.01)
    reader = admin.account("read", name=f"reader-{run}")
    assert reader.get("/insights").status_code == 200
    assert admin.account("ingest", name=f"ingest-{run}").get("/insights").status_code == 403
