"""Redis ACL users of subscriptions ("writers"): each may only `XADD` to its own stream key, nothing else.

A writer is created from the SHA-256 of its secret (`ACL SETUSER … #<sha256>`), so the service never keeps
the secret itself and can re-create its writers from SQL after Redis lost them (a restart, a failover).
Needs Redis ≥ 6.2 and, on the service's own user, the `ACL SETUSER`, `ACL DELUSER` and `ACL LIST` commands.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from backend.streams import keys

log = logging.getLogger("ftel.streams")

_GLOB = str.maketrans({c: f"\\{c}" for c in "*?[]\\"})


def new_secret() -> str:
    """A writer's password: 256 random bits, URL-safe (it goes into the userinfo of a redis:// URL)."""
    return secrets.token_urlsafe(32)


def secret_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Writer:
    user: str  # keys.writer_user(subscription id)
    stream: str  # the one key it may write
    secret_sha256: str


class WriterAcl:
    """The writers on one asyncio client (the caller's event loop). `select`: also allow SELECT, for a
    service whose streams are not in database 0 (clients send SELECT on connecting; ACLs cannot name a
    database, so such a writer could XADD to a key of the same name in another database, nothing more)."""

    def __init__(self, redis: Redis, *, select: bool = False) -> None:
        self.redis = redis
        self.select = select

    def _rules(self, writer: Writer) -> list[str]:
        # reset first: a SETUSER of an existing user starts from nothing, so the rules are exactly these
        rules = ["reset", "resetchannels", "on", f"#{writer.secret_sha256}", f"~{writer.stream.translate(_GLOB)}"]
        return [*rules, "+xadd", *(["+select"] if self.select else [])]

    async def grant(self, writers: Sequence[Writer]) -> None:
        """Create or redefine these writers (idempotent), in one round trip."""
        if not writers:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for writer in writers:
                pipe.execute_command("ACL", "SETUSER", writer.user, *self._rules(writer))
            await pipe.execute()

    async def revoke(self, users: Iterable[str]) -> None:
        """Delete these writers (absent ones are ignored); Redis closes their open connections."""
        names = [u for u in users if u.startswith(keys.WRITER_USER_PREFIX)]
        if names:
            await cast(Awaitable[int], self.redis.acl_deluser(*names))

    async def granted(self) -> dict[str, str | None] | None:
        """Every writer Redis knows: user → the SHA-256 of its password (None if it has none or several).
        None when Redis refuses ACL commands (the service's user may not, or Redis is older than 6): logged."""
        found: dict[str, str | None] = {}
        try:
            lines = await cast(Awaitable[list[str | bytes]], self.redis.acl_list())
        except ResponseError as exc:
            log.error("cannot manage Redis ACL users (FT_REDIS_MANAGE_ACL is on): ACL LIST: %s", exc)
            return None
        for line in lines:
            words = (line.decode() if isinstance(line, bytes) else str(line)).split()
            if len(words) < 2 or words[0] != "user" or not words[1].startswith(keys.WRITER_USER_PREFIX):
                continue
            hashes = [w[1:] for w in words[2:] if w.startswith("#")]
            found[words[1]] = hashes[0] if len(hashes) == 1 else None
        return found
