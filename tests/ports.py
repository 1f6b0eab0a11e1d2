"""Ports for the servers tests and benches start: outside the kernel's ephemeral range, once each per process.

A port picked by binding to port 0 and closing comes from the ephemeral range
(`/proc/sys/net/ipv4/ip_local_port_range`), where any outgoing connection can take it before the server
binds it. These come from 10000–19999 instead, below the ephemeral range and the test services' ports
(scripts/services.sh: 25432, 26379, 27687, 29000, 29092, 29093), each checked free by binding and never
handed out twice in one process; the walk starts at an offset taken from the pid, so runs side by side
start far apart.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

POOL = range(10000, 20000)
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")

_lock = threading.Lock()
_handed_out: set[int] = set()
_next = (os.getpid() * 7919) % len(POOL)  # 7919 is prime: pids next to each other start far apart


def ephemeral_range() -> range:
    try:
        low, high = (int(n) for n in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


def _candidates() -> list[int]:
    ephemeral = ephemeral_range()
    ports = [p for p in POOL if p not in ephemeral]
    if not ports:
        raise RuntimeError(f"the kernel's ephemeral range {ephemeral} covers the test ports {POOL}")
    return ports


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nothing listens on now, outside the ephemeral range, not handed out before in this process."""
    global _next
    ports = _candidates()
    with _lock:
        for _ in range(len(ports)):
            port = ports[_next % len(ports)]
            _next += 1
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free port left in {POOL} (handed out {len(_handed_out)})")
