"""One contract for every ObjectStore (backend/storage/base.py), run on the local directory store and on
the S3 store against two S3-protocol servers on 127.0.0.1: moto's emulator (`s3-moto`) and S3Proxy
(`s3-s3proxy`), an independent implementation (tests/storage_fixtures.py)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator

import pytest

from backend.storage.base import READ_CHUNK, InvalidObjectName, ObjectNotFound, ObjectStore
from tests.storage_fixtures import pseudo_random_chunks, sha256_of


def read_all(store: ObjectStore, name: str) -> bytes:
    return b"".join(store.read(name))


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, file\n", bytes(range(256)) * 33, os.urandom(3 * READ_CHUNK + 17)],
    ids=["empty", "text", "binary", "several-chunks"],
)
def test_put_then_read_gives_the_same_bytes(object_store: ObjectStore, content: bytes) -> None:
    written = object_store.put("a/b/object.bin", [content[i : i + 4096] for i in range(0, len(content), 4096)])
    assert written == len(content)
    assert read_all(object_store, "a/b/object.bin") == content
    info = object_store.stat("a/b/object.bin")
    assert info is not None and info.name == "a/b/object.bin" and info.size == len(content)


def test_large_object_streams_through_multipart_parts_in_bounded_chunks(object_store: ObjectStore) -> None:
    total = 12 * 1024 * 1024 + 5  # over two 5 MiB S3 parts
    expected, _ = sha256_of(pseudo_random_chunks(total, chunk=256 * 1024))
    assert object_store.put("big/object", pseudo_random_chunks(total, chunk=256 * 1024)) == total
    digest, size, largest = hashlib.sha256(), 0, 0
    for chunk in object_store.read("big/object"):
        digest.update(chunk)
        size += len(chunk)
        largest = max(largest, len(chunk))
    assert (digest.hexdigest(), size) == (expected, total)
    assert largest <= READ_CHUNK


def test_an_object_is_visible_to_another_client_once_put_returns(open_object_store: Callable[[], ObjectStore]) -> None:
    writer, reader = open_object_store(), open_object_store()
    writer.put("shared/object", [b"durable ", b"bytes"])
    assert reader.stat("shared/object") == writer.stat("shared/object")
    assert read_all(reader, "shared/object") == b"durable bytes"


def test_put_replaces_an_existing_object(object_store: ObjectStore) -> None:
    object_store.put("x/one", [b"first version, longer"])
    object_store.put("x/one", [b"second"])
    assert read_all(object_store, "x/one") == b"second"
    assert [i.name for i in object_store.list("x/")] == ["x/one"]


def test_failed_put_leaves_nothing_behind(object_store: ObjectStore) -> None:
    class Boom(Exception):
        pass

    def broken(total: int) -> Iterator[bytes]:
        yield from pseudo_random_chunks(total, chunk=1024 * 1024)
        raise Boom("client went away")

    for total in (100, 7 * 1024 * 1024):  # single PUT and multipart on S3
        with pytest.raises(Boom):
            object_store.put(f"partial/{total}", broken(total))
        assert object_store.stat(f"partial/{total}") is None
        with pytest.raises(ObjectNotFound):
            object_store.read(f"partial/{total}")
    assert list(object_store.list()) == []


def test_missing_objects(object_store: ObjectStore) -> None:
    assert object_store.stat("no/such") is None
    with pytest.raises(ObjectNotFound):
        object_store.read("no/such")  # raises before any iteration
    object_store.delete("no/such")  # idempotent


def test_delete_removes_and_is_idempotent(object_store: ObjectStore) -> None:
    object_store.put("d/1", [b"1"])
    object_store.put("d/2", [b"22"])
    object_store.delete("d/1")
    object_store.delete("d/1")
    assert object_store.stat("d/1") is None
    assert [(i.name, i.size) for i in object_store.list()] == [("d/2", 2)]


def test_list_is_by_prefix_in_name_order(object_store: ObjectStore) -> None:
    for name in ("2026/01/02/b.zst", "2026/01/02/a.zst", "2026/01/03/c.gz", "2027/x"):
        object_store.put(name, [name.encode()])
    assert [i.name for i in object_store.list("2026/01/02/")] == ["2026/01/02/a.zst", "2026/01/02/b.zst"]
    assert [i.name for i in object_store.list("2026/")] == ["2026/01/02/a.zst", "2026/01/02/b.zst", "2026/01/03/c.gz"]
    assert [(i.name, i.size) for i in object_store.list()][-1] == ("2027/x", 6)


def test_a_reader_closed_early_releases_the_object(object_store: ObjectStore) -> None:
    object_store.put("early/close", pseudo_random_chunks(3 * READ_CHUNK))
    for _ in range(20):  # would exhaust a connection pool or file handles if reads leaked
        stream = object_store.read("early/close")
        assert len(next(stream)) > 0
        stream.close()  # type: ignore[attr-defined]
    object_store.delete("early/close")
    assert object_store.stat("early/close") is None


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../escape",
        "a/../../etc/passwd",
        "/absolute",
        "a//b",
        "a/",
        "a\\b",
        "a/./b",
        ".hidden",
        "a/\x00b",
        "tab\tname",
        "x" * 1025,
    ],
)
def test_unsafe_names_are_refused_before_touching_storage(object_store: ObjectStore, name: str) -> None:
    with pytest.raises(InvalidObjectName):
        object_store.put(name, [b"x"])
    with pytest.raises(InvalidObjectName):
        object_store.read(name)
    with pytest.raises(InvalidObjectName):
        object_store.delete(name)
    assert list(object_store.list()) == []


def test_ping_answers_when_the_store_is_reachable(object_store: ObjectStore) -> None:
    object_store.ping()
