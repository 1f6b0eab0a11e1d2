"""Trace summaries and user fills over real HTTP on both stacks: the all-in-one runs the batch jobs in-process
(FT_BATCH_INTERVAL_SECONDS=1), the services stack with `ftel batch --once --job summaries --job fill`. The seed
scenario plus a trace without trace.ended: the latter is idle-ended after the idle time, and every node of the
seed trace shows its user after the fill."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.demo import seed_events
from tests.conftest import ADMIN, ROOT, Api, Server, services_stack
from tests.conftest import wait_for as poll
from tests.stream_fixtures import rekeyed

IDLE_SECONDS = 6
JOBS = {
    "FT_TRACE_IDLE_MINUTES": str(IDLE_SECONDS / 60),
    "FT_FILL_GRACE_MINUTES": str(IDLE_SECONDS / 60),
    "FT_BATCH_INTERVAL_SECONDS": "1",
}


class Stack:
    def __init__(self, server: Server, env: dict[str, str], in_process: bool) -> None:
        self.server = server
        self.env = env
        self.in_process = in_process

    def run_jobs(self) -> None:
        """The services stack: one `ftel batch --once` for the summaries and the fill (the all-in-one runs them
        every second itself)."""
        if self.in_process:
            return
        env = {**os.environ, **self.env, "FT_DATA_DIR": str(self.server.data_dir / "batch")}
        done = subprocess.run(
            [sys.executable, "-m", "backend.cli", "batch", "--once", "--job", "summaries", "--job", "fill"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module", params=["embedded+sqlite", "neo4j+postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("summaries")
    env = {**ADMIN, **JOBS}
    if request.param == "embedded+sqlite":
        srv = Server(env, "serve", data_dir)
        yield Stack(srv, env, in_process=True)
        srv.stop()
        return
    services, drop = services_stack()
    env.update(services)
    srv = Server(env, "api", data_dir)
    yield Stack(srv, env, in_process=False)
    srv.stop()
    drop()


@pytest.fixture(scope="module")
def api(stack: Stack) -> Api:
    return Api(stack.server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


def send(api: Api, events: list[dict[str, Any]]) -> None:
    r = api.post("/events", json=events)
    assert r.status_code == 202 and not r.json()["rejected"], r.text


def node_users(api: Api, trace: str) -> dict[str, str | None]:
    return {n["key"]: n["user"] for n in api.get(f"/traces/{trace}/graph").json()["nodes"]}


def test_a_trace_without_its_end_is_idle_ended_and_the_seed_trace_is_filled(stack: Stack, api: Api) -> None:
    run = uuid.uuid4().hex[:8]
    seed, idle = f"A-{run}", f"open-{run}"
    send(api, rekeyed(seed_events(seed, user="team-7"), f"-{seed}"))
    now = datetime.now(UTC) - timedelta(seconds=18)  # its last event (the 19th, a second apart) is now
    send(
        api, [e for e in rekeyed(seed_events(idle, user="team-7", start=now), f"-{idle}") if e["type"] != "trace.ended"]
    )

    fresh = api.get(f"/traces/{idle}").json()  # at once, before any job ran
    assert fresh["status"] == "open"
    assert fresh["summary"] == {
        "files": 3,
        "dropped": 2,
        "unconverted": 0,
        "data": 6,
        "outputs": 1,
        "drop_reasons": {"checksum mismatch (see log)": 1, "header row missing (see log)": 1},
        "user_missing": False,
    }
    assert set(node_users(api, seed).values()) == {None}  # the seed's nodes name no user of their own

    time.sleep(IDLE_SECONDS + 1)  # the idle time, and the summaries job's settling time, are over
    stack.run_jobs()
    assert poll(lambda: set(node_users(api, seed).values()) == {"team-7"}, timeout=30), node_users(api, seed)
    assert len(node_users(api, seed)) == 10
    assert set(node_users(api, idle).values()) == {"team-7"}

    later = api.get(f"/traces/{idle}").json()
    assert later["status"] == "idle-ended"
    assert later["summary"] == fresh["summary"]
    listed = api.get("/traces", params={"q": run}).json()["items"]
    assert {t["key"]: t["status"] for t in listed} == {seed: "ended", idle: "idle-ended"}
    assert [t["key"] for t in api.get("/traces", params={"q": run, "status": "idle-ended"}).json()["items"]] == [idle]
    assert api.get("/traces", params={"q": run, "status": "open"}).json()["items"] == []


def test_a_trace_whose_start_never_came_has_its_user_missing_until_it_comes(stack: Stack, api: Api) -> None:
    trace = f"late-{uuid.uuid4().hex[:8]}"
    events = [e for e in rekeyed(seed_events(trace), f"-{trace}") if e["type"] != "trace.started"]
    send(api, events)  # times of 2026-01-01: long past the grace period
    first = api.get(f"/traces/{trace}").json()
    assert (first["user"], first["summary"]["user_missing"]) == (None, True)
    send(api, [{"type": "trace.started", "trace": trace, "user": "team-9", "time": "2026-01-01T08:59:00Z"}])
    assert api.get(f"/traces/{trace}").json()["summary"]["user_missing"] is False
    time.sleep(6)  # the summaries job's settling time
    stack.run_jobs()
    assert poll(lambda: set(node_users(api, trace).values()) == {"team-9"}, timeout=30), node_users(api, trace)
