"""Schemathesis over the published OpenAPI of a real all-in-one, signed in as admin, read and ingest accounts.

Every check Schemathesis has runs (its default; tests/e2e/schemathesis.toml turns three off where the
contract differs, each with its reason): no 5xx, every status code documented, every response matching its
schema, schema-valid requests accepted and schema-violating ones refused, auth not ignored.
Bounded examples and a fixed seed keep the run short and repeatable; FT_TEST_FUZZ_SEED and
FT_TEST_FUZZ_EXAMPLES change them for a longer hunt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN, Api, Server

pytestmark = pytest.mark.timeout(900)

SEED = os.environ.get("FT_TEST_FUZZ_SEED", "20261207")
EXAMPLES = os.environ.get("FT_TEST_FUZZ_EXAMPLES", "12")
ST = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).with_name("schemathesis.toml")
# The admin run leaves alone what would lock it out of its own server: rotating or disabling accounts
# (Schemathesis's stateful phase hands it the admin's own id from GET /accounts).
ADMIN_EXCLUDED = r"^/api/v1/accounts/\{account_id\}"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    env = dict(ADMIN)
    if os.environ.get("FT_TEST_KAFKA_BOOTSTRAP"):  # both transports, so every subscription request can succeed
        env["FT_KAFKA_BOOTSTRAP"] = os.environ["FT_TEST_KAFKA_BOOTSTRAP"]
    server = Server(env, "serve", data_dir)
    try:
        admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        seed = [
            {"type": "trace.started", "trace": "fz", "user": "u1"},
            {"type": "file.received", "trace": "fz", "node": {"kind": "file", "key": "fz.csv"}},
            {
                "type": "flow",
                "trace": "fz",
                "inputs": [{"kind": "file", "key": "fz.csv"}],
                "outputs": [{"kind": "data", "key": "fz-rows"}],
            },
        ]
        assert admin.post("/events", json=seed).status_code == 202
        tokens = {"admin": str(admin.http.headers["Authorization"])}
        for role in ("read", "ingest"):
            tokens[role] = str(admin.account(role, name=f"fuzz-{role}").http.headers["Authorization"])
        yield server, tokens
    finally:
        server.stop()


@pytest.mark.parametrize("role", ["admin", "read", "ingest"])
def test_no_server_error_and_no_contract_violation_under_schema_fuzzing(
    fuzz_server: tuple[Server, dict[str, str]], role: str, tmp_path: Path
) -> None:
    server, tokens = fuzz_server
    report = tmp_path / "run.ndjson"
    command = [
        str(ST),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.base}/openapi.json",
        "--header",
        f"Authorization: {tokens[role]}",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    if role == "admin":
        command += ["--exclude-path-regex", ADMIN_EXCLUDED]
    done = subprocess.run(command, capture_output=True, text=True, timeout=840, cwd=tmp_path)
    checks: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    operations: set[str] = set()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for name, body in event.items():
            if name != "ScenarioFinished":
                continue
            recorder = body.get("recorder", {})
            operations.add(recorder.get("label", ""))
            for case_checks in recorder.get("checks", {}).values():
                for check in case_checks:
                    checks[check["name"]] += 1
                    if check["status"] not in ("success", "skip"):
                        failures[check["name"]] += 1
    summary = (
        f"{role}: {len(operations)} scenarios, {sum(checks.values())} checks of {len(checks)} kinds "
        f"({', '.join(sorted(checks))}), failures {dict(failures)}"
    )
    print(summary)
    tail = done.stdout[-6000:]
    assert checks["not_a_server_error"] > 0, f"nothing was checked:\n{tail}\n{done.stderr[-2000:]}"
    assert not failures, f"{summary}\n{tail}\n{server.log()}"
    assert done.returncode == 0, f"{summary}\n{tail}"
