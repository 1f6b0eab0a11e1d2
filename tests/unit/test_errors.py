"""One error tree, answered by base class: every error of backend/errors.py (and a subclass made up here)
gets its family's HTTP status and gRPC code, never a 500 or INTERNAL unless it is one."""

from __future__ import annotations

import inspect

import grpc
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend import errors
from backend.api.errors import install
from backend.grpc.server import status_of

TREE = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.FtelError)]


class BrandNew(errors.NotFound):
    """What a future adapter might add: it must answer like its base."""


def test_every_error_of_the_tree_answers_its_familys_http_status() -> None:
    app = FastAPI()
    install(app)
    for cls in [*TREE, BrandNew]:
        app.add_api_route(f"/{cls.__name__}", lambda cls=cls: (_ for _ in ()).throw(cls("boom", {"k": 1})))
    client = TestClient(app, raise_server_exceptions=False)
    for cls in [*TREE, BrandNew]:
        answer = client.get(f"/{cls.__name__}")
        assert answer.status_code == cls.status, cls
        assert answer.json()["error"] == {"code": cls.code, "message": "boom", "details": {"k": 1}}
    assert client.get("/SqlUnavailable").status_code == 503 and client.get("/QueryTimeout").status_code == 422
    assert client.get("/BrandNew").status_code == 404


def test_grpc_answers_by_the_nearest_mapped_ancestor() -> None:
    for cls in [*TREE, BrandNew]:
        code = status_of(cls("x"))
        assert (code is grpc.StatusCode.INTERNAL) == (cls.status == 500), cls
    assert status_of(BrandNew("x")) is grpc.StatusCode.NOT_FOUND
    assert status_of(errors.RedisUnavailable("x")) is grpc.StatusCode.UNAVAILABLE
    assert status_of(errors.QueryRejected("x")) is grpc.StatusCode.INVALID_ARGUMENT
