"""What a person debugging a pipeline needs from the API (#19), over real HTTP on both stacks: keys that are
S3-style paths open on every read route (sent with '/' as is or as %2F), one prefix search for any key,
drops charged to the trace that reported them, a trace's own log messages, and sessions that last."""

from __future__ import annotations

import io
import tarfile
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.api.test_api import assert_error, send
from tests.conftest import ADMIN, Api, Server


def unique() -> str:
    return uuid.uuid4().hex[:8]


def encoded(key: str) -> str:
    return quote(key, safe="")


def literal(key: str) -> str:
    """The key in a path with its '/' as they are (other characters percent-encoded)."""
    return quote(key, safe="/:")


def pipeline(run: str) -> tuple[str, dict[str, str], list[dict[str, Any]]]:
    """A trace whose key and node keys are paths: slashes, '//', spaces, unicode, '%', a key ending in /graph."""
    trace = f"pipelines/daily orders/{run}"
    keys = {
        "in": f"s3://bucket/in/2026/12/01/orders-{run}.csv",
        "odd": f"landing/ünï {run}/100% done.csv",
        "rows": f"rows/{run}/graph",  # a data key ending like the trace-graph route
        "out": f"s3://bucket/out/{run}/summary.parquet",
    }
    events = [
        {"type": "trace.started", "trace": trace, "user": "debugger", "attrs": {"name": "orders"}},
        {"type": "file.received", "trace": trace, "node": {"kind": "file", "key": keys["in"]}},
        {"type": "file.received", "trace": trace, "node": {"kind": "file", "key": keys["odd"]}},
        {
            "type": "flow",
            "trace": trace,
            "op": "parse",
            "inputs": [{"kind": "file", "key": keys["in"]}],
            "outputs": [{"kind": "data", "key": keys["rows"]}],
        },
        {
            "type": "flow",
            "trace": trace,
            "op": "write",
            "inputs": [{"kind": "data", "key": keys["rows"]}],
            "outputs": [{"kind": "file", "key": keys["out"]}],
        },
    ]
    return trace, keys, events


@pytest.mark.parametrize("form", [encoded, literal], ids=["percent-encoded", "literal-slashes"])
def test_keys_that_are_paths_open_on_every_read_route(admin: Api, form: Any) -> None:
    trace, keys, events = pipeline(unique())
    send(admin, events)
    detail = admin.get(f"/traces/{form(trace)}")
    assert detail.status_code == 200, detail.text
    assert detail.json()["key"] == trace
    graph = admin.get(f"/traces/{form(trace)}/graph")
    assert graph.status_code == 200, graph.text
    assert {n["key"] for n in graph.json()["nodes"]} == set(keys.values())
    for key in keys.values():
        node = admin.get(f"/nodes/{form(key)}")
        assert node.status_code == 200, (key, node.text)
        assert (node.json()["node"]["key"], node.json()["node"]["trace"]) == (key, trace)
    up = admin.get(f"/lineage/{form(keys['out'])}", params={"direction": "upstream", "depth": 5})
    assert up.status_code == 200, up.text
    assert {n["key"] for n in up.json()["nodes"]} == {keys["out"], keys["rows"], keys["in"]}
    down = admin.get(f"/lineage/{form(keys['rows'])}", params={"direction": "downstream"})
    assert {(e["source"], e["target"]) for e in down.json()["edges"]} == {(keys["rows"], keys["out"])}


def test_a_trace_whose_key_ends_in_graph_is_told_apart_from_its_graph(admin: Api) -> None:
    """The router sees decoded paths: `/traces/etl%2Fgraph` and `/traces/etl/graph` look alike to it. The raw
    path tells the trace `etl/graph` from the graph of the trace `etl`."""
    run = unique()
    parent, child = f"etl-{run}", f"etl-{run}/graph"
    send(
        admin,
        [
            {"type": "trace.started", "trace": parent, "user": "u"},
            {"type": "file.received", "trace": parent, "node": {"kind": "file", "key": f"p-{run}"}},
            {"type": "trace.started", "trace": child, "user": "u"},
        ],
    )
    of_parent = admin.get(f"/traces/{encoded(parent)}/graph")
    assert [n["key"] for n in of_parent.json()["nodes"]] == [f"p-{run}"]
    itself = admin.get(f"/traces/{encoded(child)}")
    assert itself.status_code == 200 and itself.json()["key"] == child, itself.text
    its_graph = admin.get(f"/traces/{encoded(child)}/graph")
    assert its_graph.status_code == 200 and its_graph.json()["nodes"] == [], its_graph.text


