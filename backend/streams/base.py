"""The consumer side of a stream transport (Redis Streams, Kafka): one protocol, one contract suite
(`tests/contract/test_event_source.py`), and the entry format both share.

Entry format. A Redis entry carries field `event` (one JSON event) or `events` (a JSON array of
events); a Kafka message value is one JSON event, a JSON array, or {"events": [...]}, and its key is
the subscription's stream key. Anything else is *undecodable*: it is still returned, with `error`
set, so the consumer can dead-letter it; it never stops a consumer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson


@dataclass(frozen=True)
class Entry:
    """One delivered stream entry. Owned by the consumer until acked, dead-lettered or released."""

    stream: str  # the subscription's stream key: the dedup channel of its events
    id: str  # position in the transport: Redis entry id, or "<partition>:<offset>" on Kafka
    fields: dict[str, str]  # the raw entry, kept for the dead-letter record
    events: list[Any] | None  # decoded events; None when the entry is undecodable
    error: str | None = None  # why the entry could not be decoded
    deliveries: int = 1  # how many times this entry was handed out, this delivery included
    published_ms: int | None = field(default=None, compare=False)  # when the app wrote it, if known


class EventSource(Protocol):
    """Delivers the entries of the followed subscriptions to one member of a consumer group.

    Guarantees (every implementation; checked by the contract suite):
      * At-least-once: an entry returned by `fetch` is delivered again — to this member after a restart
        or to another member of the group — until it is acked or dead-lettered. A crash anywhere
        before `ack` returns loses nothing; storing is idempotent, so redelivery is harmless.
      * No double work: while members of one group are alive, a new entry goes to one member only.
      * `ack` and `dead_letter` are durable when they return; a dead-lettered entry is in `ft:dlq`
        (with its reason, stream and id) before it counts as handled, and is not delivered again.
      * An undecodable entry is returned with `error` set; `fetch` never raises because of content.
      * Only entries of followed streams are returned. Entries the transport cannot hold back for a
        stream that is not followed (Kafka's shared topic) are dead-lettered with a reason.
      * `release` hands entries back unacknowledged: they are redelivered later (Redis: claimed after
        FT_STREAM_CLAIM_IDLE_MS; Kafka: re-read from their offset) with `deliveries` increased.
      * Redelivery after a restart comes first: a member resumes with the entries it had not
        acknowledged (Redis: its pending entries, id 0; Kafka: from the committed offset).
      * `deliveries` counts every hand-out. Redis keeps it in the group (it survives restarts); Kafka
        has no such counter, so there it counts hand-outs within this process only.
    Entries returned by `fetch` belong to the caller; the source keeps only their positions.
    """

    transport: str

    async def start(self) -> None:
        """Connect; after this `fetch` may be called. Idempotent."""

    def follow(self, streams: Collection[str]) -> None:
        """Replace the set of followed stream keys (cheap; takes effect on the next `fetch`)."""

    async def fetch(self, count: int, block_ms: int) -> list[Entry]:
        """Up to about `count` entries (per stream on Redis), waiting at most `block_ms` for new ones
        (0: do not wait)."""

    async def ack(self, entries: Sequence[Entry]) -> None:
        """Mark entries handled: they are never delivered again."""

    async def dead_letter(self, failures: Sequence[tuple[Entry, str]]) -> None:
        """Move entries with their reasons to `ft:dlq`, then ack them."""

    async def release(self, entries: Sequence[Entry]) -> None:
        """Give entries back unacknowledged, for a later redelivery."""

    async def close(self) -> None:
        """Disconnect. Unacknowledged entries stay with the group for redelivery."""


def decode_redis_fields(fields: dict[str, str] | None) -> tuple[list[Any] | None, str | None]:
    """The events of a Redis entry (`event` or `events` field), or the reason it has none."""
    if not fields:
        return None, "entry is empty (deleted or trimmed before it was read)"
    if "events" in fields:
        return _decode_array(fields["events"], "events")
    if "event" in fields:
        try:
            doc = orjson.loads(fields["event"])
        except orjson.JSONDecodeError as exc:
            return None, f"field 'event' is not JSON: {exc}"
        return [doc], None
    return None, f"entry has neither an 'event' nor an 'events' field (fields: {', '.join(sorted(fields))[:200]})"


def decode_kafka_value(value: bytes | None) -> tuple[list[Any] | None, str | None]:
    """The events of a Kafka message value: one event, an array, or {"events": [...]}."""
    if not value:
        return None, "message has no value"
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return None, f"message value is not JSON: {exc}"
    if isinstance(doc, list):
        return doc, None
    if isinstance(doc, dict) and isinstance(doc.get("events"), list):
        return list(doc["events"]), None
    return [doc], None


def _decode_array(text: str, name: str) -> tuple[list[Any] | None, str | None]:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return None, f"field '{name}' is not JSON: {exc}"
    if not isinstance(doc, list):
        return None, f"field '{name}' must be a JSON array of events"
    return doc, None


def dead_letter_record(entry: Entry, reason: str, transport: str) -> dict[str, str]:
    """The fields of an `ft:dlq` entry: where it came from, why, and the original entry to replay."""
    return {
        "stream": entry.stream,
        "id": entry.id,
        "transport": transport,
        "reason": reason[:4000],
        "deliveries": str(entry.deliveries),
        "at": datetime.now(UTC).isoformat(),
        "entry": orjson.dumps(entry.fields).decode(),
    }
