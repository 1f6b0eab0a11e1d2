"""OpenLineage both ways, without a server: RunEvents checked against the published spec (per-event reasons),
the mapping to envelopes (the root run is the trace, datasets are nodes by namespace and name, inputs →
outputs are flows with the job as op, FAIL drops the inputs with the error message, the root's end ends the
trace, ids stable so that a re-send is a duplicate), and the way back out validating against the same spec."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from backend.db.base import ExportedEvent
from backend.domain.events import validate_events
from backend.domain.openlineage import (
    MAX_KEY_LENGTH,
    SCHEMA_URL,
    InvalidRunEvent,
    _validator,
    check,
    dataset_key,
    dataset_kind,
    dataset_of,
    envelopes,
    expand,
    settle,
)
from backend.exports.openlineage import Facts, _names, run_events
from tests.conftest import log_rows

DAG, T1, T2 = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def run_event(state: str, run_id: str, job: str, *, parent: str | None = None, **extra: Any) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if parent:
        facets["parent"] = {
            "_producer": "https://example.com",
            "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json",
            "run": {"runId": parent},
            "job": {"namespace": "airflow", "name": "nightly"},
        }
    return {
        "eventType": state,
        "eventTime": "2026-12-01T09:00:00.5+01:00",
        "run": {"runId": run_id, "facets": facets},
        "job": {"namespace": "airflow", "name": job},
        "inputs": [],
        "outputs": [],
        "producer": "https://example.com/producer",
        "schemaURL": SCHEMA_URL,
        **extra,
    }


def ds(namespace: str, name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "facets": facets}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ([1, 2], "JSON object"),
        ({**run_event("START", DAG, "x"), "schemaURL": "https://example.com/other.json"}, "schemaURL"),
        ({k: v for k, v in run_event("START", DAG, "x").items() if k != "schemaURL"}, "schemaURL"),
        ({**run_event("START", DAG, "x"), "run": {"facets": {}}}, "runId"),
        ({**run_event("START", DAG, "x"), "run": {"runId": "not-a-uuid"}}, "not a UUID"),
        ({**run_event("START", DAG, "x"), "eventType": "DONE"}, "eventType"),
        ({**run_event("START", DAG, "x"), "eventTime": "yesterday"}, "eventTime"),
        ({**run_event("START", DAG, "x"), "eventTime": "2026-12-01T09:00:00"}, "time zone"),
        ({**run_event("START", DAG, "x"), "inputs": [{"name": "no namespace"}]}, "namespace"),
    ],
)
def test_what_is_not_a_run_event_is_refused_with_its_reason(event: Any, reason: str) -> None:
    with pytest.raises(InvalidRunEvent, match=reason):
        check(event)


def test_a_batch_keeps_the_good_run_events_and_names_the_bad_ones() -> None:
    good = run_event("START", DAG, "nightly")
    out = expand([good, {"eventType": "START"}, {"type": "log", "message": "x", "trace": "t"}], only_openlineage=True)
    assert [r.index for r in out.rejected] == [1, 2] and out.run_events == {0}
    assert "not an OpenLineage RunEvent" in out.rejected[1].error
    mixed = expand([{"type": "log", "message": "x", "trace": "t"}, good])  # a stream may carry both
    assert mixed.origin[0] == 0 and set(mixed.origin[1:]) == {1} and not mixed.rejected


def test_datasets_become_nodes_by_namespace_and_name() -> None:
    assert dataset_key("s3://landing", "in/orders.csv") == "s3://landing/in/orders.csv"
    assert dataset_key("file://host", "/tmp/x.csv") == "file://host/tmp/x.csv"
    assert dataset_key("file-telemetry", "File3") == "File3"
    assert dataset_kind("s3://landing", {}) == "file"
    assert dataset_kind("postgres://db:5432", {}) == "sink"
    assert dataset_kind("bigquery", {}) == "sink"
    assert dataset_kind("kafka://broker:9092", {}) == "data"
    assert dataset_kind("postgres://db:5432", {"datasetType": {"datasetType": "FILE"}}) == "file"
    assert dataset_of("s3://landing/in/orders.csv") == ("s3://landing", "in/orders.csv")
    assert dataset_of("File3") == ("file-telemetry", "File3")
    for key in ("s3://landing/in/orders.csv", "File3", "postgres://db:5432/w.public.t"):
        assert dataset_key(*dataset_of(key)) == key


def test_a_pipeline_of_runs_is_one_trace_of_flows_and_its_failure_drops_with_the_reason() -> None:
    landing, raw = ds("s3://landing", "orders.csv"), ds("postgres://db:5432", "w.public.orders")
    failed = run_event(
        "FAIL",
        T2,
        "load",
        parent=DAG,
        inputs=[landing],
        outputs=[raw],
    )
    failed["run"]["facets"]["errorMessage"] = {
        "_producer": "https://example.com",
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json",
        "message": "column customer_id is missing",
        "programmingLanguage": "python",
    }
    events = [
        run_event("START", DAG, "nightly"),
        run_event("COMPLETE", T1, "extract", parent=DAG, inputs=[landing], outputs=[raw]),
        failed,
        run_event("FAIL", DAG, "nightly"),
    ]
    for e in events:
        check(e)
    made = [m for e in events for m in envelopes(e)]
    assert {m["trace"] for m in made} == {DAG}
    started = next(m for m in made if m["type"] == "trace.started")
    assert started["user"] == "airflow" and started["attrs"]["name"] == "nightly"
    assert started["time"] == "2026-12-01T08:00:00.500000Z"  # UTC
    flows = [m for m in made if m["type"] == "flow"]
    assert [(f["op"], f["inputs"][0]["key"], f["outputs"][0]["key"]) for f in flows] == [
        ("extract", "s3://landing/orders.csv", "postgres://db:5432/w.public.orders")
    ]  # no flow from the failed run: its outputs were not made
    (drop,) = [m for m in made if m["type"].endswith(".dropped")]
    assert drop["node"]["key"] == "s3://landing/orders.csv" and drop["reason"] == "column customer_id is missing"
    assert [m["type"] for m in made if m["type"] == "trace.ended"] == ["trace.ended"]  # the root's FAIL alone
    errors = [m["message"] for m in made if m["type"] == "log" and m["level"] == "error"]
    assert "airflow/load: FAIL: column customer_id is missing" in errors
    accepted, rejected = validate_events(made, "openlineage:test", datetime.now(UTC))
    assert not rejected and len(accepted) == len(made)
    assert [m["id"] for e in events for m in envelopes(e)] == [m["id"] for m in made]  # stable: a re-send dedups


def test_a_run_that_reports_its_datasets_twice_is_one_flow_and_a_start_is_none() -> None:
    io = {"inputs": [ds("s3://a", "x.csv")], "outputs": [ds("s3://a", "y.csv")]}
    assert not [m for m in envelopes(run_event("START", T1, "copy", **io)) if m["type"] == "flow"]
    running = [m for m in envelopes(run_event("RUNNING", T1, "copy", **io)) if m["type"] == "flow"]
    complete = [m for m in envelopes({**run_event("COMPLETE", T1, "copy", **io)}) if m["type"] == "flow"]
    assert running[0]["id"] == complete[0]["id"]


def test_lineage_goes_out_valid_and_comes_back_the_same() -> None:
    seed = [
        {"type": "trace.started", "trace": "A", "user": "team-7", "attrs": {"name": "nightly import"}},
        {
            "type": "flow",
            "trace": "A",
            "op": "parse",
            "inputs": [{"kind": "file", "key": "s3://landing/File3.csv"}],
            "outputs": [{"kind": "data", "key": "data1"}, {"kind": "data", "key": "data2"}],
        },
        {
            "type": "flow",
            "trace": "A",
            "inputs": [{"kind": "data", "key": "data2"}],
            "outputs": [{"kind": "sink", "key": "postgres://w/t"}],
        },
        {"type": "file.dropped", "trace": "A", "node": {"kind": "file", "key": "File1"}, "reason": "header missing"},
        {"type": "log", "trace": "A", "message": "not lineage"},
        {"type": "trace.ended", "trace": "A"},
    ]
    rows = log_rows(seed)
    stored = [
        ExportedEvent(
            n,
            r.uuid,
            r.type,
            r.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "-",
            r.trace_key,
            r.node_key,
            r.user_id,
            "rest:x",
            None,
            r.payload,
        )
        for n, r in enumerate(rows, start=1)
    ]

    def facts(trace: str) -> Facts:
        return Facts("nightly import", "team-7", {})

    out = list(run_events(stored, facts))
    assert [e["eventType"] for e in out] == ["START", "COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    for e in out:
        assert not list(_validator().iter_errors(orjson.loads(orjson.dumps(e)))), e
    back = [m for e in out for m in envelopes(e)]
    edges = {
        (m["op"], i["key"], o["key"], i["kind"], o["kind"])
        for m in back
        if m["type"] == "flow"
        for i in m["inputs"]
        for o in m["outputs"]
    }
    assert edges == {
        ("parse", "s3://landing/File3.csv", "data1", "file", "data"),
        ("parse", "s3://landing/File3.csv", "data2", "file", "data"),
        ("write", "data2", "postgres://w/t", "data", "sink"),
    }  # an op the flow did not name is the one the graph derived (write)
    assert {m["trace"] for m in back} == {"A"}
    assert next(m for m in back if m["type"] == "trace.started")["user"] == "team-7"
    (drop,) = [m for m in back if m["type"] == "file.dropped"]
    assert drop["node"]["key"] == "File1" and drop["reason"] == "header missing"
    assert [m["type"] for m in back if m["type"] == "trace.ended"] == ["trace.ended"]
    assert not [m for m in back if m["type"] == "log"]  # the service's own exports carry no log lines


def test_a_run_event_is_taken_whole_or_not_at_all() -> None:
    """A RunEvent whose START would name an owner the service cannot store (a bidi control character in the
    job's namespace) leaves nothing behind: not its log line either."""
    bad = run_event("START", str(uuid.uuid4()), "x")
    bad["job"]["namespace"] = "ns\u202e"
    good = run_event("START", str(uuid.uuid4()), "y")
    out = expand([bad, good])
    accepted, rejected = validate_events(out.events, "openlineage:t", datetime.now(UTC))
    left_out, refusals = settle(out, rejected)
    assert [r.index for r in refusals] == [0] and "nothing of this RunEvent was stored" in refusals[0].error
    kept = [a for a in accepted if a.index not in left_out]
    assert {out.origin[a.index] for a in kept} == {1}


def test_a_dataset_name_longer_than_a_key_stays_one_node() -> None:
    long_name = "in/" + "x" * 1000 + ".csv"
    io = {"inputs": [ds("s3://landing", long_name)], "outputs": [ds("s3://curated", "out.csv")]}
    (flow,) = [m for m in envelopes(run_event("COMPLETE", T1, "copy", **io)) if m["type"] == "flow"]
    key = flow["inputs"][0]["key"]
    assert len(key) == MAX_KEY_LENGTH and flow["inputs"][0]["name"] == long_name
    again = [m for m in envelopes(run_event("COMPLETE", T2, "copy", **io)) if m["type"] == "flow"]
    assert again[0]["inputs"][0]["key"] == key  # the same dataset is the same node
    assert not validate_events([flow], "openlineage:t", datetime.now(UTC))[1]


def test_datasets_go_out_under_the_names_they_came_with() -> None:
    assert _names({"key": "bigquery/proj.ds.t", "name": "proj.ds.t"}) == ("bigquery", "proj.ds.t")
    assert _names({"key": "file/tmp/a.csv", "name": "/tmp/a.csv"}) == ("file", "/tmp/a.csv")
    assert _names({"key": "s3://landing/in/a.csv", "name": "in/a.csv"}) == ("s3://landing", "in/a.csv")
    assert _names({"key": "s3://landing/in/a.csv", "name": "a.csv"}) == ("s3://landing/in", "a.csv")
    assert _names({"key": "File3"}) == ("file-telemetry", "File3")
    assert _names({"key": "File3", "name": "file3.csv"}) == ("file-telemetry", "File3")


def test_a_pipeline_taken_in_goes_out_under_its_producers_runs_jobs_and_states() -> None:
    landing = ds("s3://landing", "orders.csv")
    events = [
        run_event("START", DAG, "nightly"),
        run_event("COMPLETE", T1, "extract", parent=DAG, inputs=[landing], outputs=[ds("bigquery", "p.d.orders")]),
        run_event("FAIL", DAG, "nightly"),
    ]
    made = [m for e in events for m in envelopes(e)]
    rows = log_rows([m for m in made if m["type"] != "log"])
    stored = [
        ExportedEvent(
            n,
            r.uuid,
            r.type,
            "2026-12-01T08:00:00.500000Z",
            "-",
            r.trace_key,
            r.node_key,
            r.user_id,
            "c",
            None,
            r.payload,
        )
        for n, r in enumerate(rows, start=1)
    ]
    out = list(run_events(stored, lambda trace: Facts("nightly", "airflow", {})))
    assert [(e["eventType"], e["run"]["runId"], e["job"]["namespace"], e["job"]["name"]) for e in out] == [
        ("START", DAG, "airflow", "nightly"),
        ("COMPLETE", T1, "airflow", "extract"),
        ("FAIL", DAG, "airflow", "nightly"),  # the DAG run failed: it goes out failed
    ]
    assert out[1]["run"]["facets"]["parent"]["job"] == {"namespace": "airflow", "name": "nightly"}
    assert [(d["namespace"], d["name"]) for d in out[1]["outputs"]] == [("bigquery", "p.d.orders")]
    assert out[1]["run"]["facets"]["fileTelemetry_trace"]["user"] == "airflow"
    for e in out:
        assert not list(_validator().iter_errors(orjson.loads(orjson.dumps(e)))), e
