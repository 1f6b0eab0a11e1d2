"""Events → graph rows, and rows → the trace summary."""

from __future__ import annotations

from datetime import UTC, datetime

from backend.demo import seed_events
from backend.domain.events import format_time, validate_events
from backend.domain.projection import StoredEvent, project
from backend.domain.queries import decode_cursor, encode_cursor, summarise


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
    rows = [
        {"kind": "file", "status": "dropped", "produced": False, "reason": "bad header", "code": None, "count": 1},
        {"kind": "file", "status": "dropped", "produced": False, "reason": None, "code": "E_SUM", "count": 2},
        {"kind": "file", "status": "converted", "produced": False, "reason": None, "code": None, "count": 1},
        {"kind": "file", "status": "stored", "produced": False, "reason": None, "code": None, "count": 4},
        {"kind": "data", "status": "converted", "produced": True, "reason": None, "code": None, "count": 6},
        {"kind": "data", "status": "dropped", "produced": True, "reason": "empty", "code": None, "count": 1},
        {"kind": "file", "status": "written", "produced": True, "reason": None, "code": None, "count": 1},
        {"kind": "sink", "status": "written", "produced": True, "reason": None, "code": None, "count": 2},
    ]
    assert summarise(rows) == {
        "files": 8,
        "dropped": 4,
        "unconverted": 4,
        "data": 7,
        "outputs": 3,
        "drop_reasons": {"E_SUM": 2, "bad header": 1, "empty": 1},
    }


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor("2026-01-01T00:00:00.000000Z", "key/ü")) == (
        "2026-01-01T00:00:00.000000Z",
        "key/ü",
    )
