"""The user Cypher sandbox (graph/sandbox.py): what it lets through and what it stops, without any engine."""

from __future__ import annotations

import time
from typing import Any

import pytest

from graph.base import QueryRejected
from graph.sandbox import MAX_NESTING, MAX_QUERY_CHARS, check_query

READS = [
    "MATCH (d:Data) RETURN d.key AS key ORDER BY key",
    "MATCH (f:File {key: $k}) RETURN f.status AS s",
    "MATCH (t:Trace {key: $k})-[:CONTAINS]->(n:Data) RETURN count(n) AS c",
    "MATCH (n:File) RETURN n.key AS key, n.status AS status, n.reason AS reason ORDER BY key LIMIT 25",
    "UNWIND range(1, 100000) AS x UNWIND range(1, 100000) AS y WITH x, y WHERE (x + y) % 7 = 3 RETURN count(*)",
    "MATCH (a:File)-[:FLOWS_TO*1..10]->(n:Data {key: $k}) RETURN DISTINCT a.key SKIP 1 LIMIT 5",
    "OPTIONAL MATCH (a)-[e:FLOWS_TO]->(b) WHERE a.key STARTS WITH 'F' AND NOT b.key IN ['x', 'y'] "
    "RETURN a, e, b UNION ALL MATCH (a) RETURN a, null AS e, null AS b",
    "MATCH p = (a)-[*]->(b) RETURN nodes(p), CASE WHEN a.x IS NULL THEN 1 ELSE 2 END, "
    "[x IN range(1, 3) WHERE x > 1 | x * 2], {a: 1, b: 'x'}",
    "MATCH (n) WHERE n.key =~ 'F.*' AND n:File RETURN labels(n), n.first_at < '2026' ORDER BY n.key DESC",
    "MATCH (n) RETURN count(*) // a comment\n;",
    "MATCH (n) RETURN n.key /* note */ AS `odd name`, -1, 1.5e3, [1, 2][0], [1, 2, 3][1..], all(x IN [1] WHERE x > 0)",
    "MATCH (a)<-[:FLOWS_TO]-(b), (c)--(d) RETURN *",
    "MATCH (n:File|Data) WITH n.kind AS k, count(*) AS c ORDER BY c DESC LIMIT 3 RETURN k, c",
    "match (n:File) where n.status <> 'dropped' return toUpper(n.key), size(n.key)",
]


@pytest.mark.parametrize("cypher", READS)
def test_read_queries_pass(cypher: str) -> None:
    check_query(cypher, {"k": "File1"})


@pytest.mark.parametrize(
    ("cypher", "says"),
    [
        # the engine's table functions: file readers, settings, the buffer manager; through CALL or as functions
        (
            "CALL show_tables() WITH name LIMIT 1 CALL read_csv_serial('/etc/hostname') RETURN *",
            "'CALL' is not allowed",
        ),
        ("MATCH (n) WITH n LIMIT 1 CALL read_csv_parallel('/etc/hostname') RETURN *", "'CALL' is not allowed"),
        ("CALL show_tables() RETURN *", "'CALL' is not allowed"),
        ("RETURN read_parquet('/etc/hostname')", "read_parquet() is not allowed"),
        ("RETURN read_npy('/etc/hostname')", "read_npy() is not allowed"),
        ("RETURN current_setting('file_search_path')", "current_setting() is not allowed"),
        ("MATCH (n) RETURN bm_info()", "bm_info() is not allowed"),
        ("RETURN apoc.load.json('file:///etc/passwd')", "namespaced"),
        ("LOAD FROM '/etc/passwd' RETURN *", "'LOAD' is not allowed"),
        ("LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l", "'LOAD' is not allowed"),
        ("COPY File FROM '/tmp/x.csv'", "'COPY' is not allowed"),
        ("EXPLAIN MATCH (n) RETURN n", "'EXPLAIN' is not allowed"),
        # writes
        ("CREATE (n:File {key: 'evil'})", "'CREATE' is not allowed"),
        ("MATCH (n:File {key: 'File1'}) SET n.status = 'ok'", "'SET' is not allowed"),
        ("MATCH (n:File) DETACH DELETE n", "'DETACH' is not allowed"),
        ("match (n:File) merge (n)-[:FLOWS_TO]->(m:Data {key: 'x'})", "'MERGE' is not allowed"),
        ("MATCH (n) RETURN n; MATCH (n) DETACH DELETE n", "only one statement"),
        ("MATCH (n) RETURN n MATCH (m) RETURN m", "RETURN ends a query"),
        # what the engine crashed on, and its cousins
        ("RETURN " + "(" * 3000 + "1" + ")" * 3000, f"more than {MAX_NESTING} levels"),
        ("RETURN " + "[" * 3000 + "1" + "]" * 3000, f"more than {MAX_NESTING} levels"),
        ("RETURN " + "-" * 3000 + "1", f"more than {MAX_NESTING} levels"),
        ("RETURN " + "NOT " * 3000 + "true", f"more than {MAX_NESTING} levels"),
        ("RETURN " + " + ".join(["1"] * 3000), "deeper than"),
        ("RETURN 1 AS x" + " " * MAX_QUERY_CHARS, "longer than"),
        ("MATCH (n RETURN n", "expected ')'"),
        ("RETURN cast(1 AS STRING)", "cast() is not allowed"),
        ("RETURN `read_csv`('x')", "expected a clause"),
    ],
)
def test_anything_else_is_rejected_with_a_reason(cypher: str, says: str) -> None:
    with pytest.raises(QueryRejected) as caught:
        check_query(cypher, {})
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"a": [1, "x"]}, "list mixes number and string"),
        ({"a": [[1], ["x"]]}, "list mixes"),
        ({"a": 2**64}, "64-bit range"),
        ({"a": float("nan")}, "finite"),
        ({"a b": 1}, "not a plain name"),
        ({"a": ["x"] * 20_000}, "more than"),
        ({"a": "x" * 2_000_000}, "more than"),
        ({"a": [[[[[[[[[[1]]]]]]]]]]}, "nested"),
    ],
)
def test_params_must_be_plain(params: dict[str, Any], says: str) -> None:
    with pytest.raises(QueryRejected) as caught:
        check_query("RETURN $a", params)
    assert says in str(caught.value)


def test_plain_params_pass() -> None:
    check_query("RETURN $a, $b, $c, $d", {"a": [1, 2.5, None], "b": {"k": ["x", "y"]}, "c": None, "d": True})


def test_the_longest_query_is_checked_quickly() -> None:
    cypher = "MATCH (n) WHERE n.key IN [" + ",".join(f"'key{i:05}'" for i in range(1800)) + "] RETURN n"
    assert len(cypher) < MAX_QUERY_CHARS
    started = time.perf_counter()
    check_query(cypher, {})
    assert time.perf_counter() - started < 1.0
