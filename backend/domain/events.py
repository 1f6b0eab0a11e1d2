"""The event envelope (docs/architecture.md, "The event envelope"): parsing, validation, canonical form and dedup key."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.domain.ids import Key, uuid7

MAX_ATTRS_BYTES = 64 * 1024
MAX_ATTRS_DEPTH = 32  # nesting of objects and arrays inside attrs
MAX_FLOW_EDGES = 10_000  # inputs x outputs of one flow event: each pair is an edge of the graph
# Times the service keeps: fixed-width text (format_time) with room for arithmetic on either side.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def check_time(value: datetime) -> datetime:
    """The time in UTC (no zone means UTC), or ValueError outside EARLIEST..LATEST."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"time must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return utc


Time = Annotated[datetime, AfterValidator(check_time)]


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of objects and arrays in a JSON value, counted level by level (no recursion) and no
    further than `limit` + 1."""
    depth, level = 0, [value] if isinstance(value, (dict, list)) else []
    while level and depth <= limit:
        depth += 1
        children = (v for item in level for v in (item.values() if isinstance(item, dict) else item))
        level = [v for v in children if isinstance(v, (dict, list))]
    return depth


class EventType(str, Enum):
    trace_started = "trace.started"
    trace_ended = "trace.ended"
    file_received = "file.received"
    file_stored = "file.stored"
    file_dropped = "file.dropped"
    file_deleted = "file.deleted"
    file_expired = "file.expired"  # service-emitted only: retention deleted the stored bytes
    data_dropped = "data.dropped"
    flow = "flow"
    log = "log"


NodeKind = Literal["file", "data", "sink"]

# Which node kind an event type may name, and the status it gives that node.
NODE_EVENTS: dict[EventType, tuple[str, str]] = {
    EventType.file_received: ("file", "received"),
    EventType.file_stored: ("file", "stored"),
    EventType.file_dropped: ("file", "dropped"),
    EventType.file_deleted: ("file", "deleted"),
    EventType.file_expired: ("file", "expired"),
    EventType.data_dropped: ("data", "dropped"),
}
DROP_EVENTS = {EventType.file_dropped, EventType.data_dropped}

# Types only the service itself emits (channels "service:..."): an `expired` node always has a
# retention record behind it, so observed apps may not send them.
SERVICE_ONLY_EVENTS = {EventType.file_expired}
SERVICE_CHANNEL_PREFIX = "service:"


class NodeRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: NodeKind
    key: Key
    name: str | None = Field(None, max_length=1024)


class Envelope(BaseModel):
    """One telemetry event as sent on the wire."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = None
    type: EventType
    trace: Key | None = None
    user: Key | None = None  # same rules as keys: 1..512 characters, no control characters
    time: Time | None = None
    node: NodeRef | None = None
    inputs: list[NodeRef] = Field(default_factory=list, max_length=10_000)
    outputs: list[NodeRef] = Field(default_factory=list, max_length=10_000)
    op: str | None = Field(None, min_length=1, max_length=200)
    reason: str | None = Field(None, max_length=4096)
    code: str | None = Field(None, max_length=100)
    level: Literal["debug", "info", "warn", "error"] | None = None
    message: str | None = Field(None, max_length=65_536)
    attrs: dict[str, Any] | None = None

    @field_validator("attrs")
    @classmethod
    def _attrs_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        if _depth(value, MAX_ATTRS_DEPTH) > MAX_ATTRS_DEPTH:
            raise ValueError(f"attrs nested deeper than {MAX_ATTRS_DEPTH} levels")
        try:
            size = len(orjson.dumps(value))
        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
            raise ValueError(f"attrs cannot be stored: {exc}") from None
        if size > MAX_ATTRS_BYTES:
            raise ValueError(f"attrs larger than {MAX_ATTRS_BYTES // 1024} KiB")
        return value

    @model_validator(mode="after")
    def _fields_for_type(self) -> Envelope:
        t = self.type
        if t is not EventType.log and self.trace is None:
            raise ValueError(f"'trace' is required on {t.value} events")
        if t is EventType.trace_started and not self.user:
            raise ValueError("'user' is required on trace.started")
        if t in NODE_EVENTS:
            kind = NODE_EVENTS[t][0]
            if self.node is None:
                raise ValueError(f"'node' is required on {t.value} events")
            if self.node.kind != kind:
                raise ValueError(f"{t.value} needs a node of kind '{kind}', got '{self.node.kind}'")
        if t in DROP_EVENTS and not (self.reason or self.code):
            raise ValueError(f"{t.value} needs a 'reason' (or a 'code')")
        if t is EventType.flow:
            if not self.inputs or not self.outputs:
                raise ValueError("flow events need at least one input and one output")
            if len(self.inputs) * len(self.outputs) > MAX_FLOW_EDGES:
                raise ValueError(
                    f"a flow links each input to each output: {len(self.inputs)} x {len(self.outputs)} is more "
                    f"than {MAX_FLOW_EDGES:,} edges; split it into several flow events"
                )
            keys_in = {n.key for n in self.inputs}
            if any(n.key in keys_in for n in self.outputs):
                raise ValueError("a flow cannot have the same key as input and output")
        if t is EventType.log:
            if self.message is None:
                raise ValueError("'message' is required on log events")
            if self.trace is None and self.node is None:
                raise ValueError("log events need a 'trace' or a 'node'")
        return self

    def nodes(self) -> list[tuple[NodeRef, str]]:
        """Every node the event names, with its role: node, input or output."""
        named: list[tuple[NodeRef, str]] = []
        if self.node is not None:
            named.append((self.node, "node"))
        named.extend((n, "input") for n in self.inputs)
        named.extend((n, "output") for n in self.outputs)
        return named

    def default_op(self) -> str:
        """The flow's op, or one derived from the kinds: parse, derive or write."""
        return self.op or default_op({n.kind for n in self.inputs}, {n.kind for n in self.outputs})


