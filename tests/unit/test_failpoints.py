"""Failpoints (FT_FAILPOINTS): parsed strictly, a start-up error when unknown, and a SIGKILL exactly at the
armed hit (in a child process: nothing after it runs)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from pydantic import ValidationError

from backend import failpoints
from backend.settings import Settings
from tests.conftest import ROOT


def test_specs_are_parsed_and_bad_ones_named() -> None:
    assert failpoints.parse("") == {}
    assert failpoints.parse("ingest.stored=3, projector.merged") == {"ingest.stored": 3, "projector.merged": 1}
    with pytest.raises(ValueError, match=r"unknown failpoint 'ingest\.typo'"):
        failpoints.parse("ingest.typo=1")
    with pytest.raises(ValueError, match="not a hit count"):
        failpoints.parse("ingest.stored=x")
    with pytest.raises(ValueError, match="at least 1"):
        failpoints.parse("ingest.stored=0")


def test_an_unknown_failpoint_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="unknown failpoint"):
        Settings(failpoints="nowhere=1")


def test_the_process_is_killed_at_the_armed_hit_and_not_before() -> None:
    code = (
        "from backend import failpoints\n"
        "failpoints.configure('drain.stored=2')\n"
        "failpoints.hit('ingest.stored'); print('other point', flush=True)\n"
        "failpoints.hit('drain.stored'); print('hit 1', flush=True)\n"
        "failpoints.hit('drain.stored'); print('hit 2', flush=True)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert run.stdout.split("\n")[:2] == ["other point", "hit 1"]
    assert "hit 2" not in run.stdout


def test_unarmed_failpoints_do_nothing() -> None:
    failpoints.configure(None)
    failpoints.hit("ingest.stored")  # no kill: the test goes on
    failpoints.configure("ingest.stored=5")
    try:
        for _ in range(4):
            failpoints.hit("ingest.stored")
    finally:
        failpoints.configure(None)
