"""The REST contract over real HTTP, on the all-in-one stack (SQLite + embedded graph) and on the
services stack (PostgreSQL + Neo4j)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.api.schemas import TraceGraph
from backend.demo import seed_events
from tests.conftest import ADMIN, Api, Server, create_pg_database, drop_pg_database, service_env, wait_for
from tests.stream_fixtures import rekeyed


def key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def own_seed(trace: str) -> list[dict[str, Any]]:
    """The seed scenario with node keys of the trace's own: File1 becomes File1-<trace> (a key names one node
    across the service, and the tests of this module share one server)."""
    return rekeyed(seed_events(trace), f"-{trace}")


def send(api: Api, events: list[dict[str, Any]], **kw: Any) -> None:
    """POST /events and check that every event was stored at once: 202, all accepted, none a duplicate,
    buffered or rejected."""
    r = api.post("/events", json=events, **kw)
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": len(events), "duplicates": 0, "buffered": 0, "rejected": []}


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in response.text


# -- auth ------------------------------------------------------------------------------------


def test_token_by_json_and_by_form(server: Server) -> None:
    for kwargs in (
        {"json": {"client_id": ADMIN["FT_ADMIN_CLIENT_ID"], "client_secret": ADMIN["FT_ADMIN_CLIENT_SECRET"]}},
        {
            "data": {
                "grant_type": "client_credentials",
                "client_id": ADMIN["FT_ADMIN_CLIENT_ID"],
                "client_secret": ADMIN["FT_ADMIN_CLIENT_SECRET"],
            }
        },
    ):
        r = httpx.post(f"{server.base}/api/v1/auth/token", **kwargs)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["access_token"].count(".") == 2


def test_bad_credentials_and_missing_tokens_are_401(server: Server) -> None:
    r = httpx.post(
        f"{server.base}/api/v1/auth/token", json={"client_id": ADMIN["FT_ADMIN_CLIENT_ID"], "client_secret": "nope"}
    )
    assert_error(r, 401, "unauthenticated")
    assert_error(httpx.post(f"{server.base}/api/v1/auth/token", json={"client_id": "x"}), 400, "invalid_input")
    assert_error(httpx.get(f"{server.base}/api/v1/traces"), 401, "unauthenticated")
    r = httpx.get(f"{server.base}/api/v1/traces", headers={"Authorization": "Bearer not.a.token"})
    assert_error(r, 401, "unauthenticated")


def test_roles_are_enforced_on_every_route(admin: Api) -> None:
    ingest = admin.account("ingest", name="importer")
    reader = admin.account("read", name="analyst")
    send(ingest, [{"type": "log", "trace": key("t"), "message": "hi"}])
    for path in ("/traces", "/traces/x", "/traces/x/graph", "/nodes/x", "/lineage/x"):
        assert_error(ingest.get(path), 403, "forbidden")
    assert_error(ingest.post("/graph/query", json={"query": "RETURN 1"}), 403, "forbidden")
    assert_error(ingest.get("/accounts"), 403, "forbidden")
    assert_error(reader.post("/events", json=[]), 403, "forbidden")
    assert_error(reader.post("/accounts", json={"name": "x", "roles": ["read"]}), 403, "forbidden")
    assert reader.get("/traces").status_code == 200


def test_disabled_account_and_rotated_secret_lose_access(admin: Api, server: Server) -> None:
    created = admin.post("/accounts", json={"name": "temp", "roles": ["read"]}).json()
    user = Api(server.base, created["client_id"], created["client_secret"])
    assert user.get("/traces").status_code == 200
    rotated = admin.post(f"/accounts/{created['id']}/secret")
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != created["client_secret"]
    assert_error(user.get("/traces"), 401, "unauthenticated")
    user = Api(server.base, created["client_id"], rotated.json()["client_secret"])
    assert admin.delete(f"/accounts/{created['id']}").json()["disabled_at"] is not None
    assert_error(user.get("/traces"), 401, "unauthenticated")
    r = httpx.post(
        f"{server.base}/api/v1/auth/token",
        json={"client_id": created["client_id"], "client_secret": rotated.json()["client_secret"]},
    )
    assert_error(r, 401, "unauthenticated")
    listed = {a["client_id"]: a for a in admin.get("/accounts").json()}
    assert listed[created["client_id"]]["disabled_at"] is not None
    assert "secret" not in str(listed[created["client_id"]]).replace("client_secret", "")


def test_account_input_is_validated(admin: Api) -> None:
    assert_error(admin.post("/accounts", json={"name": "x", "roles": ["root"]}), 422, "unprocessable")
    assert_error(admin.post("/accounts", json={"name": "x", "roles": []}), 422, "unprocessable")
    assert_error(admin.delete("/accounts/does-not-exist"), 404, "not_found")


# -- events ----------------------------------------------------------------------------------


def test_seed_scenario_over_rest_gives_the_seed_picture(admin: Api) -> None:
    trace = key("A")
    send(admin, own_seed(trace))

    detail = admin.get(f"/traces/{trace}").json()
    assert detail["user"] == "demo-user" and detail["status"] == "ended"
    assert detail["summary"] == {
        "files": 3,
        "dropped": 2,
        "unconverted": 0,
        "data": 6,
        "outputs": 1,
        "drop_reasons": {"checksum mismatch (see log)": 1, "header row missing (see log)": 1},
        "user_missing": False,
    }
    graph = admin.get(f"/traces/{trace}/graph").json()
    assert TraceGraph.model_validate(graph).model_dump() == graph  # the route serialises its dict as it is
    assert_seed_graph(graph, trace)


def assert_seed_graph(graph: dict[str, Any], trace: str) -> None:
    """The trace graph of `own_seed(trace)`."""
    nodes = {n["key"].removesuffix(f"-{trace}"): (n["kind"], n["status"]) for n in graph["nodes"]}
    assert nodes == {
        "File1": ("file", "dropped"),
        "File2": ("file", "dropped"),
        "File3": ("file", "converted"),
        "data1": ("data", "converted"),
        "data2": ("data", "converted"),
        "data3": ("data", "converted"),
        "data4": ("data", "converted"),
        "data5": ("data", "converted"),
        "data6": ("data", "converted"),
        "File4": ("file", "written"),
    }
    assert {n["key"] for n in graph["nodes"]} == {f"{k}-{trace}" for k in nodes}
    own = {(e["source"], e["target"], e["op"]) for e in graph["edges"]}
    assert own == {
        (f"File3-{trace}", f"data1-{trace}", "parse"),
        (f"File3-{trace}", f"data2-{trace}", "parse"),
        (f"File3-{trace}", f"data3-{trace}", "parse"),
        (f"data1-{trace}", f"data4-{trace}", "enrich"),
        (f"data2-{trace}", f"data5-{trace}", "aggregate"),
        (f"data5-{trace}", f"File4-{trace}", "write"),
        (f"data3-{trace}", f"data6-{trace}", "normalize"),
    }
    drops = {n["key"]: n["reason"] for n in graph["nodes"] if n["status"] == "dropped"}
    assert drops == {f"File1-{trace}": "header row missing (see log)", f"File2-{trace}": "checksum mismatch (see log)"}


def test_lineage_upstream_downstream_and_depth(admin: Api) -> None:
    trace = key("L")
    send(admin, own_seed(trace))

    def keys(*names: str) -> set[str]:
        return {f"{name}-{trace}" for name in names}

    file3, file4 = f"File3-{trace}", f"File4-{trace}"
    up = admin.get(f"/lineage/{file4}", params={"direction": "upstream"}).json()
    assert {n["key"] for n in up["nodes"]} == keys("File4", "data5", "data2", "File3")
    assert up["truncated"] is False
    one = admin.get(f"/lineage/{file4}", params={"direction": "upstream", "depth": 1}).json()
    assert {n["key"] for n in one["nodes"]} == keys("File4", "data5")
    assert one["edges"] == [{"source": f"data5-{trace}", "target": file4, "op": "write"}]
    assert one["truncated"] is True
    down = admin.get(f"/lineage/{file3}", params={"direction": "downstream"}).json()
    assert {n["key"] for n in down["nodes"]} == keys(
        "File3", "data1", "data2", "data3", "data4", "data5", "data6", "File4"
    )
    both = admin.get(f"/lineage/data2-{trace}", params={"direction": "both", "depth": 1}).json()
    assert {n["key"] for n in both["nodes"]} == keys("data2", "File3", "data5")
    assert_error(admin.get(f"/lineage/{key('nope')}"), 404, "not_found")
    assert_error(admin.get(f"/lineage/{file4}", params={"depth": 51}), 422, "unprocessable")
    assert_error(admin.get(f"/lineage/{file4}", params={"direction": "sideways"}), 422, "unprocessable")


def test_lineage_keeps_every_edge_between_its_nodes_across_kinds(admin: Api) -> None:
    """A file feeding two data sets, one feeding the other, both written to a sink: the walk goes through
    every kind, and every edge it crossed between the nodes it returns is in the answer."""
    trace, a, b, c, d = key("D"), key("file"), key("data"), key("data"), key("sink")
    flows = [
        (a, "file", b, "data"),
        (a, "file", c, "data"),
        (b, "data", c, "data"),
        (b, "data", d, "sink"),
        (c, "data", d, "sink"),
    ]
    events = [{"type": "trace.started", "trace": trace, "user": "u"}] + [
        {
            "type": "flow",
            "trace": trace,
            "op": "step",
            "inputs": [{"kind": sk, "key": s}],
            "outputs": [{"kind": tk, "key": t}],
        }
        for s, sk, t, tk in flows
    ]
    send(admin, events)  # waits for the graph merge (Api.post): the walk reads what was sent
    down = admin.get(f"/lineage/{a}", params={"direction": "downstream", "depth": 2}).json()
    assert {n["key"]: n["kind"] for n in down["nodes"]} == {a: "file", b: "data", c: "data", d: "sink"}
    assert {(e["source"], e["target"]) for e in down["edges"]} == {(s, t) for s, _, t, _ in flows}
    assert down["truncated"] is False
    up = admin.get(f"/lineage/{d}", params={"direction": "upstream", "depth": 1}).json()
    assert {n["key"] for n in up["nodes"]} == {d, b, c}
    assert {(e["source"], e["target"]) for e in up["edges"]} == {(b, d), (c, d)}  # b → c lies beyond depth 1
    assert up["truncated"] is True


def test_resending_a_batch_changes_nothing(admin: Api) -> None:
    trace = key("R")
    events = own_seed(trace)
    send(admin, events)
    before = admin.get(f"/traces/{trace}/graph").json()
    again = admin.post("/events", json=events).json()
    assert again == {"accepted": 0, "duplicates": len(events), "buffered": 0, "rejected": []}
    after = admin.get(f"/traces/{trace}/graph").json()
    assert after.pop("projection")["pending_events"] == before.pop("projection")["pending_events"] == 0
    assert after == before


def test_bad_events_are_rejected_one_by_one(admin: Api) -> None:
    trace = key("B")
    batch = [
        {"type": "trace.started", "trace": trace, "user": "u"},
        {"type": "file.received", "trace": trace},  # no node
        {
            "type": "flow",
            "trace": trace,
            "inputs": [{"kind": "file", "key": f"{trace}-f"}],
            "outputs": [{"kind": "data", "key": f"{trace}-d"}],
        },
        {"type": "teleport", "trace": trace},
        {"type": "log", "node": {"kind": "data", "key": f"{trace}-d"}, "message": "no trace given, node known"},
        {"type": "log", "node": {"kind": "data", "key": f"{trace}-unknown"}, "message": "unknown node"},
    ]
    body = admin.post("/events", json=batch).json()
    assert body["accepted"] == 3
    assert [r["index"] for r in body["rejected"]] == [1, 3, 5]
    assert "node" in body["rejected"][0]["error"] and "unknown node" in body["rejected"][2]["error"]
    node = admin.get(f"/nodes/{trace}-d").json()
    assert node["node"]["trace"] == trace
    assert [log["message"] for log in node["logs"]] == ["no trace given, node known"]


def test_event_bodies_in_every_accepted_shape(admin: Api) -> None:
    trace = key("S")
    e1 = {"type": "log", "trace": trace, "message": "one"}
    e2 = {"type": "log", "trace": trace, "message": "two"}
    assert admin.post("/events", json={"events": [e1]}).json()["accepted"] == 1
    ndjson = "\n".join(httpx.Request("POST", "/", json=e).content.decode() for e in (e1, e2)) + "\n"
    r = admin.post("/events", content=ndjson, headers={"Content-Type": "application/x-ndjson"})
    assert r.json() == {"accepted": 1, "duplicates": 1, "buffered": 0, "rejected": []}
    assert_error(
        admin.post("/events", content=b"{not json", headers={"Content-Type": "application/json"}), 400, "invalid_input"
    )
    # a pretty-printed array with a missing comma is reported as JSON, at its line, not as NDJSON
    typo = b'[\n  {"type": "log", "trace": "t", "message": "a"}\n  {"type": "log", "trace": "t", "message": "b"}\n]'
    r = admin.post("/events", content=typo, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_input")
    assert "not valid JSON" in r.json()["error"]["message"] and "line 3" in r.json()["error"]["message"]
    bad_third = ndjson.encode() + b"{oops\n"
    r = admin.post("/events", content=bad_third, headers={"Content-Type": "application/x-ndjson"})
    assert_error(r, 400, "invalid_input")
    assert r.json()["error"]["details"] == {"line": 3}
    assert_error(admin.post("/events", content=b"", headers={"Content-Type": "application/json"}), 400, "invalid_input")
    assert_error(admin.post("/events", json={"hello": 1}), 400, "invalid_input")
    assert_error(
        admin.post(
            "/events", content=b"[" + b" " * (17 * 1024 * 1024) + b"]", headers={"Content-Type": "application/json"}
        ),
        413,
        "payload_too_large",
    )


def test_node_detail_has_events_and_logs_in_time_order(admin: Api) -> None:
    trace = key("N")
    send(admin, own_seed(trace))
    detail = admin.get(f"/nodes/File1-{trace}").json()
    assert detail["node"]["trace"] == trace and detail["node"]["status"] == "dropped"
    assert detail["node"]["logs"]["warn"] >= 1
    times = [e["time"] for e in detail["events"]]
    assert times == sorted(times)
    assert detail["logs"][0]["message"] == "header row missing; cannot map columns"
    assert detail["logs"][0]["level"] == "warn"
    assert_error(admin.get(f"/nodes/{key('missing-node')}"), 404, "not_found")
    assert_error(admin.get("/nodes/" + "k" * 600), 400, "invalid_input")


def test_traces_list_filters_and_cursor(admin: Api) -> None:
    user = key("user")
    keys = [key("page") for _ in range(5)]
    for i, k in enumerate(keys):
        send(admin, [{"type": "trace.started", "trace": k, "user": user, "time": f"2030-01-0{i + 1}T00:00:00Z"}])
    first = admin.get("/traces", params={"user": user, "limit": 2}).json()
    assert [t["key"] for t in first["items"]] == [keys[4], keys[3]]
    assert first["items"][0]["summary"]["files"] == 0
    second = admin.get("/traces", params={"user": user, "limit": 2, "cursor": first["next_cursor"]}).json()
    third = admin.get("/traces", params={"user": user, "limit": 2, "cursor": second["next_cursor"]}).json()
    assert [t["key"] for t in second["items"] + third["items"]] == [keys[2], keys[1], keys[0]]
    assert third["next_cursor"] is None
    since = admin.get("/traces", params={"user": user, "since": "2030-01-04T00:00:00Z"}).json()
    assert [t["key"] for t in since["items"]] == [keys[4], keys[3]]
    assert_error(admin.get("/traces", params={"cursor": "%%%"}), 400, "invalid_input")
    assert_error(admin.get("/traces", params={"since": "last tuesday"}), 422, "unprocessable")
    assert_error(admin.get(f"/traces/{key('missing')}"), 404, "not_found")


# -- graph query -----------------------------------------------------------------------------


def test_graph_query_reads_and_refuses_writes(admin: Api) -> None:
    trace = key("Q")
    send(admin, own_seed(trace))
    r = admin.post(
        "/graph/query",
        json={"query": "MATCH (t:Trace {key: $k})-[:CONTAINS]->(n:Data) RETURN count(n) AS c", "params": {"k": trace}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["columns"] == ["c"] and r.json()["rows"] == [[6]]
    denied = admin.post("/graph/query", json={"query": f"MATCH (t:Trace {{key: '{trace}'}}) DETACH DELETE t"})
    assert_error(denied, 422, "unprocessable")
    assert admin.get(f"/traces/{trace}").status_code == 200
    assert_error(admin.post("/graph/query", json={"query": "MATCH (n RETURN n"}), 422, "unprocessable")
    assert_error(admin.post("/graph/query", json={"query": "  "}), 400, "invalid_input")


# -- service endpoints -----------------------------------------------------------------------


def test_health_readiness_metrics_and_docs(server: Server, admin: Api) -> None:
    assert httpx.get(f"{server.base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base}/readyz").json()
    projection = ready.pop("projection")
    assert ready == {"status": "ready", "checks": {"sql": "ok", "graph": "ok", "files": "ok"}}
    assert set(projection) == {"pending", "lag_seconds", "projected_through", "queued"}
    metrics = httpx.get(f"{server.base}/metrics").text
    assert "ftel_events_stored_total" in metrics and "ftel_http_requests_total" in metrics
    schema = httpx.get(f"{server.base}/openapi.json").json()
    for path in (
        "/api/v1/auth/token",
        "/api/v1/accounts",
        "/api/v1/events",
        "/api/v1/traces",
        "/api/v1/traces/{key}",
        "/api/v1/traces/{key}/graph",
        "/api/v1/nodes/{key}",
        "/api/v1/lineage/{key}",
        "/api/v1/graph/query",
    ):
        assert path in schema["paths"], path
    assert "Envelope" in schema["components"]["schemas"]
    docs = httpx.get(f"{server.base}/docs")
    assert docs.status_code == 200 and "cdn." not in docs.text  # works without internet
    for asset in re.findall(r'(?:src|href)="(/static-offline-docs/[^"]+)"', docs.text):
        assert httpx.get(f"{server.base}{asset}").status_code == 200, asset
    assert "/static-offline-docs/swagger-ui-bundle.js" in docs.text
    assert_error(httpx.get(f"{server.base}/api/v1/no-such-thing"), 404, "not_found")


@pytest.fixture(params=["embedded+sqlite", "neo4j+postgres"])
def stack(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    """(command, env) for a server of the test's own on each of the `server` fixture's stacks: its own SQL
    database; the Neo4j graph is shared, so the test gives its nodes keys of their own."""
    if request.param == "embedded+sqlite":
        yield "serve", dict(ADMIN)
        return
    admin_url = service_env("FT_TEST_POSTGRES_URL")
    url = create_pg_database(admin_url)
    yield (
        "api",
        {
            **ADMIN,
            "FT_DATABASE_URL": url,
            "FT_GRAPH": "neo4j",
            "FT_NEO4J_URI": service_env("FT_TEST_NEO4J_URI"),
            "FT_NEO4J_USER": os.environ.get("FT_TEST_NEO4J_USER", "neo4j"),
            "FT_NEO4J_PASSWORD": os.environ.get("FT_TEST_NEO4J_PASSWORD", "neo4j"),
        },
    )
    drop_pg_database(admin_url, url)


def test_events_left_unmerged_are_merged_by_the_projectors_catch_up(
    stack: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """Events stored while no merge happens — the merge thread takes none (FT_PROJECTOR_QUEUE_EVENTS=0, as
    when its hand-over is full) and the periodic catch-up does not run within the test (an hour apart) — stay
    in the event log, unmerged; a process started next on the same stores merges them with its catch-up."""
    command, env = stack
    trace = key("P")
    events = own_seed(trace)
    first = Server(
        {**env, "FT_PROJECTOR_QUEUE_EVENTS": "0", "FT_PROJECTOR_INTERVAL_SECONDS": "3600"}, command, tmp_path
    )
    try:
        api = Api(first.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        for event in events:  # many small batches, none waiting for the graph merge
            send(api, [event], params={})
        unmerged = api.get(f"/traces/{trace}/graph")
        assert_error(unmerged, 404, "not_found")
        assert f"has {len(events)} stored events not merged" in unmerged.json()["error"]["message"]
        assert httpx.get(f"{first.base}/readyz").json()["projection"]["pending"] == len(events)
    finally:
        first.stop()

    second = Server(env, command, tmp_path)  # the tests' projector settings: catch-up every 0.2 s, grace 1 s
    try:
        api = Api(second.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])

        def merged() -> dict[str, Any] | None:
            r = api.get(f"/traces/{trace}/graph")
            body: dict[str, Any] = r.json()
            return body if r.status_code == 200 and body["projection"]["pending_events"] == 0 else None

        graph = wait_for(merged, timeout=60)
        assert graph, api.get(f"/traces/{trace}/graph").text
        assert_seed_graph(graph, trace)
        assert api.get(f"/traces/{trace}").json()["summary"]["dropped"] == 2
        assert httpx.get(f"{second.base}/readyz").json()["projection"]["pending"] == 0
    finally:
        second.stop()


def test_the_last_enabled_admin_cannot_be_disabled(tmp_path: Path) -> None:
    """Disabling it would lock everyone out of the API (only `ftel accounts create` on the host would help)."""
    srv = Server(dict(ADMIN), "serve", tmp_path)
    try:
        admin = Api(srv.base, ADMIN["FT_ADMIN_CLIENT_ID"], ADMIN["FT_ADMIN_CLIENT_SECRET"])
        me = next(a for a in admin.get("/accounts").json() if a["client_id"] == ADMIN["FT_ADMIN_CLIENT_ID"])
        assert_error(admin.delete(f"/accounts/{me['id']}"), 409, "conflict")
        assert admin.get("/traces").status_code == 200  # still enabled
        second = admin.post("/accounts", json={"name": "second-admin", "roles": ["admin"]}).json()
        assert_error(admin.delete(f"/accounts/{me['id']}"), 409, "conflict")  # nor itself while another remains
        other = Api(srv.base, second["client_id"], second["client_secret"])
        assert other.delete(f"/accounts/{me['id']}").status_code == 200  # another admin can
        assert_error(other.delete(f"/accounts/{second['id']}"), 409, "conflict")
        assert other.get("/accounts").status_code == 200
    finally:
        srv.stop()
