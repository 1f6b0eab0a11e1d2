"""Shared fixtures: real services (started by scripts/services.sh, found through .services/env),
per-backend parametrisation, and a real HTTP server process for API tests.

No silent skips: a test that needs a service whose address is missing fails, and says how to start it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from sqlalchemy import Engine

from backend.db.base import NewEvent, NodeLink
from backend.domain.events import validate_events
from backend.settings import GraphBackend, Settings
from tests.ports import free_port

# fixtures shared by several suites: the stream tests' Redis and Kafka, the storage tests' S3 server, private
# engines the outage tests stop and start
pytest_plugins = ("tests.stream_fixtures", "tests.storage_fixtures", "tests.outage_fixtures")

ROOT = Path(__file__).resolve().parent.parent
SERVICES_ENV = Path(os.environ.get("FT_SERVICES_DIR", ROOT / ".services")) / "env"


def _load_services_env() -> None:
    """Pick up the addresses written by `scripts/services.sh start` (explicit env vars win)."""
    if not SERVICES_ENV.exists():
        return
    for line in SERVICES_ENV.read_text().splitlines():
        line = line.strip().removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            os.environ.setdefault(name, shlex.split(value)[0] if value else "")


_load_services_env()


def service_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: start the test services with `scripts/services.sh start` (make test does)",
            pytrace=False,
        )
    return value


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    return service_env("FT_TEST_POSTGRES_URL")


def create_pg_database(admin_url: str) -> str:
    """A fresh database on the test server; returns its URL."""
    name = f"ftel_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(postgres_admin_url: str) -> Iterator[str]:
    url = create_pg_database(postgres_admin_url)
    yield url
    drop_pg_database(postgres_admin_url, url)


@pytest.fixture(params=["sqlite", "postgres"])
def sql_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for each SQL backend: SQLite in a temp dir, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield Settings(data_dir=tmp_path)
        return
    admin = request.getfixturevalue("postgres_admin_url")
    url = create_pg_database(admin)
    try:
        yield Settings(data_dir=tmp_path, database_url=url)
    finally:
        drop_pg_database(admin, url)


@pytest.fixture
def sql_engine(sql_settings: Settings) -> Iterator[Engine]:
    """A migrated engine on each SQL backend (the composition root's own constructor)."""
    from backend.bootstrap import open_engine
    from backend.db.engine import upgrade

    sql_settings.ensure_data_dir()
    engine = open_engine(sql_settings)
    upgrade(engine)
    yield engine
    engine.dispose()


UNREACHABLE_SQL = {
    "sqlite": "sqlite:////nonexistent-dir/ftel/none.sqlite3",
    "postgres": "postgresql://nobody:x@127.0.0.1:1/none",
}


@pytest.fixture(params=sorted(UNREACHABLE_SQL))
def unreachable_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database that cannot be reached: a store on it must raise SqlUnavailable."""
    from backend.bootstrap import open_engine

    engine = open_engine(Settings(data_dir=tmp_path, database_url=UNREACHABLE_SQL[request.param]))
    yield engine
    engine.dispose()


# -- Neo4j -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def neo4j_conf() -> dict[str, str]:
    return {
        "uri": service_env("FT_TEST_NEO4J_URI"),
        "user": os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
        "password": os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
    }


@pytest.fixture(params=["embedded", "neo4j"])
def graph_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "embedded":
        return Settings(data_dir=tmp_path, graph=GraphBackend.embedded)
    conf = request.getfixturevalue("neo4j_conf")
    return Settings(
        data_dir=tmp_path,
        graph=GraphBackend.neo4j,
        neo4j_uri=conf["uri"],
        neo4j_user=conf["user"],
        neo4j_password=conf["password"],
    )


# -- A real server process ---------------------------------------------------------------------


class Server:
    """`ftel serve|api` in a subprocess on a free port, stopped by pid."""

    def __init__(self, env: dict[str, str], command: str, data_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = data_dir / "server.log"
        self.redis_port = free_port()
        full_env = {
            **os.environ,
            "FT_PROJECTOR_INTERVAL_SECONDS": "0.2",  # tests: catch up quickly (benches pass the defaults)
            "FT_PROJECTOR_GRACE_SECONDS": "1",
            **env,
            "FT_PORT": str(self.port),
            "FT_HOST": "127.0.0.1",
            "FT_DATA_DIR": str(data_dir),
            "FT_EMBEDDED_REDIS_PORT": str(self.redis_port),
        }
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", command],
            env=full_env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer in 60 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def service_redis(self, **kw: Any) -> Any:
        """A client of the all-in-one's embedded Redis as the service's own user (subscribers' users may only
        XADD to their stream); its password is kept in the data dir."""
        import redis

        password = (self.data_dir / "redis-password").read_text().strip()
        return redis.Redis(port=self.redis_port, username="ftel", password=password, **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


ADMIN = {"FT_ADMIN_CLIENT_ID": "test-admin", "FT_ADMIN_CLIENT_SECRET": "test-admin-secret-123"}


class Api:
    """An HTTP client signed in as some account, with helpers the API tests share."""

    def __init__(self, base: str, client_id: str, secret: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=60)
        token = self.http.post("/api/v1/auth/token", json={"client_id": client_id, "client_secret": secret})
        assert token.status_code == 200, token.text
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(f"/api/v1{path}", **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        """POST /events waits for the graph merge (`wait_for_graph=true`) unless `params` are given, so a test
        reads what it sent; the tests of the merge that follows the answer pass `params={}`."""
        if path == "/events" and "params" not in kw:
            kw["params"] = {"wait_for_graph": "true"}
        return self.http.post(f"/api/v1{path}", **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.delete(f"/api/v1{path}", **kw)

    def account(self, *roles: str, name: str = "app") -> Api:
        created = self.post("/accounts", json={"name": name, "kind": "system", "roles": list(roles)})
        assert created.status_code == 201, created.text
        body = created.json()
        return Api(self.base, body["client_id"], body["client_secret"])


def services_stack() -> tuple[dict[str, str], Callable[[], None]]:
    """The settings of services mode on the test services: a fresh PostgreSQL database and a cleared Neo4j;
    and what drops the database afterwards."""
    admin_url = service_env("FT_TEST_POSTGRES_URL")
    url = create_pg_database(admin_url)
    clear_neo4j()
    env = {
        "FT_DATABASE_URL": url,
        "FT_GRAPH": "neo4j",
        "FT_NEO4J_URI": service_env("FT_TEST_NEO4J_URI"),
        "FT_NEO4J_USER": os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
        "FT_NEO4J_PASSWORD": os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
    }
    return env, lambda: drop_pg_database(admin_url, url)


@pytest.fixture(scope="module", params=["embedded+sqlite", "neo4j+postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server on both stacks: all-in-one defaults, and PostgreSQL + Neo4j (services mode)."""
    data_dir = tmp_path_factory.mktemp("server")
    env = dict(ADMIN)
    cleanup: list[Any] = []
    if request.param == "embedded+sqlite":
        command = "serve"
    else:
        command = "api"
        services, drop = services_stack()
        env.update(services)
        cleanup.append(drop)
    srv = Server(env, command, data_dir)
    yield srv
    srv.stop()
    for fn in cleanup:
        fn()


def clear_neo4j() -> None:
    from graph.neo4j import Neo4jGraphStore

    store = Neo4jGraphStore(
        service_env("FT_TEST_NEO4J_URI"),
        os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
        os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
    )
    store.clear()
    store.close()


@pytest.fixture(scope="module")
def admin(server: Server) -> Api:
    return Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


def log_rows(raw: list[dict[str, Any]], channel: str = "rest:x", account_id: int | None = None) -> list[NewEvent]:
    """Events validated as ingestion does, as the event log's rows (for tests of the log's readers)."""
    accepted, rejected = validate_events(raw, channel, datetime.now(UTC))
    assert not rejected, rejected
    return [
        NewEvent(
            uuid=ev.uuid,
            dedup_key=ev.dedup_key,
            channel=channel,
            account_id=account_id,
            type=ev.envelope.type.value,
            trace_key=ev.envelope.trace,
            node_key=ev.envelope.node.key if ev.envelope.node else None,
            level=(ev.envelope.level or "info") if ev.envelope.type.value == "log" else None,
            user_id=ev.envelope.user,
            created_at=ev.time,
            payload=ev.payload,
            nodes=tuple(NodeLink(r.key, r.kind, role) for r, role in ev.envelope.nodes()),
        )
        for ev in accepted
    ]


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until predicate() is truthy (for work done in the background); fail with the last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


class PeakRss:
    """A process's RSS sampled every 20 ms in a thread: `growth` is the peak above the level at start."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start
