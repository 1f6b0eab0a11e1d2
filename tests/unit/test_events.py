"""The envelope: what is accepted, what is rejected and why, and the dedup key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from backend.domain.events import dedup_key, validate_events

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def errors_of(raw: list[Any]) -> dict[int, str]:
    _, rejected = validate_events(raw, "c", NOW)
    return {r.index: r.error for r in rejected}


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({"type": "file.exploded", "trace": "t"}, "type"),
        ({"type": "trace.started", "trace": "t"}, "'user' is required"),
        ({"type": "file.received", "node": {"kind": "file", "key": "f"}}, "'trace' is required"),
        ({"type": "file.received", "trace": "t"}, "'node' is required"),
        ({"type": "file.received", "trace": "t", "node": {"kind": "data", "key": "f"}}, "kind 'file'"),
        ({"type": "file.received", "trace": "t", "node": {"kind": "folder", "key": "f"}}, "node.kind"),
        ({"type": "file.dropped", "trace": "t", "node": {"kind": "file", "key": "f"}}, "'reason'"),
        ({"type": "flow", "trace": "t", "inputs": [{"kind": "file", "key": "f"}]}, "at least one input and one output"),
        ({"type": "log", "message": "m"}, "'trace' or a 'node'"),
        ({"type": "log", "trace": "t"}, "'message' is required"),
        ({"type": "file.received", "trace": "t" * 513, "node": {"kind": "file", "key": "f"}}, "longer than 512"),
        ({"type": "file.received", "trace": "t", "node": {"kind": "file", "key": "a\nb"}}, "control characters"),
        ({"type": "log", "trace": "t", "message": "m", "attrs": {"blob": "x" * (65 * 1024)}}, "64 KiB"),
        ({"type": "log", "trace": "t", "message": "m", "colour": "red"}, "colour"),
        ({"type": "log", "trace": "t", "message": "m", "time": "yesterday"}, "time"),
        ({"type": "log", "trace": "t", "message": "m", "id": "not-a-uuid"}, "id"),
        ("just a string", "JSON object"),
    ],
)
def test_bad_events_are_rejected_with_a_reason(event: Any, fragment: str) -> None:
    errors = errors_of([event])
    assert 0 in errors and fragment in errors[0]


def test_good_events_in_a_batch_survive_bad_neighbours() -> None:
    good = {"type": "log", "trace": "t", "message": "ok"}
    accepted, rejected = validate_events([good, {"type": "nope"}, good | {"message": "two"}], "c", NOW)
    assert [a.index for a in accepted] == [0, 2]
    assert [r.index for r in rejected] == [1]


def test_server_fills_time_but_dedup_ignores_the_filled_time() -> None:
    event = {"type": "log", "trace": "t", "message": "m"}
    first, _ = validate_events([event], "c", NOW)
    later, _ = validate_events([event], "c", datetime(2026, 3, 2, tzinfo=UTC))
    assert first[0].time == NOW
    assert first[0].dedup_key == later[0].dedup_key


def test_dedup_key_depends_on_channel_time_and_payload() -> None:
    payload = '{"type":"log"}'
    base = dedup_key("c", NOW, payload)
    assert base == dedup_key("c", NOW, payload)
    assert base != dedup_key("other", NOW, payload)
    assert base != dedup_key("c", datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC), payload)
    assert base != dedup_key("c", NOW, '{"type":"flow"}')


def test_canonical_payload_ignores_key_order_and_time_zone_spelling() -> None:
    a = {"type": "log", "trace": "t", "message": "m", "time": "2026-03-01T09:00:00+09:00", "attrs": {"x": 1, "y": 2}}
    b = {"attrs": {"y": 2, "x": 1}, "time": "2026-03-01T00:00:00Z", "message": "m", "trace": "t", "type": "log"}
    (ea,), _ = validate_events([a], "c", NOW)
    (eb,), _ = validate_events([b], "c", NOW)
    assert ea.dedup_key == eb.dedup_key


def test_flow_op_defaults_from_node_kinds() -> None:
    def op(inputs: list[str], outputs: list[str]) -> str:
        raw = {
            "type": "flow",
            "trace": "t",
            "inputs": [{"kind": k, "key": f"i{n}"} for n, k in enumerate(inputs)],
            "outputs": [{"kind": k, "key": f"o{n}"} for n, k in enumerate(outputs)],
        }
        (ev,), _ = validate_events([raw], "c", NOW)
        return ev.envelope.default_op()

    assert op(["file"], ["data", "data"]) == "parse"
    assert op(["data"], ["data"]) == "derive"
    assert op(["data"], ["sink"]) == "write"
    assert op(["file"], ["file"]) == "flow"


def test_a_flow_cannot_feed_itself() -> None:
    errors = errors_of(
        [
            {
                "type": "flow",
                "trace": "t",
                "inputs": [{"kind": "data", "key": "d"}],
                "outputs": [{"kind": "data", "key": "d"}],
            }
        ]
    )
    assert "same key" in errors[0]


def test_user_ids_with_control_characters_are_rejected() -> None:
    """PostgreSQL text cannot hold NUL: such a user id is a per-event 4xx, never a 500."""
    errors = errors_of(
        [
            {"type": "trace.started", "trace": "t", "user": "bad\x00user"},
            {"type": "log", "trace": "t", "message": "m", "user": "x" * 513},
        ]
    )
    assert "control characters" in errors[0] and "512" in errors[1]


def test_times_without_a_zone_are_utc() -> None:
    from backend.domain.events import format_time

    assert format_time(datetime(2026, 1, 1, 9, 0)) == "2026-01-01T09:00:00.000000Z"
    assert format_time(datetime(2026, 1, 1, 9, 0, tzinfo=UTC)) == "2026-01-01T09:00:00.000000Z"


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("time", "0001-01-01T00:00:00+01:00", "time must lie between"),  # OverflowError in astimezone before
        ("time", "9999-12-31T23:59:59-01:00", "time must lie between"),
        ("time", "1899-12-31T23:59:59Z", "time must lie between"),
        ("attrs", _nested(254), "nested deeper than 32"),  # "Recursion limit reached" in orjson before
        ("attrs", {"big": 2**70}, "attrs cannot be stored"),
        ("trace", "right\u202eleft", "control characters"),
        ("trace", "next\u0085line", "control characters"),
        ("trace", "half\ud800", "control characters"),
        ("message", "lone \udc00 surrogate", "valid string"),
        ("attrs", {"note": "lone \udc00 surrogate"}, "attrs cannot be stored"),
    ],
)
def test_values_no_store_can_take_cost_only_their_own_event(field: str, value: Any, fragment: str) -> None:
    """Each of these raised out of validation (a 500, and the valid events of the batch lost with it)."""
    good = {"type": "log", "trace": "t", "message": "ok"}
    accepted, rejected = validate_events([good, good | {field: value}, good | {"message": "two"}], "c", NOW)
    assert [a.index for a in accepted] == [0, 2]
    ((bad,),) = [rejected]
    assert bad.index == 1 and fragment in bad.error, bad.error


def test_times_at_the_edges_of_the_range_are_kept() -> None:
    for stamp in ("1900-01-01T00:00:00Z", "9999-12-29T23:59:59Z"):
        accepted, rejected = validate_events([{"type": "log", "trace": "t", "message": "m", "time": stamp}], "c", NOW)
        assert not rejected and accepted[0].time.year in (1900, 9999)


def test_a_flow_may_not_fan_out_into_more_edges_than_the_cap() -> None:
    nodes = [{"kind": "data", "key": f"d{n}"} for n in range(300)]
    outs = [{"kind": "data", "key": f"o{n}"} for n in range(300)]
    errors = errors_of([{"type": "flow", "trace": "t", "inputs": nodes, "outputs": outs}])
    assert "300 x 300" in errors[0] and "split it" in errors[0]
    fine, _ = validate_events([{"type": "flow", "trace": "t", "inputs": nodes[:1], "outputs": outs}], "c", NOW)
    assert len(fine) == 1


def test_keys_with_emoji_joiners_are_kept() -> None:
    """Only controls, bidi controls and separators are refused: a zero-width joiner in an emoji is a name."""
    key = "report-\U0001f469\u200d\U0001f4bb.csv"
    accepted, rejected = validate_events([{"type": "log", "trace": key, "message": "m"}], "c", NOW)
    assert not rejected and accepted[0].envelope.trace == key
