"""File storage pieces without services: codecs and the decompression guard, the streaming
multipart reader, tar member names, file keys, the `file.expired` event, settings, gRPC stubs."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zstandard

from backend.api.multipart import MultipartUpload, boundary_of
from backend.domain.events import validate_events
from backend.domain.files import check_file_name
from backend.domain.projection import StoredEvent, project
from backend.errors import InvalidInput, Unprocessable
from backend.settings import Compression, ConfigError, Settings, load_settings
from backend.storage.archive import RECORD, Member, tar_gz, tar_stream
from backend.storage.base import ChunkReader
from backend.storage.codec import DECODE_CHUNK, CorruptObject, Encoder, TooLarge, decode

CODECS = [Compression.zstd, Compression.gzip]


def encode(data: bytes, codec: Compression, piece: int = 100_000) -> tuple[bytes, Encoder]:
    enc = Encoder(codec)
    out = b"".join(enc.encode(data[i : i + piece] for i in range(0, len(data), piece)))
    return out, enc


# -- codecs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    "data", [b"", b"x", b"abc" * 100_000, os.urandom(2_500_000)], ids=["empty", "byte", "text", "random"]
)
def test_encode_then_decode_is_byte_exact(codec: Compression, data: bytes) -> None:
    stored, enc = encode(data, codec)
    assert enc.size == len(data) and enc.sha256 == hashlib.sha256(data).hexdigest()
    chunks = list(decode([stored[i : i + 7777] for i in range(0, len(stored), 7777)], codec.value, len(data)))
    assert b"".join(chunks) == data
    assert all(0 < len(c) <= DECODE_CHUNK for c in chunks)


def test_stored_formats_are_standard_zstd_and_gzip() -> None:
    data = b"standard tools can read the stored objects\n" * 50
    assert zstandard.ZstdDecompressor().decompressobj().decompress(encode(data, Compression.zstd)[0]) == data
    assert gzip.decompress(encode(data, Compression.gzip)[0]) == data


def test_encoder_stops_past_the_size_limit() -> None:
    enc = Encoder(Compression.zstd, limit=1000)
    with pytest.raises(TooLarge):
        for _ in enc.encode([b"a" * 600, b"b" * 600]):
            pass


@pytest.mark.parametrize("codec", CODECS)
def test_a_decompression_bomb_stops_at_the_recorded_size_with_bounded_steps(codec: Compression) -> None:
    bomb, _ = encode(bytes(64 * 1024 * 1024), codec, piece=1024 * 1024)  # 64 MiB of zeros
    assert len(bomb) < 100 * 1024
    produced = []
    with pytest.raises(CorruptObject, match="past its recorded size"):
        for chunk in decode([bomb], codec.value, 3 * DECODE_CHUNK):
            produced.append(len(chunk))
    assert sum(produced) <= 3 * DECODE_CHUNK and max(produced) <= DECODE_CHUNK


@pytest.mark.parametrize("codec", CODECS)
def test_truncated_or_garbage_objects_are_corrupt(codec: Compression) -> None:
    data = os.urandom(300_000)
    stored, _ = encode(data, codec)
    with pytest.raises(CorruptObject):
        b"".join(decode([stored[: len(stored) // 2]], codec.value, len(data)))
    with pytest.raises(CorruptObject):
        b"".join(decode([b"definitely not compressed" * 10], codec.value, 250))
    with pytest.raises(CorruptObject, match="recorded"):  # decodes fine but to fewer bytes than recorded
        b"".join(decode([stored], codec.value, len(data) + 1))


def test_chunk_reader_reads_exact_sizes_across_chunks() -> None:
    reader = ChunkReader(iter([b"ab", b"", b"cdef", b"g"]))
    assert reader.read(3) == b"abc"
    assert reader.read(0) == b""
    assert reader.read(10) == b"defg"
    assert reader.read(1) == b""
    assert ChunkReader(iter([b"12", b"34"])).read() == b"1234"


# -- multipart ---------------------------------------------------------------------------------


def body(parts: list[tuple[str, str | None, bytes]], boundary: str = "BOUNDARY") -> bytes:
    out = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return iter([data[i : i + size] for i in range(0, len(data), size)])


@pytest.mark.parametrize("piece", [1, 7, 64, 100_000])
def test_multipart_streams_the_file_and_keeps_fields_on_both_sides(piece: int) -> None:
    content = bytes(range(256)) * 40 + b"\r\n--BOUNDAR not quite a boundary\r\n"
    raw = body([("trace", None, b"T1"), ("file", "dir\\name.bin", content), ("key", None, "clé".encode())])
    upload = MultipartUpload(pieces(raw, piece), b"BOUNDARY")
    assert upload.fields_before_file().items() >= {"trace": "T1"}.items()  # later ones too if already read
    assert b"".join(upload.file_chunks()) == content
    assert upload.all_fields() == {"trace": "T1", "key": "clé"}
    assert upload.filename == "dir\\name.bin"


def test_multipart_errors_are_client_errors() -> None:
    with pytest.raises(InvalidInput):
        boundary_of("application/json")
    with pytest.raises(InvalidInput):
        boundary_of("multipart/form-data")
    two_files = MultipartUpload(iter([body([("file", "a", b"1"), ("file", "b", b"2")])]), b"BOUNDARY")
    with pytest.raises(InvalidInput, match="one `file`"):
        b"".join(two_files.file_chunks())
        two_files.all_fields()
    no_file = MultipartUpload(iter([body([("trace", None, b"T")])]), b"BOUNDARY")
    with pytest.raises(Unprocessable):
        b"".join(no_file.file_chunks())
    cut = body([("trace", None, b"T"), ("file", "f", b"x" * 1000)])[:-40]
    with pytest.raises(InvalidInput, match="ended before"):
        b"".join(MultipartUpload(iter([cut]), b"BOUNDARY").file_chunks())
    huge_field = MultipartUpload(iter([body([("trace", None, b"t" * 70_000)])]), b"BOUNDARY")
    with pytest.raises(InvalidInput, match="longer than"):
        huge_field.all_fields()
    not_utf8 = MultipartUpload(iter([body([("trace", None, b"\xff\xfe")])]), b"BOUNDARY")
    with pytest.raises(InvalidInput, match="UTF-8"):
        not_utf8.all_fields()


# -- names and archives ------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["File1", "report.2026-11-28.csv", "données.bin", "a b", "x" * 512, ".env"])
def test_good_file_keys(good: str) -> None:
    assert check_file_name(good) == good


@pytest.mark.parametrize(
    "bad", ["", "a/b", "/etc/passwd", "..", ".", "a\\b", "x..y", "../x", "a\x00", "a\nb", "\x7f", "x" * 513]
)
def test_bad_file_keys(bad: str) -> None:
    with pytest.raises(InvalidInput):
        check_file_name(bad)


def test_tar_stream_is_a_standard_archive_with_pax_names() -> None:
    names = ["plain.txt", "ünïcødé-名前.bin", "n" * 300, "empty"]
    contents = [b"hello\n", os.urandom(1000), b"x" * 513, b""]
    members = [
        Member(n, len(c), datetime(2026, 11, 28, tzinfo=UTC), lambda c=c: iter([c]))
        for n, c in zip(names, contents, strict=True)
    ]  # type: ignore[misc]
    raw = b"".join(tar_stream(members))
    assert len(raw) % RECORD == 0
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
        assert all(m.isreg() and m.mode == 0o644 for m in tar.getmembers())
    assert got == dict(zip(names, contents, strict=True))
    gz = b"".join(tar_gz(members))
    with tarfile.open(fileobj=io.BytesIO(gz), mode="r:gz") as tar:
        assert tar.getnames() == names


def test_incompressible_members_go_into_stored_gzip_members_that_standard_tools_read(tmp_path: Path) -> None:
    noise, text = os.urandom(300_000), b"row,value\n" * 30_000
    members = [
        Member(name, len(c), datetime(2026, 11, 28, tzinfo=UTC), lambda c=c: iter([c]), compressible=flag)  # type: ignore[misc]
        for name, c, flag in (
            ("a.csv", text, True),
            ("b.bin", noise, False),
            ("c.bin", noise, False),
            ("d.csv", text, True),
        )
    ]
    gz = b"".join(tar_gz(members))
    assert len(gz) < 2 * len(noise) + len(text) // 5  # text compressed, noise stored (a few bytes of framing)
    (tmp_path / "x.tar.gz").write_bytes(gz)
    listed = subprocess.run(["tar", "-tzf", str(tmp_path / "x.tar.gz")], capture_output=True, text=True, check=True)
    assert listed.stdout.split() == ["a.csv", "b.bin", "c.bin", "d.csv"]
    assert subprocess.run(["gzip", "-t", str(tmp_path / "x.tar.gz")]).returncode == 0
    with tarfile.open(fileobj=io.BytesIO(gz), mode="r:gz") as tar:
        assert tar.extractfile("c.bin").read() == noise and tar.extractfile("d.csv").read() == text  # type: ignore[union-attr]


def test_a_member_of_the_wrong_size_stops_the_archive() -> None:
    short = Member("short", 10, datetime.now(UTC), lambda: iter([b"12345"]))
    with pytest.raises(ValueError, match="5 bytes, 10 recorded"):
        b"".join(tar_stream([short]))
    long = Member("long", 2, datetime.now(UTC), lambda: iter([b"12345"]))
    with pytest.raises(ValueError, match="longer"):
        b"".join(tar_stream([long]))


# -- events, settings, stubs -------------------------------------------------------------------


EXPIRED = {"type": "file.expired", "trace": "T", "node": {"kind": "file", "key": "F"}, "reason": "retention: max_age"}


def test_file_expired_is_accepted_only_from_service_channels() -> None:
    now = datetime.now(UTC)
    accepted, rejected = validate_events([EXPIRED], "rest:someone", now)
    assert not accepted and "service only" in rejected[0].error
    accepted, rejected = validate_events([EXPIRED], "service:files", now)
    assert len(accepted) == 1 and not rejected


def test_file_expired_projects_to_status_expired_over_stored() -> None:
    accepted, _ = validate_events(
        [{"type": "file.stored", "trace": "T", "node": {"kind": "file", "key": "F"}}, EXPIRED],
        "service:files",
        datetime.now(UTC),
    )
    events = [StoredEvent(i, ev.envelope, "T", f"2026-11-28T00:00:0{i}.000000Z") for i, ev in enumerate(accepted)]
    for order in (events, events[::-1]):
        (node,) = project(order).batch.nodes
        assert (node.key, node.status) == ("F", "expired")


def test_file_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.files_dir == tmp_path / "files" and s.compression is Compression.zstd and s.grpc_port == 0
    assert s.retention_max_bytes == s.retention_max_files == 0 and s.retention_max_age_days == 0
    for name in [k for k in os.environ if k.startswith("FT_") and not k.startswith("FT_TEST_")]:
        monkeypatch.delenv(name)
    for env, fragment in (
        ({"FT_COMPRESSION": "brotli"}, "FT_COMPRESSION"),
        ({"FT_MAX_UPLOAD_BYTES": "0"}, "FT_MAX_UPLOAD_BYTES"),
        ({"FT_RETENTION_MAX_FILES": "-1"}, "FT_RETENTION_MAX_FILES"),
        ({"FT_COMPRESSION": "gzip", "FT_COMPRESSION_LEVEL": "12"}, "1..9"),
    ):
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            with pytest.raises(ConfigError, match=fragment):
                load_settings()


def test_committed_grpc_stubs_match_the_proto(tmp_path: Path) -> None:
    from backend.grpc import generate

    for path in generate.generate(tmp_path):
        committed = generate.OUT / path.name
        assert committed.read_text() == path.read_text(), f"{committed} is stale: run `python -m backend.grpc.generate`"
