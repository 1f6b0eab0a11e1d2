"""Single requests that answered 500 before (issue #11): each now gets a 2xx or a clear 4xx, and the valid
events sent beside a bad one are kept. On both stacks."""

from __future__ import annotations

import io
import tarfile
import uuid
from typing import Any

from tests.conftest import Api


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_events_at_the_calendar_edges_cost_only_themselves(admin: Api) -> None:
    trace = f"edge-{uuid.uuid4().hex[:8]}"
    good = [{"type": "log", "trace": trace, "message": f"kept {n}"} for n in range(3)]
    bad = [
        {"type": "log", "trace": trace, "message": "early", "time": "0001-01-01T00:00:00+01:00"},
        {"type": "log", "trace": trace, "message": "late", "time": "9999-12-31T23:59:59-01:00"},
        {"type": "log", "trace": trace, "message": "deep", "attrs": _nested(254)},
        {"type": "log", "trace": f"{trace}\u202eevil", "message": "bidi"},
    ]
    answer = admin.post("/events", json=[good[0], *bad, good[1], good[2]])
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 3
    assert [r["index"] for r in body["rejected"]] == [1, 2, 3, 4]


def test_a_flow_fanning_out_past_the_edge_cap_is_refused(admin: Api) -> None:
    ins = [{"kind": "data", "key": f"in-{n}"} for n in range(300)]
    outs = [{"kind": "data", "key": f"out-{n}"} for n in range(300)]
    answer = admin.post("/events", json=[{"type": "flow", "trace": "fan", "inputs": ins, "outputs": outs}])
    assert answer.status_code == 202
    ((rejected,),) = [answer.json()["rejected"]]
    assert "300 x 300" in rejected["error"]


def test_filters_cursors_and_dates_at_the_edges(admin: Api) -> None:
    for since in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        assert admin.get("/traces", params={"since": since}).status_code == 200
    assert admin.get("/traces", params={"until": "0"}).status_code == 422  # a number is no RFC 3339 time
    overflow = admin.get("/retention/records", params={"cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk"})
    assert overflow.status_code == 400 and overflow.json()["error"]["message"] == "invalid cursor"
    last_day = admin.get("/files/archive", params={"date": "9999-12-31"})
    assert last_day.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(last_day.content), mode="r:gz") as archive:
        assert archive.getmembers() == []


def test_params_the_graph_cannot_bind_are_a_422(admin: Api) -> None:
    answer = admin.post("/graph/query", json={"query": "RETURN $a AS a", "params": {"a": [1, "x"]}})
    assert answer.status_code == 422, answer.text


def test_a_wrong_method_names_every_method_of_the_path(admin: Api) -> None:
    answer = admin.http.patch("/api/v1/accounts")
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) >= {"GET", "POST"}
