"""The Java client (clients/java) built and tested by Maven against a real all-in-one server.

`mvn -B verify` runs the client's unit tests (a stub HTTP server) and its integration tests (`*IT.java`,
Failsafe), which send the seed scenario over REST and over the Redis stream transport, read it back node by
node, and upload/download files byte-exact — all through the client, against the server started here.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import ADMIN, ROOT, Server

CLIENT_DIR = ROOT / "clients" / "java"
ARTIFACTS = ROOT / "test-artifacts"
MAVEN_TIMEOUT_SECONDS = 1200


@pytest.fixture(scope="module")
def all_in_one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(dict(ADMIN), "serve", tmp_path_factory.mktemp("java-client-server"))
    yield srv
    srv.stop()


@pytest.mark.timeout(MAVEN_TIMEOUT_SECONDS + 60)
def test_java_client_passes_unit_and_integration_tests_against_a_real_server(all_in_one: Server) -> None:
    mvn = shutil.which("mvn")
    assert mvn, "Maven (mvn) is not installed: scripts/install-system-deps.sh installs it (make test does)"
    command = [
        mvn,
        "-B",
        "-ntp",
        "verify",
        f"-Dftel.baseUrl={all_in_one.base}",
        f"-Dftel.clientId={ADMIN['FT_ADMIN_CLIENT_ID']}",
        f"-Dftel.clientSecret={ADMIN['FT_ADMIN_CLIENT_SECRET']}",
    ]
    result = subprocess.run(command, cwd=CLIENT_DIR, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_SECONDS)
    output = result.stdout + result.stderr
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "java-client-mvn.log"
    log.write_text(output)
    if result.returncode != 0:
        print(output)  # shown by pytest for the failing test
        print(f"--- server log (last 5000 chars) ---\n{all_in_one.log()}")
    assert result.returncode == 0, (
        f"mvn -B verify failed (exit {result.returncode}); full output in {log}:\n{output[-6000:]}"
    )
    assert "Tests run:" in output and "BUILD SUCCESS" in output, output[-3000:]


@pytest.mark.timeout(MAVEN_TIMEOUT_SECONDS + 60)
def test_integration_tests_fail_clearly_without_a_server_address() -> None:
    """No silent skip: Failsafe without -Dftel.baseUrl fails and says what to pass."""
    mvn = shutil.which("mvn")
    assert mvn, "Maven (mvn) is not installed"
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-ntp",
            "verify",
            "-Dtest=NoUnitTests",
            "-Dsurefire.failIfNoSpecifiedTests=false",
            "-Dit.test=ClientIT#readErrorsAreTyped",
        ],
        cwd=CLIENT_DIR,
        capture_output=True,
        text=True,
        timeout=MAVEN_TIMEOUT_SECONDS,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "system property ftel.baseUrl is not set" in output, output[-3000:]
