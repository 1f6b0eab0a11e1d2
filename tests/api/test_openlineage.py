"""OpenLineage over real HTTP on the all-in-one: the official `openlineage-python` client (its HTTP transport,
signing in with OAuth2 client credentials against POST /auth/token) reports a 3-job pipeline whose last job
fails; the trace, nodes, flows and the failure reason appear, and the same events sent again change nothing.
The seed scenario exported as OpenLineage (GET /traces/{key}/openlineage, and POST /exports) validates
against the spec, and taken into an empty instance gives the same lineage edges. Bad input gets per-event
4xx answers, never a 500."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import redis
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import error_message_run, parent_run
from openlineage.client.transport.http import HttpConfig, HttpTransport, create_token_provider

from backend.demo import seed_events
from backend.domain.openlineage import SCHEMA_URL, _validator
from tests.conftest import ADMIN, Api, Server, wait_for
from tests.stream_fixtures import xadd_events


@pytest.fixture(scope="module")
def aio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {**ADMIN, "FT_EXPORT_POLL_SECONDS": "0.2", "FT_STREAM_BLOCK_MS": "200", "FT_STREAM_RECONCILE_SECONDS": "1"}
    srv = Server(env, "serve", tmp_path_factory.mktemp("openlineage"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin(aio: Server) -> Api:
    return Api(aio.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])


def official_client(api: Api, base: str) -> OpenLineageClient:
    """What an Airflow or Spark deployment configures: the HTTP transport at the service's URL (its default path,
    api/v1/lineage, is answered too), its token from our token endpoint by OAuth2 client credentials
    (client_secret_basic, the transport's default)."""
    created = api.post("/accounts", json={"name": "airflow", "kind": "system", "roles": ["ingest"]}).json()
    auth = create_token_provider(
        {
            "type": "oauth2",
            "tokenEndpoint": f"{base}/api/v1/auth/token",
            "clientId": created["client_id"],
            "clientSecret": created["client_secret"],
        }
    )
    return OpenLineageClient(transport=HttpTransport(HttpConfig(url=base, auth=auth)))


def pipeline(tag: str) -> tuple[str, list[RunEvent]]:
    """A DAG run with three task runs: extract (file → table), transform (table → file), load (file → table),
    which FAILs with an error message; then the DAG run FAILs."""
    dag, t0 = str(uuid.uuid4()), datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    landing = f"in/{tag}/orders.csv"
    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=dag), job=parent_run.Job(namespace="airflow-prod", name=f"nightly_{tag}")
    )

    def at(minutes: int) -> str:
        return (t0 + timedelta(minutes=minutes)).isoformat()

    def task(
        state: RunState, run_id: str, name: str, minutes: int, ins: list[Any], outs: list[Any], **facets: Any
    ) -> RunEvent:
        return RunEvent(
            eventType=state,
            eventTime=at(minutes),
            run=Run(runId=run_id, facets={"parent": parent, **facets}),
            job=Job(namespace="airflow-prod", name=name),
            inputs=ins,
            outputs=outs,
        )

    orders = InputDataset(namespace="s3://landing", name=landing)
    staged = OutputDataset(namespace="postgres://warehouse:5432", name=f"dw.staging.orders_{tag}")
    staged_in = InputDataset(namespace="postgres://warehouse:5432", name=f"dw.staging.orders_{tag}")
    report = OutputDataset(namespace="s3://curated", name=f"reports/{tag}/daily.parquet")
    report_in = InputDataset(namespace="s3://curated", name=f"reports/{tag}/daily.parquet")
    mart = OutputDataset(namespace="postgres://warehouse:5432", name=f"dw.mart.daily_{tag}")
    r1, r2, r3 = (str(uuid.uuid4()) for _ in range(3))
    error = error_message_run.ErrorMessageRunFacet(
        message="column customer_id is missing", programmingLanguage="python"
    )
    events = [
        RunEvent(
            eventType=RunState.START,
            eventTime=at(0),
            run=Run(runId=dag),
            job=Job(namespace="airflow-prod", name=f"nightly_{tag}"),
        ),
        task(RunState.START, r1, "extract_orders", 1, [orders], [staged]),
        task(RunState.COMPLETE, r1, "extract_orders", 2, [orders], [staged]),
        task(RunState.START, r2, "build_report", 3, [staged_in], [report]),
        task(RunState.COMPLETE, r2, "build_report", 4, [staged_in], [report]),
        task(RunState.START, r3, "load_mart", 5, [report_in], [mart]),
        task(RunState.FAIL, r3, "load_mart", 6, [report_in], [mart], errorMessage=error),
        RunEvent(
            eventType=RunState.FAIL,
            eventTime=at(7),
            run=Run(runId=dag),
            job=Job(namespace="airflow-prod", name=f"nightly_{tag}"),
        ),
    ]
    return dag, events


