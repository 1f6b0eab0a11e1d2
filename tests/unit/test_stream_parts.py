"""Pure parts of stream ingestion: entry decoding, endpoints handed to subscribers, cron schedules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.domain.subscriptions import endpoint
from backend.settings import ConfigError, Settings, load_settings
from backend.streams.base import decode_kafka_value, decode_redis_fields
from backend.streams.redis import next_id
from backend.worker.main import schedule

ROOT = Path(__file__).resolve().parents[2]


def test_redis_entries_hold_one_event_or_an_array() -> None:
    assert decode_redis_fields({"event": '{"type": "log"}'}) == ([{"type": "log"}], None)
    assert decode_redis_fields({"events": '[{"a": 1}, {"b": 2}]'}) == ([{"a": 1}, {"b": 2}], None)
    for fields, reason in [
        ({"event": "{nope"}, "not JSON"),
        ({"events": '{"a": 1}'}, "JSON array"),
        ({"payload": "{}"}, "neither"),
        ({}, "empty"),
        (None, "empty"),
    ]:
        events, error = decode_redis_fields(fields)
        assert events is None and reason in (error or "")


def test_kafka_values_hold_an_event_an_array_or_an_envelope() -> None:
    assert decode_kafka_value(b'{"type": "log"}') == ([{"type": "log"}], None)
    assert decode_kafka_value(b'[{"a": 1}]') == ([{"a": 1}], None)
    assert decode_kafka_value(b'{"events": [{"a": 1}]}') == ([{"a": 1}], None)
    assert decode_kafka_value(b"\x00garbage")[0] is None
    assert decode_kafka_value(None) == (None, "message has no value")


def test_subscribers_never_get_the_servers_redis_password() -> None:
    settings = Settings(redis_url="redis://worker:s3cret@redis.internal:6379/2", kafka_bootstrap="k1:9092,k2:9092")
    assert endpoint(settings, settings.redis_url, "redis").url == "redis://worker@redis.internal:6379/2"
    public = settings.model_copy(update={"redis_public_url": "rediss://streams.example.com:6380/0"})
    assert endpoint(public, settings.redis_url, "redis").url == "rediss://streams.example.com:6380/0"
    kafka = endpoint(settings, None, "kafka")
    assert (kafka.url, kafka.topic) == ("k1:9092,k2:9092", "ftel.events")


def test_cron_schedules_and_their_limits() -> None:
    assert schedule(15) == {"second": {0, 15, 30, 45}}
    assert schedule(120) == {"minute": set(range(0, 60, 2)), "second": 0}
    assert schedule(7200)["hour"] == set(range(0, 24, 2))
    with pytest.raises(ConfigError, match="FT_STREAM_RECONCILE_SECONDS"):
        load_settings(stream_reconcile_seconds=90)


def test_next_entry_id() -> None:
    assert next_id("1700-5") == "1700-6" and next_id("1700") == "1700-1"


def test_worker_needs_a_redis_url_and_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FT_")}
    env["FT_DATA_DIR"] = str(tmp_path)
    for args, code, text in ((["worker", "--help"], 0, "consumer group"), (["worker"], 2, "FT_REDIS_URL is required")):
        result = subprocess.run(
            [sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == code, result.stderr
        assert text in " ".join((result.stdout + result.stderr).split())
