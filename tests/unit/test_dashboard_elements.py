"""The dashboard's pure parts: API JSON → cytoscape elements (the seed picture, drops, grouped
fan-outs), lineage merging, server-side placement, the API client's errors, URL and time parsing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dashboard.callbacks import parse_time, route
from dashboard.client import ApiClient, AuthExpired, HttpError, Unreachable
from dashboard.elements import (
    EXPAND_ALL,
    group_id,
    incoming_keys,
    lineage_elements,
    merge_lineage,
    more_id,
    node_id,
    reveal,
    trace_elements,
    trace_id,
)
from dashboard.placement import DAGRE_MAX, layered, with_layout


def seed_graph() -> dict[str, Any]:
    """GET /traces/A/graph for the seed scenario (backend/demo.py)."""

    def node(key: str, kind: str, status: str, reason: str | None = None, code: str | None = None) -> dict[str, Any]:
        return {"key": key, "kind": kind, "status": status, "reason": reason, "code": code, "name": None}

    nodes = [
        node("File1", "file", "dropped", "header row missing (see log)", "E_HEADER"),
        node("File2", "file", "dropped", "checksum mismatch (see log)", "E_CHECKSUM"),
        node("File3", "file", "converted"),
        node("File4", "file", "written"),
        *[node(f"data{i}", "data", "converted") for i in range(1, 7)],
    ]
    flows = [
        ("File3", "data1", "parse"),
        ("File3", "data2", "parse"),
        ("File3", "data3", "parse"),
        ("data1", "data4", "enrich"),
        ("data2", "data5", "aggregate"),
        ("data5", "File4", "write"),
        ("data3", "data6", "normalize"),
    ]
    return {"nodes": nodes, "edges": [{"source": s, "target": t, "op": op} for s, t, op in flows]}


TRACE = {"key": "A", "name": "seed scenario: nightly import", "status": "ended", "user": "demo-user"}


def ids(view_or_elements: Any) -> set[str]:
    elements = getattr(view_or_elements, "elements", view_or_elements)
    return {e["data"]["id"] for e in elements if "source" not in e["data"]}


def edges(view: Any) -> set[tuple[str, str, str]]:
    return {(e["data"]["source"], e["data"]["target"], e["data"]["op"]) for e in view.edges()}


def wide(files: int, dropped: set[int] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    nodes = [
        {
            "key": f"f{i}",
            "kind": "file",
            "status": "dropped" if i in dropped else "received",
            "reason": "bad" if i in dropped else None,
        }
        for i in range(files)
    ]
    return {"nodes": nodes, "edges": []}


# -- the seed picture ---------------------------------------------------------------------------


def test_seed_trace_draws_trace_root_every_node_and_a_drop_marker_per_drop() -> None:
    view = trace_elements(TRACE, seed_graph())
    keys = {n["data"]["key"] for n in view.nodes() if n["data"]["kind"] in ("file", "data")}
    assert keys == {"File1", "File2", "File3", "File4", *[f"data{i}" for i in range(1, 7)]}
    assert (view.total, view.shown, view.groups) == (10, 10, [])
    root = view.nodes()[0]["data"]
    assert root["id"] == trace_id("A") and root["label"] == "trace(A)\nseed scenario: nightly import"
    drops = {n["data"]["key"]: n["data"]["label"] for n in view.nodes() if n["data"]["kind"] == "drop"}
    assert drops == {
        "File1": "drop\nheader row missing (see log) [E_HEADER]",
        "File2": "drop\nchecksum mismatch (see log) [E_CHECKSUM]",
    }


def test_trace_root_points_at_the_incoming_nodes_and_flows_keep_their_op() -> None:
    view = trace_elements(TRACE, seed_graph())
    assert incoming_keys(seed_graph()) == ["File1", "File2", "File3"]
    assert {(s, t) for s, t, _ in edges(view) if s == trace_id("A")} == {
        (trace_id("A"), node_id(k)) for k in ("File1", "File2", "File3")
    }
    assert (node_id("data5"), node_id("File4"), "write") in edges(view)
    assert {op for _, _, op in edges(view)} == {"", "parse", "enrich", "aggregate", "write", "normalize"}


def test_status_and_kind_become_classes_for_the_colours() -> None:
    view = trace_elements(TRACE, seed_graph())
    classes = {n["data"]["id"]: n["classes"] for n in view.nodes()}
    assert classes[node_id("File1")] == "file dropped dropped-here"  # an answer without dropped_here: by status
    assert classes[node_id("File4")] == "file written"
    assert classes[node_id("data2")] == "data converted"
    assert classes["x:File1"] == "drop"


def test_empty_trace_is_just_its_root() -> None:
    view = trace_elements({"key": "E"}, {"nodes": [], "edges": []})
    assert ids(view) == {trace_id("E")} and view.total == 0


# -- grouped fan-outs ---------------------------------------------------------------------------


def test_more_than_fifty_children_collapse_into_one_more_node() -> None:
    view = trace_elements({"key": "W"}, wide(60))
    more = [n["data"] for n in view.nodes() if n["data"]["kind"] == "more"]
    assert len(more) == 1 and more[0]["count"] == 10 and more[0]["label"].startswith("+10 more")
    assert more[0]["id"] == more_id(trace_id("W")) and more[0]["group_of"] == trace_id("W")
    assert (view.shown, view.hidden, view.groups) == (50, 10, [trace_id("W")])
    assert node_id("f9") in ids(view) and node_id("f59") not in ids(view)  # natural order: f2 < f10


def test_grouping_keeps_drops_visible_first() -> None:
    view = trace_elements({"key": "W"}, wide(80, dropped={70, 75}))
    assert {node_id("f70"), node_id("f75"), "x:f70", "x:f75"} <= ids(view)
    assert next(n["data"]["label"] for n in view.nodes() if n["data"]["kind"] == "more") == "+30 more\n(30 received)"


def test_expanding_a_group_or_everything_draws_all_children() -> None:
    assert trace_elements({"key": "W"}, wide(60), expanded=[trace_id("W")]).shown == 60
    assert trace_elements({"key": "W"}, wide(60), expanded=[EXPAND_ALL]).groups == []
    assert trace_elements({"key": "W"}, wide(60), limit=100).shown == 60


def test_descendants_of_grouped_children_are_hidden_unless_reached_another_way() -> None:
    graph = wide(55)
    graph["nodes"] += [
        {"key": "d-under-hidden", "kind": "data", "status": "converted"},
        {"key": "shared", "kind": "data", "status": "converted"},
    ]
    graph["edges"] += [
        {"source": "f54", "target": "d-under-hidden", "op": "parse"},
        {"source": "f54", "target": "shared", "op": "parse"},
        {"source": "f1", "target": "shared", "op": "parse"},
    ]
    view = trace_elements({"key": "W"}, graph)
    assert node_id("f54") not in ids(view) and node_id("d-under-hidden") not in ids(view)
    assert node_id("shared") in ids(view) and (node_id("f1"), node_id("shared"), "parse") in edges(view)


def test_cycles_with_no_source_are_drawn_anyway() -> None:
    graph = {
        "nodes": [{"key": "a", "kind": "data"}, {"key": "b", "kind": "data"}],
        "edges": [{"source": "a", "target": "b", "op": "x"}, {"source": "b", "target": "a", "op": "y"}],
    }
    view = trace_elements({"key": "C"}, graph)
    assert {node_id("a"), node_id("b")} <= ids(view) and view.shown == 2


def test_flow_to_a_node_of_another_trace_draws_it_as_external() -> None:
    graph = {
        "nodes": [{"key": "a", "kind": "data", "status": "converted"}],
        "edges": [{"source": "a", "target": "elsewhere", "op": "write"}],
    }
    view = trace_elements({"key": "T"}, graph)
    external = next(n for n in view.nodes() if n["data"]["id"] == node_id("elsewhere"))
    assert external["classes"] == "external" and "(other trace)" in external["data"]["label"]


def test_duplicate_edges_are_drawn_once() -> None:
    graph = seed_graph()
    graph["edges"].append(dict(graph["edges"][0]))
    assert len(trace_elements(TRACE, graph).edges()) == len(trace_elements(TRACE, seed_graph()).edges())


# -- lineage ------------------------------------------------------------------------------------


def test_lineage_marks_its_root_and_merges_expansions() -> None:
    up = {
        "root": "File4",
        "direction": "upstream",
        "truncated": True,
        "nodes": [{"key": "File4", "kind": "file", "status": "written"}, {"key": "data5", "kind": "data"}],
        "edges": [{"source": "data5", "target": "File4", "op": "write"}],
    }
    view = lineage_elements(up)
    assert "root" in next(n["classes"] for n in view.nodes() if n["data"]["key"] == "File4")
    more = {
        "root": "data5",
        "truncated": False,
        "nodes": [{"key": "data5", "kind": "data"}, {"key": "data2", "kind": "data"}],
        "edges": [{"source": "data2", "target": "data5", "op": "aggregate"}],
    }
    merged = merge_lineage(merge_lineage(None, up), more)
    assert lineage_elements(merged).focus == [node_id("File4")]
    assert merged["root"] == "File4" and merged["truncated"] is True
    assert sorted(n["key"] for n in merged["nodes"]) == ["File4", "data2", "data5"]
    assert len(merge_lineage(merged, more)["edges"]) == 2


def test_lineage_puts_each_traces_nodes_in_one_box_named_after_it() -> None:
    lineage = {
        "root": "s3://bucket/in/2026/12/01/orders.csv",
        "nodes": [
            {"key": "s3://bucket/in/2026/12/01/orders.csv", "kind": "file", "status": "stored", "trace": "X"},
            {"key": "orders-rows", "kind": "data", "status": "converted", "trace": "Y"},
            {"key": "orders-out", "kind": "file", "status": "dropped", "trace": "Y", "reason": "bad"},
        ],
        "edges": [
            {"source": "s3://bucket/in/2026/12/01/orders.csv", "target": "orders-rows", "op": "parse"},
            {"source": "orders-rows", "target": "orders-out", "op": "write"},
        ],
    }
    view = lineage_elements(lineage)
    boxes = [n["data"] for n in view.nodes() if n["data"]["kind"] == "group"]
    assert [(b["id"], b["label"]) for b in boxes] == [(group_id("X"), "trace X"), (group_id("Y"), "trace Y")]
    assert boxes[0]["tint"] != boxes[1]["tint"]
    parent = {n["data"]["id"]: n["data"].get("parent") for n in view.nodes()}
    assert parent[node_id("s3://bucket/in/2026/12/01/orders.csv")] == group_id("X")
    assert parent[node_id("orders-rows")] == parent[node_id("orders-out")] == parent["x:orders-out"] == group_id("Y")
    # boxes are not placed: cytoscape sizes them around their children
    _, layout = with_layout(view.elements)
    assert layout["name"] == "dagre"
    assert group_id("X") not in layered(view.elements)


# -- placement ----------------------------------------------------------------------------------


def test_layered_positions_point_every_flow_to_the_right() -> None:
    view = trace_elements(TRACE, seed_graph())
    at = layered(view.elements)
    for s, t, _ in edges(view):
        assert at[s]["x"] < at[t]["x"], (s, t)
    files = [at[node_id(k)] for k in ("File1", "File2", "File3")]
    assert len({p["x"] for p in files}) == 1 and len({p["y"] for p in files}) == 3


def test_small_pictures_use_dagre_and_big_ones_preset_positions() -> None:
    small, layout = with_layout(trace_elements(TRACE, seed_graph()).elements, run=7)
    assert layout["name"] == "dagre" and layout["rankDir"] == "LR" and layout["run"] == 7
    assert all("position" not in e for e in small)
    big_view = trace_elements({"key": "B"}, wide(DAGRE_MAX + 10), expanded=[EXPAND_ALL])
    big, layout = with_layout(big_view.elements)
    assert layout["name"] == "preset"
    assert all("position" in e for e in big if "source" not in e["data"])


def test_every_picture_says_where_to_look_when_it_is_too_big_to_read_fitted() -> None:
    view = trace_elements(TRACE, seed_graph())
    _, layout = with_layout(view.elements, focus=view.focus, select=node_id("File3"))
    opening = layout["ftel"]
    assert opening["focus"] == [node_id("File1"), node_id("File2")]  # this trace's drops, in drawing order
    assert opening["select"] == node_id("File3")
    assert opening["minZoom"] * 12 >= 10.5 and opening["readZoom"] >= opening["minZoom"]
    big = trace_elements({"key": "B"}, wide(DAGRE_MAX + 10), expanded=[EXPAND_ALL])
    _, layout = with_layout(big.elements, focus=big.focus)
    assert layout["fit"] is True and layout["ftel"]["focus"] == [trace_id("B")]  # no drops: the start


# -- drops charged to the trace that reported them ------------------------------------------------


def test_a_node_dropped_by_another_trace_keeps_its_status_but_is_not_this_traces_drop() -> None:
    graph = seed_graph()
    for n in graph["nodes"]:
        n["dropped_here"] = n["key"] == "File1"
        n["drop_reason"] = "header row missing (see log)" if n["key"] == "File1" else None
    view = trace_elements(TRACE, graph)
    by_id = {n["data"]["id"]: n for n in view.nodes()}
    assert "x:File1" in by_id and "x:File2" not in by_id
    assert by_id[node_id("File2")]["classes"] == "file dropped elsewhere"
    assert by_id[node_id("File2")]["data"]["label"].endswith("(dropped by another trace)")
    assert by_id[node_id("File1")]["classes"] == "file dropped dropped-here"
    assert view.focus == [node_id("File1")]


def test_the_drop_marker_gives_this_traces_reason_even_when_the_status_moved_on() -> None:
    graph = {
        "nodes": [
            {
                "key": "f",
                "kind": "file",
                "status": "stored",
                "reason": None,
                "dropped_here": True,
                "drop_reason": "too late",
            }
        ],
        "edges": [],
    }
    marker = next(n["data"] for n in trace_elements({"key": "T"}, graph).nodes() if n["data"]["kind"] == "drop")
    assert marker["label"] == "drop\ntoo late"


def test_a_link_to_a_grouped_away_node_expands_its_fan_out() -> None:
    view, expanded = reveal({"key": "W"}, wide(60), [], "f59")
    assert expanded == [trace_id("W")] and node_id("f59") in ids(view)
    view, expanded = reveal({"key": "W"}, wide(60), [], "f1")
    assert expanded == [] and node_id("f1") in ids(view)


# -- the API client -----------------------------------------------------------------------------


def client_answering(status: int, body: Any) -> ApiClient:
    return ApiClient("http://api.test", transport=httpx.MockTransport(lambda _: httpx.Response(status, json=body)))


def test_expired_token_is_an_auth_error_telling_to_sign_in_again() -> None:
    client = client_answering(401, {"error": {"code": "unauthenticated", "message": "token expired", "details": None}})
    with pytest.raises(AuthExpired) as caught:
        client.trace("tok", "A")
    assert "session has expired" in caught.value.message and "token expired" in caught.value.message


def test_api_errors_keep_the_servers_message() -> None:
    body = {"error": {"code": "unprocessable", "message": "query rejected: read-only queries only", "details": None}}
    with pytest.raises(HttpError) as caught:
        client_answering(422, body).query("tok", "CREATE (n)")
    assert (caught.value.status, caught.value.code) == (422, "unprocessable")
    assert caught.value.message == "query rejected: read-only queries only"


def test_api_down_is_reported_plainly() -> None:
    def refuse(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    client = ApiClient("http://127.0.0.1:9", transport=httpx.MockTransport(refuse))
    with pytest.raises(Unreachable) as caught:
        client.traces("tok")
    assert caught.value.message.startswith("The API at http://127.0.0.1:9 cannot be reached")


def test_keys_are_sent_as_one_path_segment() -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={})

    ApiClient("http://api.test", transport=httpx.MockTransport(record)).node("tok", "dir/file 1.csv")
    assert seen == ["/api/v1/nodes/dir%2Ffile%201.csv"]


# -- routes and times typed by people -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/dashboard/", ("", "")),
        ("/dashboard", ("", "")),
        (None, ("", "")),
        ("/dashboard/traces/A", ("traces", "A")),
        ("/dashboard/traces/dir%2Ffile", ("traces", "dir/file")),
        ("/dashboard/lineage", ("lineage", "")),
        ("/dashboard/query/", ("query", "")),
    ],
)
def test_routes_under_the_mount_prefix(path: str | None, expected: tuple[str, str]) -> None:
    assert route(path, "/dashboard/") == expected


def test_times_without_zone_are_utc_and_nonsense_is_refused() -> None:
    assert parse_time("2026-01-01T09:00", "Since") == "2026-01-01T09:00:00Z"
    assert parse_time("2026-01-01T10:00:00+01:00", "Since") == "2026-01-01T09:00:00Z"
    assert parse_time("  ", "Since") is None
    with pytest.raises(ValueError, match="Until: 'yesterday' is not a time"):
        parse_time("yesterday", "Until")
