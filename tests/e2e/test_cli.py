"""The `ftel` command line as a user meets it: help, config errors, admin bootstrap, demo, rebuild."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN, ROOT, Api, Server, free_port, wait_for

COMMANDS = [
    [],
    ["serve"],
    ["api"],
    ["demo"],
    ["graph"],
    ["graph", "rebuild"],
    ["db"],
    ["db", "upgrade"],
    ["accounts"],
    ["accounts", "create"],
    ["worker"],
    ["dashboard"],
    ["retention"],
    ["retention", "run"],
]


def ftel(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FT_") or k.startswith("FT_TEST_")}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "ftel")
def test_every_command_has_help(command: list[str]) -> None:
    result = ftel(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_bad_configuration_stops_start_up_with_the_variable_named(tmp_path: Path) -> None:
    result = ftel("serve", env={"FT_DATA_DIR": str(tmp_path), "FT_GRAPH": "tinkerpop"})
    assert result.returncode == 2
    assert "FT_GRAPH" in result.stderr and "Traceback" not in result.stderr
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = ftel("serve", env={"FT_DATA_DIR": str(blocker / "data")})
    assert result.returncode == 2 and "FT_DATA_DIR" in result.stderr
    result = ftel("serve", env={"FT_DATA_DIR": str(tmp_path / "d1"), "FT_LOG_LEVEL": "LOUD"})
    assert result.returncode == 2 and "FT_LOG_LEVEL" in result.stderr and "Traceback" not in result.stderr
    result = ftel(
        "serve",
        env={
            "FT_DATA_DIR": str(tmp_path / "d2"),
            "FT_PORT": str(free_port()),
            "FT_DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none",
        },
    )
    assert result.returncode == 2 and "FT_DATABASE_URL" in result.stderr and "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_http_port_taken_stops_start_up_before_credentials_are_shown(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))  # held by this test, outside the ephemeral range
        taken.listen()
        port = taken.getsockname()[1]
        result = ftel(
            "serve",
            env={"FT_DATA_DIR": str(tmp_path), "FT_PORT": str(port), "FT_EMBEDDED_REDIS_PORT": str(free_port())},
        )
    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "FT_PORT" in result.stderr and "in use" in result.stderr
    assert "client_secret" not in result.stdout and not (tmp_path / "admin-credentials").exists()


def test_the_default_relative_data_dir_works_as_make_run_uses_it(tmp_path: Path) -> None:
    """`make run` leaves FT_DATA_DIR at its relative default: the embedded Redis must still start."""
    import httpx

    port, redis_port = free_port(), free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FT_") or k.startswith("FT_TEST_")}
    env = {
        **clean,
        "FT_PORT": str(port),
        "FT_EMBEDDED_REDIS_PORT": str(redis_port),
        "FT_DATA_DIR": ".ftel-data",
        "PYTHONPATH": str(ROOT),
    }
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:

            def up() -> bool:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            assert wait_for(up, timeout=60)
            assert (tmp_path / ".ftel-data" / "redis" / "redis.pid").exists()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", redis_port), timeout=2).close()


def test_embedded_redis_port_taken_stops_start_up_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))  # held by this test, outside the ephemeral range
        taken.listen()
        port = taken.getsockname()[1]
        result = ftel(
            "serve",
            env={"FT_DATA_DIR": str(tmp_path), "FT_PORT": str(free_port()), "FT_EMBEDDED_REDIS_PORT": str(port)},
        )
    assert result.returncode == 2, result.stderr
    assert f"127.0.0.1:{port}" in result.stderr and "Address already in use" in result.stderr, result.stderr
    assert "FT_EMBEDDED_REDIS_PORT" in result.stderr and "Traceback" not in result.stderr


def test_a_killed_all_in_one_leaves_a_redis_that_the_next_start_stops_keeping_its_data(tmp_path: Path) -> None:
    import redis

    first = Server({**ADMIN}, "serve", tmp_path)
    first.proc.kill()  # SIGKILL: no lifespan, the embedded redis-server is left running on its port
    first.proc.wait()
    first.stop()
    leftover = int((tmp_path / "redis" / "redis.pid").read_text())
    assert Path(f"/proc/{leftover}").exists()
    first.service_redis().set("ft:test:kept", "yes")
    second = Server({**ADMIN}, "serve", tmp_path)
    try:
        assert "left running by an earlier process" in second.log()
        assert not Path(f"/proc/{leftover}").exists() or "Z" in Path(f"/proc/{leftover}/stat").read_text().split()[2]
        assert second.service_redis().get("ft:test:kept") == b"yes"
        with pytest.raises(redis.AuthenticationError):  # NOAUTH: the embedded Redis needs the password
            redis.Redis(port=second.redis_port).get("ft:test:kept")
    finally:
        second.stop()


def test_all_in_one_generates_admin_credentials_once(tmp_path: Path) -> None:
    assert "FT_ADMIN_CLIENT_ID" not in os.environ, "this test needs the all-in-one without admin settings"
    first = Server({}, "serve", tmp_path)
    try:
        creds = tmp_path / "admin-credentials"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
        values = dict(line.split("=", 1) for line in creds.read_text().splitlines())
        assert values["FT_ADMIN_CLIENT_SECRET"] in first.log()
        Api(first.base, values["FT_ADMIN_CLIENT_ID"], values["FT_ADMIN_CLIENT_SECRET"])  # signs in
    finally:
        first.stop()
    with pytest.raises(OSError):  # SIGTERM stopped the embedded Redis with the server
        socket.create_connection(("127.0.0.1", first.redis_port), timeout=2).close()
    second = Server({}, "serve", tmp_path)
    try:
        assert values["FT_ADMIN_CLIENT_SECRET"] not in second.log()
        assert "admin-credentials" in second.log()
    finally:
        second.stop()


def test_demo_then_rebuild_gives_the_same_graph(tmp_path: Path) -> None:
    server = Server(dict(ADMIN), "serve", tmp_path)
    try:
        demo = ftel(
            "demo",
            "--url",
            server.base,
            "--client-id",
            ADMIN["FT_ADMIN_CLIENT_ID"],
            "--client-secret",
            ADMIN["FT_ADMIN_CLIENT_SECRET"],
        )
        assert demo.returncode == 0, demo.stderr
        assert "20 new events" in demo.stdout and "'dropped': 2" in demo.stdout
        api = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        before = picture(api)
    finally:
        server.stop()
    rebuild = ftel("graph", "rebuild", "--yes", env={"FT_DATA_DIR": str(tmp_path)})
    assert rebuild.returncode == 0, rebuild.stderr
    assert "graph rebuilt from 20 events" in rebuild.stdout
    assert "rebuilding graph" in rebuild.stderr  # the progress bar
    server = Server(dict(ADMIN), "serve", tmp_path)
    try:
        api = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        assert picture(api) == before
    finally:
        server.stop()
    # the batch fill puts the trace's user on its nodes, and again after the next rebuild
    for _ in range(2):
        filled = ftel("batch", "--once", "--job", "summaries", "--job", "fill", env={"FT_DATA_DIR": str(tmp_path)})
        assert filled.returncode == 0 and "fill " in filled.stdout, filled.stdout + filled.stderr
        users = {n["key"]: n["user"] for n in _graph_nodes(tmp_path)}
        assert set(users.values()) == {"demo-user"}, users
        rebuilt = ftel("graph", "rebuild", "--yes", env={"FT_DATA_DIR": str(tmp_path)})
        assert "1 traces back on the batch fill's list" in rebuilt.stdout, rebuilt.stdout
    recounted = ftel("batch", "--rebuild-rollups", env={"FT_DATA_DIR": str(tmp_path)})
    assert recounted.returncode == 0, recounted.stderr
    assert "rollups rebuilt from 20 events" in recounted.stdout and "counting events" in recounted.stderr


def _graph_nodes(data_dir: Path) -> list[dict[str, object]]:
    from backend.bootstrap import open_graph
    from backend.settings import Settings

    graph = open_graph(Settings(data_dir=data_dir))
    try:
        return graph.trace_graph("A").nodes
    finally:
        graph.close()


def picture(api: Api) -> tuple[dict[str, object], dict[str, object]]:
    """Trace A's graph and detail, complete (nothing of it waits to be merged), without the times of that."""
    graph, detail = api.get("/traces/A/graph").json(), api.get("/traces/A").json()
    assert graph.pop("projection")["pending_events"] == detail.pop("projection")["pending_events"] == 0
    return graph, detail