def test_unknown_keys_name_themselves_in_the_404(admin: Api) -> None:
    key = f"s3://bucket/missing/{unique()}.csv"
    for path in (f"/nodes/{encoded(key)}", f"/lineage/{literal(key)}", f"/traces/{encoded(key)}"):
        missing = admin.get(path)
        assert_error(missing, 404, "not_found")
        assert key in missing.json()["error"]["message"]


def upload(api: Api, key: str, data: bytes, trace: str = "files-trace") -> httpx.Response:
    return api.post("/files", data={"trace": trace, "key": key}, files={"file": ("orders.csv", data)})


def test_stored_files_may_have_path_keys(admin: Api) -> None:
    run = unique()
    key = f"landing/partner-a/{run}/orders 100%.csv"
    stored = upload(admin, key, b"id,total\n1,10\n")
    assert stored.status_code == 201, stored.text
    assert stored.json()["key"] == key
    for form in (encoded, literal):
        meta = admin.get(f"/files/{form(key)}")
        assert meta.status_code == 200 and meta.json()["key"] == key, meta.text
        content = admin.get(f"/files/{form(key)}/content")
        assert content.status_code == 200 and content.content == b"id,total\n1,10\n"
    # the file `…/content` itself, asked for with its last '/' encoded
    tail = f"landing/{run}/content"
    assert upload(admin, tail, b"x").status_code == 201
    meta = admin.get(f"/files/landing/{run}%2Fcontent")
    assert meta.status_code == 200 and meta.json()["key"] == tail, meta.text
    day = meta.json()["stored_at"][:10]
    archive = admin.get("/files/archive", params={"date": day})
    names = tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz").getnames()
    assert key in names and tail in names


@pytest.mark.parametrize(
    "key",
    ["/abs/orders.csv", "landing/../etc/passwd", "landing/./x.csv", "..", "a\\b.csv", "groups/g/archive", "archive"],
)
def test_file_keys_that_would_escape_an_archive_or_shadow_a_route_are_refused(admin: Api, key: str) -> None:
    refused = upload(admin, key, b"x")
    assert_error(refused, 400, "invalid_input")


def test_search_finds_traces_and_nodes_by_the_start_of_their_key(admin: Api) -> None:
    run = unique()
    trace, keys, events = pipeline(run)
    send(admin, events)
    found = admin.get("/search", params={"q": f"s3://bucket/in/2026/12/01/orders-{run}"})
    assert found.status_code == 200, found.text
    assert found.json() == {"items": [{"key": keys["in"], "kind": "file"}]}
    both = admin.get("/search", params={"q": "pipelines/daily orders/" + run}).json()["items"]
    assert both == [{"key": trace, "kind": "trace"}]
    assert admin.get("/search", params={"q": f"rows/{run}/"}).json()["items"] == [{"key": keys["rows"], "kind": "data"}]
    assert admin.get("/search", params={"q": f"landing/ünï {run}/100%"}).json()["items"] == [
        {"key": keys["odd"], "kind": "file"}
    ]
    capped = admin.get("/search", params={"q": "s3://bucket/", "limit": 1}).json()["items"]
    assert len(capped) == 1
    assert admin.get("/search", params={"q": "s3://bucket/", "limit": 0}).status_code == 422
    assert admin.get("/search").status_code == 422
    assert_error(admin.get("/search", params={"q": "bad\u202ekey"}), 400, "invalid_input")


def test_a_drop_belongs_to_the_trace_that_reported_it(admin: Api) -> None:
    """Trace X writes a file; trace Y reads it and drops it. The node is `dropped` everywhere, but the drop,
    its reason and the has_drops filter are Y's; X's summary counts no drop."""
    run = unique()
    x, y, key = f"writer-{run}", f"reader-{run}", f"s3://bucket/handoff/{run}.csv"
    send(
        admin,
        [
            {"type": "trace.started", "trace": x, "user": f"team-x-{run}"},
            {
                "type": "flow",
                "trace": x,
                "op": "write",
                "inputs": [{"kind": "data", "key": f"rows-{run}"}],
                "outputs": [{"kind": "file", "key": key}],
            },
            {"type": "trace.ended", "trace": x},
            {"type": "trace.started", "trace": y, "user": f"team-y-{run}"},
            {
                "type": "file.dropped",
                "trace": y,
                "node": {"kind": "file", "key": key},
                "reason": "schema validation failed",
            },
        ],
    )
    of_x, of_y = admin.get(f"/traces/{x}").json(), admin.get(f"/traces/{y}").json()
    assert (of_x["summary"]["dropped"], of_x["summary"]["drop_reasons"], of_x["has_drops"]) == (0, {}, False)
    assert (of_y["summary"]["dropped"], of_y["summary"]["drop_reasons"], of_y["has_drops"]) == (
        1,
        {"schema validation failed": 1},
        True,
    )
    node_in_x = {n["key"]: n for n in admin.get(f"/traces/{x}/graph").json()["nodes"]}[key]
    node_in_y = {n["key"]: n for n in admin.get(f"/traces/{y}/graph").json()["nodes"]}[key]
    assert (node_in_x["status"], node_in_x["dropped_here"], node_in_x["drop_reason"]) == ("dropped", False, None)
    assert (node_in_y["dropped_here"], node_in_y["drop_reason"]) == (True, "schema validation failed")
    dropping = admin.get("/traces", params={"q": run, "has_drops": "true"}).json()
    assert ([t["key"] for t in dropping["items"]], dropping["total"]) == ([y], 1)
    clean = admin.get("/traces", params={"q": run, "has_drops": "false"}).json()
    assert ([t["key"] for t in clean["items"]], clean["total"]) == ([x], 1)


