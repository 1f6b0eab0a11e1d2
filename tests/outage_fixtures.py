"""PRIVATE engines for outage tests, on their own state dir and port (never the shared ones other tests use):
PostgreSQL and Neo4j started and stopped by `scripts/services.sh`, and a redis-server of the test's own, each
stoppable (or killed) in the middle of a test."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import ROOT, free_port, wait_for

# Upper bounds of one `services.sh start` (its own limit is 240 s for Neo4j, 60 s for PostgreSQL) and one
# `stop` (TERM, 20 s, then KILL): tests that start these engines size their pytest timeout from them.
START_SECONDS = 300
STOP_SECONDS = 60


@dataclass
class PrivateService:
    name: str  # postgres | neo4j
    dir: str
    port: str

    @property
    def env(self) -> dict[str, str]:
        port_var = {"postgres": "FT_TEST_PG_PORT", "neo4j": "FT_TEST_NEO4J_PORT"}[self.name]
        return {**os.environ, "FT_SERVICES_DIR": self.dir, port_var: self.port, "FT_TEST_NEO4J_HEAP": "384m"}

    @property
    def uri(self) -> str:
        if self.name == "postgres":
            return f"postgresql://ftel:ftel@127.0.0.1:{self.port}/ftel"
        return f"bolt://127.0.0.1:{self.port}"

    def run(self, action: str) -> None:
        """`start` or `stop` (by pid: only the instance this test started)."""
        done = subprocess.run(
            [str(ROOT / "scripts" / "services.sh"), action, self.name],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=START_SECONDS if action == "start" else STOP_SECONDS,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def _private(name: str, tmp_path: Path) -> Iterator[PrivateService]:
    service = PrivateService(name, str(tmp_path / f"services-{name}"), str(free_port()))
    service.run("start")
    yield service
    service.run("stop")


@pytest.fixture()
def private_postgres(tmp_path: Path) -> Iterator[PrivateService]:
    yield from _private("postgres", tmp_path)


@pytest.fixture()
def private_neo4j(tmp_path: Path) -> Iterator[PrivateService]:
    yield from _private("neo4j", tmp_path)


class PrivateRedis:
    """redis-server on a port and files of its own, with an append-only file fsynced on every write (as a store
    that must lose nothing would run): stopped (TERM) or killed (SIGKILL) and started again on the same port and
    files, it keeps what it held."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with open(self.dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                [
                    *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir)),
                    *("--save", "", "--appendonly", "yes", "--appendfsync", "always", "--logfile", ""),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis(port=self.port, socket_timeout=1)

        def answers() -> bool:
            assert self.proc is not None and self.proc.poll() is None, (self.dir / "redis.log").read_text()
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        try:
            assert wait_for(answers, timeout=30), (self.dir / "redis.log").read_text()
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    instance = PrivateRedis(tmp_path / "redis")
    yield instance
    instance.stop()
