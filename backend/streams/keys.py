"""Every Redis key and channel name file-telemetry uses, in one place (scripts and operators rely on them)."""

from __future__ import annotations

STREAM_PREFIX = "ft:s:"
"""One stream per Redis subscription: `ft:s:<subscription id>`; apps XADD their telemetry here."""

REGISTRY = "ft:streams"
"""Hash: stream key → JSON subscription record (owner, user id, transport, created, deleted)."""

CONTROL = "ft:control"
"""Pub/sub channel: {"op": "follow"|"unfollow", "stream": key}. At-most-once: a hint, the registry is the truth."""

DLQ = "ft:dlq"
"""Dead-letter stream: entries that could not be stored, with the reason, the source stream and entry id."""

ERRORS_PREFIX = "ft:err:"
"""Hash per stream: entry id → last processing error (what the DLQ record says after too many deliveries)."""

ACTIVITY = "ft:activity"
"""Hash: stream key → epoch ms of the newest entry seen by a consumer (idle expiry for Kafka subscriptions)."""

CONSUMERS = "ft:consumers"
"""Hash: consumer name → JSON {streams, transport, at}: what each running consumer follows (for operators and tests)."""

AUTH_CHANGES = "ft:auth"
"""Pub/sub channel: the public id of an account that was disabled or got a new secret; every process drops
its cached state of that account (at-most-once: the cache's TTL bounds a lost message)."""

GRAPH_WRITE_LOCK = "ft:graph-write-lock"
"""Lock (redis-py Lock) every process holds while it merges into a shared graph (Neo4j): merges take turns."""

SIGNIN_LIMITS = "ft:signin"
"""Prefix of the sign-in throttling windows (the `limits` library's moving windows, Lua on lists):
failed sign-ins per client id (hashed) and per source address, shared by every API process."""

ARQ_QUEUE = "ft:arq:queue"
"""ARQ job queue of `ftel worker` (scheduled jobs)."""


SERVICE_USER = "ftel"
"""Redis ACL user of the service's own connections to the embedded Redis (its `default` user is off)."""

WRITER_USER_PREFIX = "ftel-sub-"
"""Redis ACL user per subscription: `ftel-sub-<subscription id>`, allowed only `XADD` to its own stream."""


def writer_user(subscription_id: str) -> str:
    return f"{WRITER_USER_PREFIX}{subscription_id}"


def stream_key(subscription_id: str) -> str:
    return f"{STREAM_PREFIX}{subscription_id}"


def subscription_id(stream: str) -> str:
    return stream.removeprefix(STREAM_PREFIX)


def errors_key(stream: str) -> str:
    return f"{ERRORS_PREFIX}{stream}"


PARK_PREFIX = "ft:park:"
"""One stream per parked user: `ft:park:<account id>:<user id>`; entry field `b` = JSON batch
{channel, account, user, received, events} of validated events waiting to be stored (backend/flow)."""

PARKED_USERS = "ft:park:users"
"""Set of the park streams that may hold entries (the drainer's round-robin list)."""

PARKED_DEPTH = "ft:park:depth"
"""Hash: park stream → events it holds (a stream entry is a batch; this counts events)."""

PARK_LOCK_PREFIX = "ft:park-lock:"
"""String per park stream being drained: `ft:park-lock:<park stream>` → drainer id (PX 30 s), one drainer per user."""

FLOW_ALLOWANCES = "ft:flow:allowances"
"""Hash: account id → JSON allowance {events_per_second, bytes_per_second, burst_seconds} set by an admin."""


def park_key(account_id: int | None, user: str) -> str:
    return f"{PARK_PREFIX}{account_id if account_id is not None else '-'}:{user}"


def park_owner(park_stream: str) -> tuple[int | None, str]:
    """(account id, user id) of a park stream: the inverse of park_key."""
    account, _, user = park_stream.removeprefix(PARK_PREFIX).partition(":")
    return (int(account) if account.isdigit() else None), user


def park_lock_key(park_stream: str) -> str:
    return f"{PARK_LOCK_PREFIX}{park_stream}"
