"""Events → graph rows, and rows → the trace summary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.demo import seed_events
from backend.domain.events import format_time, validate_events
from backend.domain.projection import Projection, StoredEvent, project
from backend.domain.queries import decode_cursor, encode_cursor, summarise
from graph.base import DropRow


def project_raw(raw: list[dict]) -> object:
    accepted, rejected = validate_events(raw, "c", datetime.now(UTC))
    assert not rejected
    return project([StoredEvent(i, a.envelope, a.envelope.trace, format_time(a.time)) for i, a in enumerate(accepted)])


def test_seed_projection_folds_each_node_once_with_its_final_status() -> None:
    projection = project_raw(seed_events("A"))
    nodes = {n.key: n for n in projection.batch.nodes}
    assert len(nodes) == len(projection.batch.nodes) == 10
    assert nodes["File1"].status == "dropped" and nodes["File1"].reason == "header row missing (see log)"
    assert nodes["File3"].status == "converted"
    assert nodes["File4"].status == "written" and nodes["File4"].produced
    assert nodes["File4"].name == "report.parquet"
    assert [t.key for t in projection.batch.traces] == ["A"]
    assert projection.batch.traces[0].status == "ended"
    assert len(projection.batch.flows) == 7
    assert projection.log_targets == {
        ("File1", "file"),
        ("File2", "file"),
        ("data1", "data"),
        ("data5", "data"),
        ("A", None),
    }


def test_summary_counts_files_drops_data_and_outputs() -> None:
    def row(kind: str, status: str, produced: bool, count: int, **drop: Any) -> dict[str, Any]:
        dropped = {"dropped_here": bool(drop), "reason": drop.get("reason"), "code": drop.get("code")}
        return {"kind": kind, "status": status, "produced": produced, **dropped, "count": count}

    rows = [
        row("file", "dropped", False, 1, reason="bad header"),
        row("file", "dropped", False, 2, code="E_SUM"),
        row("file", "converted", False, 1),
        row("file", "stored", False, 4),
        row("data", "converted", True, 6),
        row("data", "dropped", True, 1, reason="empty"),
        row("file", "written", True, 1),
        row("sink", "written", True, 2),
        row("file", "dropped", True, 1),  # written here, dropped by another trace: an output, not this trace's drop
    ]
    assert summarise(rows) == {
        "files": 8,
        "dropped": 4,
        "unconverted": 4,
        "data": 7,
        "outputs": 4,
        "drop_reasons": {"E_SUM": 2, "bad header": 1, "empty": 1},
    }


def test_drops_are_rows_of_the_reporting_trace_with_its_earliest_reason() -> None:
    def drop(trace: str, reason: str, second: int) -> dict[str, Any]:
        node = {"kind": "file", "key": "s3://b/f.csv"}
        return {
            "type": "file.dropped",
            "trace": trace,
            "node": node,
            "reason": reason,
            "time": f"2026-01-01T00:00:0{second}Z",
        }

    projection = project_raw([drop("Y", "late retry", 5), drop("Y", "schema", 2), drop("Z", "other", 3)])
    assert isinstance(projection, Projection)
    drops = sorted(projection.batch.drops, key=lambda d: d.trace)
    assert drops == [
        DropRow("Y", "file", "s3://b/f.csv", "schema", None, "2026-01-01T00:00:02.000000Z"),
        DropRow("Z", "file", "s3://b/f.csv", "other", None, "2026-01-01T00:00:03.000000Z"),
    ]


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor("2026-01-01T00:00:00.000000Z", "key/ü")) == (
        "2026-01-01T00:00:00.000000Z",
        "key/ü",
    )
