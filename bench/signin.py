"""Concurrent sign-ins: the server's memory and an authenticated read's latency, with the Argon2 verifications
bounded (FT_SIGNIN_CONCURRENCY, default 2) and unbounded (as many as the sign-ins).

For each concurrency, starts `ftel serve` (address limit raised, queue long enough that every attempt is really
verified), then sends ATTEMPTS sign-ins at once (three in four with a wrong secret, the rest right) while reading
`GET /traces` with a token every 0.1 s, and prints the peak growth of the server's RSS (sampled every 20 ms; each
verification holds 64 MiB) and the slowest read. The same scenario as
tests/api/test_signin_throttling.py, which asserts the bounded case only.

    python bench/signin.py [--attempts 40] [--concurrency 2,40]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import ADMIN, Api, PeakRss, Server  # noqa: E402


def sign_in(base: str, client_id: str, secret: str) -> int:
    with httpx.Client(base_url=base, timeout=120) as http:
        return http.post("/api/v1/auth/token", json={"client_id": client_id, "client_secret": secret}).status_code


@dataclass
class Storm:
    codes: list[int]  # the sign-ins' status codes, sorted
    right: int  # how many had the right secret
    reads: list[float]  # seconds of each authenticated read meanwhile
    growth: int  # the server's RSS peak above its level at the start, bytes
    start: int
    took: float


def storm(server: Server, attempts: int) -> Storm:
    """`attempts` sign-ins at once (three in four wrong) while an admin reads every 0.1 s."""
    admin = Api(server.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
    reader = admin.post("/accounts", json={"name": "reader", "roles": ["read"]}).json()
    assert admin.get("/traces").status_code == 200  # warm
    right = attempts // 4
    tries = [(f"nobody-{n}", "wrong") for n in range(attempts - right)]
    tries += [(reader["client_id"], reader["client_secret"])] * right
    reads: list[float] = []
    with PeakRss(server.proc.pid) as rss, ThreadPoolExecutor(len(tries)) as pool:
        started = time.monotonic()
        answers = [pool.submit(sign_in, server.base, *attempt) for attempt in tries]
        while not all(a.done() for a in answers):
            began = time.monotonic()
            assert admin.get("/traces").status_code == 200
            reads.append(time.monotonic() - began)
            time.sleep(0.1)
        took = time.monotonic() - started
    return Storm(sorted(a.result() for a in answers), right, reads, rss.growth, rss.start, took)


def run(concurrency: int, attempts: int) -> None:
    env = {
        **ADMIN,
        "FT_SIGNIN_CONCURRENCY": str(concurrency),
        "FT_SIGNIN_ADDRESS_FAILURES": "10000",
        "FT_SIGNIN_CLIENT_FAILURES": "10000",
        "FT_SIGNIN_QUEUE_SECONDS": "60",
        "FT_LOG_LEVEL": "WARNING",
    }
    with tempfile.TemporaryDirectory(prefix="ftel-bench-signin-") as tmp:
        server = Server(env, "serve", Path(tmp))
        try:
            got = storm(server, attempts)
            assert got.codes == [200] * got.right + [401] * (attempts - got.right), got.codes
            print(
                f"FT_SIGNIN_CONCURRENCY={concurrency:<3} {attempts} sign-ins in {got.took:5.1f} s: server RSS peak "
                f"+{got.growth / 2**20:7.1f} MiB (from {got.start / 2**20:.0f} MiB); {len(got.reads)} reads "
                f"meanwhile, slowest {max(got.reads, default=0) * 1000:.0f} ms"
            )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=40, help="concurrent sign-ins")
    parser.add_argument("--concurrency", default="2,40", help="FT_SIGNIN_CONCURRENCY values, comma-separated")
    args = parser.parse_args()
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        run(concurrency, args.attempts)


if __name__ == "__main__":
    main()