def test_demo_without_a_server_says_so(tmp_path: Path) -> None:
    result = ftel(
        "demo",
        "--url",
        f"http://127.0.0.1:{free_port()}",
        "--client-id",
        "x",
        "--client-secret",
        "y",
        env={"FT_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 1 and "cannot reach" in result.stderr
    result = ftel("demo", "--url", f"http://127.0.0.1:{free_port()}", env={"FT_DATA_DIR": str(tmp_path / "none")})
    assert result.returncode == 2 and "FT_ADMIN_CLIENT_ID" in result.stderr
    assert not (tmp_path / "none").exists()  # a command that only talks HTTP leaves no data dir behind


def test_worker_without_its_redis_says_so_without_the_password(tmp_path: Path) -> None:
    result = ftel(
        "worker", env={"FT_DATA_DIR": str(tmp_path), "FT_REDIS_URL": f"redis://:hunter2@127.0.0.1:{free_port()}/0"}
    )
    assert result.returncode == 2 and "FT_REDIS_URL" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_accounts_create_prints_credentials_once(tmp_path: Path) -> None:
    result = ftel("accounts", "create", "--name", "importer", "--role", "ingest", env={"FT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "client_id=" in result.stdout and "client_secret=" in result.stdout
    bad = ftel("accounts", "create", "--name", "x", "--role", "root", env={"FT_DATA_DIR": str(tmp_path)})
    assert bad.returncode == 2 and "unknown roles" in bad.stderr