def default_op(kinds_in: set[str], kinds_out: set[str]) -> str:
    """The op of a flow that names none, from the kinds it links: parse, derive, write, or flow."""
    if kinds_in == {"file"} and kinds_out == {"data"}:
        return "parse"
    if kinds_in == {"data"} and kinds_out == {"data"}:
        return "derive"
    if "data" in kinds_in and kinds_out <= {"file", "sink"}:
        return "write"
    return "flow"


def format_time(value: datetime) -> str:
    """Times travel as fixed-width UTC text so that text order is time order in every store."""
    if value.tzinfo is not None:  # no zone: UTC already
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"  # as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), faster


@dataclass(frozen=True, slots=True)
class AcceptedEvent:
    """A valid event, ready to be stored: server time filled, canonical payload and dedup key computed."""

    index: int
    envelope: Envelope
    uuid: str
    time: datetime
    payload: str
    dedup_key: str
    time_text: str  # format_time(time)


@dataclass(frozen=True)
class RejectedEvent:
    index: int
    error: str


def canonical_payload(envelope: Envelope) -> str:
    return orjson.dumps(
        envelope.model_dump(mode="json", exclude_none=True, exclude_defaults=True), option=orjson.OPT_SORT_KEYS
    ).decode()


def dedup_key(channel: str, time: datetime | None, payload: str) -> str:
    """One stored event per (channel, createdAt, sha256 of the canonical payload)."""
    return _dedup_key(channel, format_time(time) if time is not None else "", payload)


def _dedup_key(channel: str, stamp: str, payload: str) -> str:
    return hashlib.sha256(f"{channel}\x1f{stamp}\x1f{payload}".encode()).hexdigest()


def _error_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def validate_events(
    raw: list[Any], channel: str, received_at: datetime
) -> tuple[list[AcceptedEvent], list[RejectedEvent]]:
    """Validate a batch; each bad event becomes a RejectedEvent with its index, the rest are kept."""
    accepted: list[AcceptedEvent] = []
    rejected: list[RejectedEvent] = []
    received_text = format_time(received_at)
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            rejected.append(RejectedEvent(index, "event must be a JSON object"))
            continue
        try:
            envelope = Envelope.model_validate(item)
        except ValidationError as exc:
            rejected.append(RejectedEvent(index, _error_text(exc)))
            continue
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # never the whole batch for one
            rejected.append(RejectedEvent(index, f"invalid event: {type(exc).__name__}"))
            continue
        if envelope.type in SERVICE_ONLY_EVENTS and not channel.startswith(SERVICE_CHANNEL_PREFIX):
            rejected.append(
                RejectedEvent(index, f"type: {envelope.type.value} is emitted by the service only (retention)")
            )
            continue
        payload = canonical_payload(envelope)  # storable: validation dumped attrs and checked every string
        sent = envelope.time
        time_text = format_time(sent) if sent is not None else received_text
        accepted.append(
            AcceptedEvent(
                index=index,
                envelope=envelope,
                uuid=str(envelope.id or uuid7()),
                time=sent or received_at,
                payload=payload,
                dedup_key=_dedup_key(channel, time_text if sent is not None else "", payload),
                time_text=time_text,
            )
        )
    return accepted, rejected


__all__ = [
    "AcceptedEvent",
    "Envelope",
    "EventType",
    "NodeRef",
    "RejectedEvent",
    "Time",
    "check_time",
    "format_time",
    "validate_events",
]