def test_the_list_counts_every_matching_trace_over_its_pages(admin: Api) -> None:
    run = unique()
    send(admin, [{"type": "trace.started", "trace": f"counted-{run}-{i}", "user": "u"} for i in range(5)])
    first = admin.get("/traces", params={"q": f"counted-{run}", "limit": 2}).json()
    assert (len(first["items"]), first["total"]) == (2, 5)
    second = admin.get("/traces", params={"q": f"counted-{run}", "limit": 2, "cursor": first["next_cursor"]}).json()
    assert (len(second["items"]), second["total"]) == (2, 5)


def test_a_trace_shows_its_own_log_messages(admin: Api) -> None:
    trace = f"logged-{unique()}"
    send(
        admin,
        [
            {"type": "trace.started", "trace": trace, "user": "u"},
            {
                "type": "log",
                "trace": trace,
                "level": "warn",
                "message": "partner feed late",
                "time": "2026-12-01T00:00:01Z",
            },
            {"type": "log", "trace": trace, "level": "info", "message": "run started", "time": "2026-12-01T00:00:00Z"},
            {"type": "log", "trace": trace, "node": {"kind": "file", "key": f"{trace}-f"}, "message": "about the file"},
        ],
    )
    detail = admin.get(f"/traces/{trace}").json()
    assert [(m["level"], m["message"]) for m in detail["log_messages"]] == [
        ("info", "run started"),
        ("warn", "partner feed late"),
    ]
    listed = admin.get("/traces", params={"q": trace}).json()["items"]
    assert listed[0].get("log_messages") is None  # only on the trace's own page


def sign_in(server: Server, **extra: Any) -> httpx.Response:
    body = {"client_id": ADMIN["FT_ADMIN_CLIENT_ID"], "client_secret": ADMIN["FT_ADMIN_CLIENT_SECRET"], **extra}
    return httpx.post(f"{server.base}/api/v1/auth/token", json=body)


def test_a_session_renews_its_access_token_until_revoked(server: Server, admin: Api) -> None:
    plain = sign_in(server).json()
    assert plain.get("refresh_token") is None
    session = sign_in(server, refresh=True).json()
    assert session["refresh_token"] and 9 * 3600 < session["refresh_expires_in"] <= 10 * 3600
    renewed = httpx.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert renewed.status_code == 200, renewed.text
    body = renewed.json()
    assert (
        body["access_token"] and body["refresh_token"] and body["refresh_expires_in"] <= session["refresh_expires_in"]
    )
    works = httpx.get(f"{server.base}/api/v1/traces", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert works.status_code == 200
    # each token only for its own use
    as_bearer = httpx.get(
        f"{server.base}/api/v1/traces", headers={"Authorization": f"Bearer {session['refresh_token']}"}
    )
    assert_error(as_bearer, 401, "unauthenticated")
    access_as_refresh = httpx.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": plain["access_token"]})
    assert_error(access_as_refresh, 401, "unauthenticated")
    assert httpx.post(f"{server.base}/api/v1/auth/refresh", json={}).status_code == 422
    assert_error(sign_in(server, refresh="yes"), 400, "invalid_input")
    # rotating the secret ends the session
    viewer = admin.post("/accounts", json={"name": "viewer", "kind": "human", "roles": ["read"]}).json()
    opened = httpx.post(
        f"{server.base}/api/v1/auth/token",
        json={"client_id": viewer["client_id"], "client_secret": viewer["client_secret"], "refresh": True},
    ).json()
    assert admin.post(f"/accounts/{viewer['id']}/secret").status_code == 200
    ended = httpx.post(f"{server.base}/api/v1/auth/refresh", json={"refresh_token": opened["refresh_token"]})
    assert_error(ended, 401, "unauthenticated")
