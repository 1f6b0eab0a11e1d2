"""The crash matrix at any size: the all-in-one over REST, the all-in-one draining parked events (Redis and
the disk spool), and the worker on Redis and on Kafka, SIGKILLed --kills times each on a seeded schedule at
every failpoint of their path (backend/failpoints.py) and at random moments, while an app keeps sending.
Prints, per transport and kill point: runs, events, lost, duplicated, graph equal to a clean run.

It runs tests/e2e/test_crash_matrix.py (the same harness, tests/crash_fixtures.py) with FT_CRASH_ROUNDS and
FT_CRASH_SEED; the suite runs it with 20 kills per variant. Needs the test services (Redis, Kafka):

    scripts/services.sh start redis kafka && source .services/env
    python bench/crash_loop.py [--kills 60] [--seed 18] [--variants rest,drain,redis,kafka]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = {
    "rest": "test_all_in_one_over_rest",
    "drain": "test_all_in_one_draining_parked_events",
    "redis": "test_worker_consuming_redis",
    "kafka": "test_worker_consuming_kafka",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=60, help="SIGKILLs per variant (default 60; the suite: 20)")
    parser.add_argument("--seed", type=int, default=18, help="seed of the kill schedule")
    parser.add_argument("--variants", default=",".join(TESTS), help=f"some of {','.join(TESTS)}")
    args = parser.parse_args()
    chosen = [TESTS[v] for v in args.variants.split(",")]
    env = {**os.environ, "FT_CRASH_ROUNDS": str(args.kills), "FT_CRASH_SEED": str(args.seed)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/e2e/test_crash_matrix.py",
        "-s",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "timeout=0",
        "-k",
        " or ".join(chosen),
    ]
    raise SystemExit(subprocess.run(command, cwd=ROOT, env=env).returncode)


if __name__ == "__main__":
    main()
