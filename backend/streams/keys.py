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

ARQ_QUEUE = "ft:arq:queue"
"""ARQ job queue of `ftel worker` (scheduled jobs)."""


def stream_key(subscription_id: str) -> str:
    return f"{STREAM_PREFIX}{subscription_id}"


def subscription_id(stream: str) -> str:
    return stream.removeprefix(STREAM_PREFIX)


def errors_key(stream: str) -> str:
    return f"{ERRORS_PREFIX}{stream}"
