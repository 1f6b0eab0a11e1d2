"""The disk spool: fsynced append-only segments, a CRC per record, damaged tails reported not fatal."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from backend.bootstrap import Role, build
from backend.park import spool as spool_module
from backend.park.spool import HEADER, Spool, read_segment
from backend.settings import Settings


def _spool_with(tmp_path: Path, payloads: list[bytes]) -> tuple[Spool, Path]:
    spool = Spool(tmp_path / "spool")
    for payload in payloads:
        spool.append(payload)
    spool.seal()
    [segment] = spool.segments()
    return spool, segment


def test_records_come_back_in_order_after_seal(tmp_path: Path) -> None:
    spool, _ = _spool_with(tmp_path, [b"one", b"two", b"three"])
    [(path, records)] = list(spool.records())
    assert records == [b"one", b"two", b"three"]
    spool.discard(path)
    assert spool.segments() == []


def test_truncated_last_record_keeps_every_intact_record(tmp_path: Path) -> None:
    _, segment = _spool_with(tmp_path, [b"a" * 100, b"b" * 100, b"c" * 100])
    data = segment.read_bytes()
    segment.write_bytes(data[:-40])  # a torn write: the last payload is cut short
    read = read_segment(segment)
    assert read.records == [b"a" * 100, b"b" * 100]
    assert read.problem is not None and "truncated payload" in read.problem
    assert read.bad_offset == 2 * (HEADER.size + 100)


def test_truncated_header_is_reported(tmp_path: Path) -> None:
    _, segment = _spool_with(tmp_path, [b"x" * 10])
    with segment.open("ab") as f:
        f.write(b"FTS")
    read = read_segment(segment)
    assert read.records == [b"x" * 10] and read.problem is not None and "truncated header" in read.problem


def test_corrupted_last_record_fails_its_checksum_and_is_set_aside(tmp_path: Path) -> None:
    spool, segment = _spool_with(tmp_path, [b"first", b"second", b"third"])
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    [(path, records)] = list(spool.records())
    assert records == [b"first", b"second"]
    assert spool.bad_records == [(segment.name, 2 * HEADER.size + len(b"first") + len(b"second"), "checksum mismatch")]
    spool.discard(path)
    assert not segment.exists() and segment.with_suffix(".bad").exists()


def test_bad_header_magic_stops_reading(tmp_path: Path) -> None:
    _, segment = _spool_with(tmp_path, [b"ok"])
    with segment.open("ab") as f:
        f.write(struct.pack(">4sII", b"JUNK", 2, 0) + b"no")
    read = read_segment(segment)
    assert read.records == [b"ok"] and read.problem == "bad record header"


def test_appends_after_seal_go_to_a_new_segment_and_survive_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(b"before")
    spool.seal()
    spool.append(b"after")
    spool.close()
    reopened = Spool(tmp_path / "spool")
    assert [p.name for p in reopened.segments()] == ["seg-00000001.log", "seg-00000002.log"]
    assert [records for _, records in reopened.records()] == [[b"before"], [b"after"]]


def test_segments_rotate_at_their_size_limit(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", segment_bytes=4096)
    for _ in range(10):
        spool.append(b"z" * 1000)
    spool.seal()
    assert len(spool.segments()) == 2  # a segment closes once it reaches 4096 bytes: 5 records of 1012
    assert sum(len(records) for _, records in spool.records()) == 10


def test_a_parked_batch_is_fsynced_before_the_pipeline_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What POST /events answers 202 "buffered" for is on disk: when `Ingest.admit` returns (the route answers
    from its result), every byte of every spool segment has been through fsync."""
    synced: dict[str, int] = {}  # segment path → its size at its last fsync
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        real_fsync(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if "/spool/" in path:
            synced[path] = os.fstat(fd).st_size

    monkeypatch.setattr(spool_module.os, "fsync", recording_fsync)
    settings = Settings(data_dir=tmp_path, flow_events_per_second=1, flow_burst_seconds=1)
    process = build(settings, Role.api)  # no FT_REDIS_URL: parked events go to the disk spool
    try:
        events = [
            {"type": "file.received", "trace": "T", "user": "u", "node": {"kind": "file", "key": f"f{n}"}}
            for n in range(50)
        ]
        for _ in range(3):
            result = process.ingest.admit(events, "rest:test", None)
            assert result.buffered > 0 and result.accepted + result.duplicates + result.buffered == len(events)
            segments = sorted((tmp_path / "spool").glob("seg-*.log"))
            assert segments, "nothing was parked on the spool"
            for segment in segments:
                assert synced.get(str(segment)) == segment.stat().st_size, f"{segment.name} has bytes never fsynced"
    finally:
        process.close()
