"""The Java client (clients/java) built and tested by Maven against a real all-in-one server.

`mvn -B verify` runs the client's unit tests (a stub HTTP server) and its integration tests (`*IT.java`,
Failsafe), which send the seed scenario over REST and over the Redis stream transport, read it back node by
node, and upload/download files byte-exact — all through the client, against the server started here.
Maven's exit code alone would pass with no test run at all: the test reads both plugins' reports and wants
every `@Test` of the sources run, none failed, errored or skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.conftest import ADMIN, ROOT, Server

CLIENT_DIR = ROOT / "clients" / "java"
ARTIFACTS = ROOT / "test-artifacts"
MAVEN_TIMEOUT_SECONDS = 1200
REPORTS = {
    "unit": CLIENT_DIR / "target" / "surefire-reports",
    "integration": CLIENT_DIR / "target" / "failsafe-reports",
}


def junit_totals(reports: Path) -> dict[str, int]:
    """Tests, failures, errors and skipped, summed over the JUnit XML reports Surefire or Failsafe wrote."""
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for report in sorted(reports.glob("TEST-*.xml")):
        suite = ElementTree.parse(report).getroot()
        for name in totals:
            totals[name] += int(suite.get(name, "0"))
    return totals


def declared_tests(kind: str) -> int:
    """The @Test methods of the sources each plugin runs: Surefire `*Test.java`, Failsafe `*IT.java`."""
    pattern = "*Test.java" if kind == "unit" else "*IT.java"
    return sum(
        len(re.findall(r"^\s*@Test\s*$", source.read_text(), re.MULTILINE))
        for source in (CLIENT_DIR / "src" / "test").rglob(pattern)
    )


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
    for reports in REPORTS.values():  # an earlier build's reports must not count for this one
        shutil.rmtree(reports, ignore_errors=True)
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
    for kind, reports in REPORTS.items():
        expected = declared_tests(kind)
        assert expected > 0, f"no {kind} test found in {CLIENT_DIR / 'src' / 'test'}"
        totals = junit_totals(reports)
        assert totals == {"tests": expected, "failures": 0, "errors": 0, "skipped": 0}, (
            f"{kind} tests: {totals} in {reports}, {expected} declared; full output in {log}"
        )


@pytest.mark.timeout(MAVEN_TIMEOUT_SECONDS + 60)
def test_integration_tests_fail_clearly_without_a_server_address() -> None:
    """No silent skip: Failsafe without -Dftel.baseUrl fails and says what to pass."""
    mvn = shutil.which("mvn")
    assert mvn, "Maven (mvn) is not installed"
    shutil.rmtree(REPORTS["integration"], ignore_errors=True)
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
    totals = junit_totals(REPORTS["integration"])
    assert totals["tests"] == 1 and totals["failures"] + totals["errors"] == 1, totals  # the one IT asked for
