"""Per-user accounting and allowances: who sends how much, and who is over their allowance.

Counters are per process (each replica counts what it received); `GET /api/v1/flow` and the metrics
show this process's view. An allowance is set per account and applies to each user of that account
separately: one noisy user of an app is parked, the other users of the same app are not.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Allowance:
    """Sustained events/s and bytes/s per user; a burst of `burst_seconds` worth is let through at once."""

    events_per_second: float
    bytes_per_second: float
    burst_seconds: float = 10.0

    def as_json(self) -> dict[str, float]:
        return {
            "events_per_second": self.events_per_second,
            "bytes_per_second": self.bytes_per_second,
            "burst_seconds": self.burst_seconds,
        }


@dataclass
class TokenBucket:
    """Two buckets (events, bytes) refilled at the allowance's rate, capped at its burst."""

    events: float
    bytes: float
    at: float

    def take(self, allowance: Allowance, sizes: list[int], now: float) -> int:
        """How many of the events (sizes in bytes, in order) fit now; those are taken from the bucket."""
        elapsed = max(0.0, now - self.at)
        self.at = now
        self.events = min(
            allowance.events_per_second * allowance.burst_seconds, self.events + elapsed * allowance.events_per_second
        )
        self.bytes = min(
            allowance.bytes_per_second * allowance.burst_seconds, self.bytes + elapsed * allowance.bytes_per_second
        )
        fits = 0
        for size in sizes:
            if self.events < 1 or self.bytes < size:
                break
            self.events -= 1
            self.bytes -= size
            fits += 1
        return fits


@dataclass
class UserFlow:
    account_id: int | None
    user: str
    events: int = 0
    bytes: int = 0
    parked: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    rate: float = 0.0  # events/s, exponentially weighted over ~RATE_WINDOW seconds
    is_parked: bool = False
    bucket: TokenBucket | None = None
    _window_start: float = 0.0
    _window_events: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "user": self.user,
            "events": self.events,
            "bytes": self.bytes,
            "parked": self.parked,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "rate": round(self.current_rate(time.time()), 3),
            "parking": self.is_parked,
        }

    def current_rate(self, now: float) -> float:
        idle = now - self._window_start
        if idle > 2 * RATE_WINDOW:
            return 0.0
        return self.rate


RATE_WINDOW = 5.0


@dataclass
class Accounting:
    """Counters and buckets per (account, user); thread-safe."""

    default: Allowance
    allowances: dict[int, Allowance] = field(default_factory=dict)
    users: dict[tuple[int | None, str], UserFlow] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allowance(self, account_id: int | None) -> Allowance:
        return self.allowances.get(account_id, self.default) if account_id is not None else self.default

    def admit(self, account_id: int | None, user: str, sizes: list[int], now: float | None = None) -> int:
        """Count the events of one user and return how many of them are within the allowance."""
        now = time.time() if now is None else now
        with self._lock:
            flow = self.users.get((account_id, user))
            if flow is None:
                allowance = self.allowance(account_id)
                bucket = TokenBucket(
                    allowance.events_per_second * allowance.burst_seconds,
                    allowance.bytes_per_second * allowance.burst_seconds,
                    now,
                )
                flow = self.users[(account_id, user)] = UserFlow(
                    account_id, user, first_seen=now, bucket=bucket, _window_start=now
                )
            flow.events += len(sizes)
            flow.bytes += sum(sizes)
            flow.last_seen = now
            if now - flow._window_start >= 1.0:  # close the window before counting this batch into the next
                instant = flow._window_events / (now - flow._window_start)
                weight = min(1.0, (now - flow._window_start) / RATE_WINDOW)
                flow.rate = instant if flow.rate == 0 else flow.rate + weight * (instant - flow.rate)
                flow._window_start, flow._window_events = now, 0
            flow._window_events += len(sizes)
            assert flow.bucket is not None
            return flow.bucket.take(self.allowance(account_id), sizes, now)

    def note_parked(self, account_id: int | None, user: str, count: int) -> bool | None:
        """Record that `count` events of the user were parked (0: none). Returns the new parking state when
        it changed (True: started, False: stopped), else None — the caller logs the transitions."""
        with self._lock:
            flow = self.users.get((account_id, user))
            if flow is None:
                return None
            flow.parked += count
            parking = count > 0
            if parking == flow.is_parked:
                return None
            flow.is_parked = parking
            return parking

    def set_allowance(self, account_id: int, allowance: Allowance) -> None:
        with self._lock:
            self.allowances[account_id] = allowance

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [flow.as_json() for flow in self.users.values()]
