"""Sign-in (POST /auth/token) behind throttling, so that guessing secrets is slow and cannot exhaust the server.

- Failed sign-ins are counted per client id and per source address in moving windows (the `limits` library) on
  the process's Redis, so every API process shares them; while a window is full, sign-ins for that client id, or
  from that address, are refused with 429 and Retry-After before any secret is checked. A client id is locked
  whoever sends it (a distributed guess is stopped too); one address's failures on other client ids lock that
  address only. A success clears its client id's failures, never its address's. Without Redis (or while it is
  unreachable) the windows are counted in this process.
- At most FT_SIGNIN_CONCURRENCY secrets are verified at once per process (Argon2 takes 64 MiB and tens of ms of
  CPU each); the others wait their turn on the event loop, not on a worker thread, for at most
  FT_SIGNIN_QUEUE_SECONDS, then get 429. The throttle is consulted inside the turn, so concurrent guesses cannot
  overshoot a limit by more than the number of turns.
- A failed sign-in is logged with its client id (shortened) and address, never the secret.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import anyio
import anyio.to_thread
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter

from backend.domain.auth import Auth, Token
from backend.errors import TooManyRequests, Unauthenticated
from backend.settings import Settings

log = logging.getLogger("ftel.auth")

T = TypeVar("T")

SHARED_RETRY_SECONDS = 30.0  # after Redis failed, count in this process for this long before trying Redis again


def address_key(address: str | None) -> str:
    """The source address as counted: an IPv6 host by its /64 (one host usually holds the whole /64)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_key(client_id: str) -> str:
    """Client ids are caller-chosen text of any length: counted under a fixed-size digest."""
    return hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def shown(client_id: str) -> str:
    """A client id as the log shows it: quoted, escaped, at most 64 characters."""
    return repr(client_id[:64]) + ("..." if len(client_id) > 64 else "")


class SignIn:
    """Issues tokens through `Auth.issue_token`, throttled as the module docstring says. `shared`: the Redis
    windows (None without Redis); `local`: this process's own, the fallback."""

    def __init__(self, auth: Auth, settings: Settings, shared: Storage | None, local: Storage) -> None:
        self.auth = auth
        window = settings.signin_window_seconds
        self.per_client = RateLimitItemPerSecond(settings.signin_client_failures, window, namespace="client")
        self.per_address = RateLimitItemPerSecond(settings.signin_address_failures, window, namespace="address")
        self.queue_seconds = settings.signin_queue_seconds
        self._turns = anyio.CapacityLimiter(settings.signin_concurrency)
        self._shared = MovingWindowRateLimiter(shared) if shared is not None else None
        self._local = MovingWindowRateLimiter(local)
        self._shared_down_until = 0.0

    async def token(self, client_id: str, client_secret: str, address: str | None, refresh: bool = False) -> Token:
        """A token for valid credentials; Unauthenticated (401) for invalid ones, TooManyRequests (429) while a
        limit holds or no verification turn came within FT_SIGNIN_QUEUE_SECONDS."""
        try:
            with anyio.fail_after(self.queue_seconds):
                await self._turns.acquire()
        except TimeoutError:
            raise TooManyRequests("too many sign-ins at once; try again shortly", {"limit": "concurrency"}) from None
        try:
            return await anyio.to_thread.run_sync(
                self._attempt, client_id, client_secret, address_key(address), refresh
            )
        finally:
            self._turns.release()

    def _attempt(self, client_id: str, client_secret: str, address: str, refresh: bool) -> Token:
        client = client_key(client_id)
        for item, identifier, name in ((self.per_client, client, "client"), (self.per_address, address, "address")):
            wait = self._counted(partial(_wait, item=item, identifier=identifier))
            if wait:
                log.debug("sign-in refused (%s limit): client id %s from %s", name, shown(client_id), address)
                raise TooManyRequests("too many failed sign-ins; try again later", {"limit": name}, retry_after=wait)
        try:
            token = self.auth.issue_token(client_id, client_secret, refresh)
        except Unauthenticated:
            log.warning("sign-in failed: client id %s from %s", shown(client_id), address)
            self._counted(lambda limiter: self._failed(limiter, client_id, client, address))
            raise
        self._counted(lambda limiter: limiter.clear(self.per_client, client))
        return token

    def _failed(self, limiter: MovingWindowRateLimiter, client_id: str, client: str, address: str) -> None:
        for item, identifier, what in (
            (self.per_client, client, f"client id {shown(client_id)}"),
            (self.per_address, address, f"address {address}"),
        ):
            limiter.hit(item, identifier)
            if not limiter.test(item, identifier):
                log.warning(
                    "sign-in: %s refused for up to %d s after %d failed sign-ins",
                    what,
                    item.get_expiry(),
                    item.amount,
                )

    def _counted(self, op: Callable[[MovingWindowRateLimiter], T]) -> T:
        """Run `op` on the shared windows, or on this process's own while Redis is unreachable."""
        shared = self._shared
        if shared is None or time.monotonic() < self._shared_down_until:
            return op(self._local)
        try:
            return op(shared)
        except StorageError as exc:
            self._shared_down_until = time.monotonic() + SHARED_RETRY_SECONDS
            log.warning(
                "sign-in throttling: Redis unreachable (%s); counting in this process for %d s",
                exc.storage_error,
                SHARED_RETRY_SECONDS,
            )
            return op(self._local)


def _wait(limiter: MovingWindowRateLimiter, item: RateLimitItem, identifier: str) -> int:
    """Seconds until the window lets one more failure in; 0 when it is not full."""
    if limiter.test(item, identifier):
        return 0
    reset = limiter.get_window_stats(item, identifier).reset_time
    return max(1, math.ceil(reset - time.time()))