def test_the_official_client_reports_a_pipeline_with_a_failing_job(aio: Server, admin: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    dag, events = pipeline(tag)
    client = official_client(admin, aio.base)
    for event in events:
        client.emit(event)  # raises on any non-2xx answer
    trace = wait_for(
        lambda: admin.get(f"/traces/{dag}").json() if admin.get(f"/traces/{dag}").status_code == 200 else None
    )
    assert trace["name"] == f"nightly_{tag}" and trace["user"] == "airflow-prod" and trace["status"] == "ended"
    report = f"s3://curated/reports/{tag}/daily.parquet"

    def graph() -> dict[str, Any]:
        answer: dict[str, Any] = admin.get(f"/traces/{dag}/graph").json()
        return answer

    assert wait_for(lambda: len(graph()["edges"]) == 2)
    edges = {(e["source"], e["target"], e["op"]) for e in graph()["edges"]}
    assert edges == {
        (f"s3://landing/in/{tag}/orders.csv", f"postgres://warehouse:5432/dw.staging.orders_{tag}", "extract_orders"),
        (f"postgres://warehouse:5432/dw.staging.orders_{tag}", report, "build_report"),
    }  # the failed load made no edge
    nodes = {n["key"]: n for n in graph()["nodes"]}
    assert nodes[f"s3://landing/in/{tag}/orders.csv"]["kind"] == "file"
    assert nodes[f"postgres://warehouse:5432/dw.staging.orders_{tag}"]["kind"] == "sink"
    assert nodes[report]["status"] == "dropped" and nodes[report]["drop_reason"] == "column customer_id is missing"
    assert trace["summary"]["drop_reasons"] == {"column customer_id is missing": 1}
    messages = [m["message"] for m in admin.get(f"/traces/{dag}").json()["log_messages"]]
    assert "airflow-prod/load_mart: FAIL: column customer_id is missing" in messages
    # out again: the root run keeps the producer's run id, the task runs name it as their parent
    out = [orjson.loads(line) for line in admin.get(f"/traces/{dag}/openlineage").content.splitlines()]
    assert {e["run"]["runId"] for e in out if "parent" not in e["run"]["facets"]} == {dag}
    assert {e["run"]["facets"]["parent"]["run"]["runId"] for e in out if "parent" in e["run"]["facets"]} == {dag}
    sent = [_plain(e) for e in events]
    assert {(e["run"]["runId"], e["job"]["namespace"], e["job"]["name"]) for e in out} <= {
        (e["run"]["runId"], e["job"]["namespace"], e["job"]["name"]) for e in sent
    }  # its producer's runs and jobs
    assert [e["eventType"] for e in out if e["run"]["runId"] == dag] == ["START", "FAIL"]  # the DAG run failed
    # the same events again: nothing new
    again = admin.post("/openlineage", json=[orjson.loads(orjson.dumps(_plain(e))) for e in events])
    assert again.status_code == 202 and again.json()["accepted"] == 0 and again.json()["rejected"] == [], again.text


def _plain(event: RunEvent) -> Any:
    from openlineage.client.serde import Serde

    return orjson.loads(Serde.to_json(event))


def test_the_seed_scenario_goes_out_valid_and_comes_back_with_the_same_edges(
    aio: Server, admin: Api, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert admin.post("/events", json=seed_events("OL-A", user="team-7")).status_code == 202
    answer = admin.get("/traces/OL-A/openlineage")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-ndjson")
    run_events = [orjson.loads(line) for line in answer.content.splitlines()]
    assert run_events and all(e["schemaURL"] == SCHEMA_URL for e in run_events)
    for event in run_events:
        problems = [e.message for e in _validator().iter_errors(event)]
        assert problems == [], (event, problems)
    assert [e["eventType"] for e in run_events].count("FAIL") == 2  # File1 and File2 dropped
    ours = {(e["source"], e["target"], e["op"]) for e in admin.get("/traces/OL-A/graph").json()["edges"]}
    # the same through the export machinery
    made = admin.post("/exports", json={"content": "openlineage", "trace": "OL-A"})
    assert made.status_code == 202, made.text
    export_id = made.json()["id"]
    assert wait_for(lambda: admin.get(f"/exports/{export_id}").json()["status"] == "done")
    chunk = gzip.decompress(admin.get(f"/exports/{export_id}/chunks/1").content)
    assert [orjson.loads(line) for line in chunk.splitlines()] == run_events
    # into an empty instance
    other = Server(ADMIN, "serve", tmp_path_factory.mktemp("openlineage-empty"))
    try:
        empty = Api(other.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        sent = empty.post("/openlineage", json=run_events, params={"wait_for_graph": "true"})
        assert sent.status_code == 202 and sent.json()["rejected"] == [], sent.text
        theirs = {(e["source"], e["target"], e["op"]) for e in empty.get("/traces/OL-A/graph").json()["edges"]}
        assert theirs == ours and len(ours) == 7
        drops = {
            n["key"]: n["drop_reason"] for n in empty.get("/traces/OL-A/graph").json()["nodes"] if n["drop_reason"]
        }
        assert drops == {
            n["key"]: n["drop_reason"] for n in admin.get("/traces/OL-A/graph").json()["nodes"] if n["drop_reason"]
        }
        assert empty.get("/traces/OL-A").json()["user"] == "team-7"
    finally:
        other.stop()


def test_a_subscription_stream_carries_run_events_too(admin: Api) -> None:
    """What an OpenLineage transport writing to the stream (or a Kafka transport keyed by the stream key) does."""
    app = admin.account("ingest", name="spark-jobs")
    sub = app.post("/subscriptions", json={"user_id": "spark"}).json()
    tag = uuid.uuid4().hex[:6]
    _, events = pipeline(tag)
    root = _plain(events[0])["run"]["runId"]
    xadd_events(
        redis.Redis.from_url(sub["endpoint"], decode_responses=True), sub["stream_key"], [_plain(e) for e in events]
    )
    assert wait_for(lambda: admin.get(f"/traces/{root}").status_code == 200, timeout=30)
    assert wait_for(lambda: len(admin.get(f"/traces/{root}/graph").json()["edges"]) == 2, timeout=30)
    assert admin.get(f"/traces/{root}").json()["status"] == "ended"


def test_bad_run_events_get_per_event_errors(admin: Api) -> None:
    good = {
        "eventType": "START",
        "eventTime": "2026-12-01T09:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "ns", "name": "job"},
        "producer": "https://example.com",
        "schemaURL": SCHEMA_URL,
    }
    batch = [
        {"type": "log", "trace": "t", "message": "an envelope, not OpenLineage"},
        {**good, "schemaURL": "https://example.com/schema.json"},
        {**good, "run": {"facets": {}}},
        "a string",
        good,
    ]
    answer = admin.post("/openlineage", json=batch)
    assert answer.status_code == 202, answer.text
    rejected = {r["index"]: r["error"] for r in answer.json()["rejected"]}
    assert sorted(rejected) == [0, 1, 2, 3]
    assert "not an OpenLineage RunEvent" in rejected[0] and "schemaURL" in rejected[1] and "runId" in rejected[2]
    assert answer.json()["accepted"] >= 2  # the good one: its trace's start and a log line
    alone = admin.post("/openlineage", json={**good, "run": {"runId": "nope"}})
    assert alone.status_code == 400 and "runId" in alone.json()["error"]["message"]
    for body, status in ((b"not json", 400), (b"", 400), (b"{}", 400), (b"[]", 202)):
        got = admin.http.post("/api/v1/openlineage", content=body, headers={"Content-Type": "application/json"})
        assert got.status_code == status, (body, got.text)
    # whole or nothing: an owner the service cannot store refuses the RunEvent, and nothing of it stays
    torn = {**good, "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "ns\u202e", "name": "job"}}
    refused = admin.post("/openlineage", json=torn)
    assert refused.status_code == 400 and "nothing of this RunEvent was stored" in refused.json()["error"]["message"]
    assert admin.get(f"/traces/{torn['run']['runId']}").status_code == 404
    # a RunEvent of a wide table (a schema facet of 20,000 fields: 1.5 MB) is taken like any other
    fields = [{"name": f"column_{i}", "type": "varchar(255)", "description": "x" * 40} for i in range(20_000)]
    wide = {
        **good,
        "run": {"runId": str(uuid.uuid4())},
        "inputs": [
            {
                "namespace": "s3://a",
                "name": "wide.csv",
                "facets": {
                    "schema": {
                        "_producer": "https://example.com",
                        "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
                        "fields": fields,
                    }
                },
            }
        ],
    }
    assert len(orjson.dumps(wide)) > 1024 * 1024
    assert admin.post("/openlineage", json=wide).status_code == 202
    reader = admin.account("read", name="reader-only")
    assert reader.post("/openlineage", json=good).status_code == 403
    assert admin.get("/traces/no-such-trace/openlineage").status_code == 404
