"""Start-up configuration errors are clear and name the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.settings import ConfigError, Settings, load_settings


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"FT_DATABASE_URL": "mysql://x"}, "FT_DATABASE_URL"),
        ({"FT_DATABASE_URL": "postgresql:///nohost"}, "needs a host"),
        ({"FT_GRAPH": "tinkerpop"}, "FT_GRAPH"),
        ({"FT_PORT": "99999"}, "FT_PORT"),
        ({"FT_REDIS_URL": "http://x"}, "FT_REDIS_URL"),
        ({"FT_NEO4J_URI": "http://x"}, "FT_NEO4J_URI"),
        ({"FT_STORAGE": "s3"}, "FT_S3_ENDPOINT"),
        ({"FT_ADMIN_CLIENT_ID": "only-id"}, "FT_ADMIN_CLIENT_SECRET"),
        ({"FT_GRAPH_BUFFER_MB": "128", "FT_GRAPH_CHECKPOINT_MB": "64"}, "a quarter of FT_GRAPH_BUFFER_MB"),
    ],
)
def test_bad_settings_fail_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], fragment: str
) -> None:
    for name in [k for k in os.environ if k.startswith("FT_") and not k.startswith("FT_TEST_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert fragment in str(err.value)


def test_unwritable_data_dir_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="FT_DATA_DIR"):
        Settings(data_dir=blocker / "sub").ensure_data_dir()


def test_defaults_are_the_all_in_one(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.is_sqlite and s.sqlalchemy_url.endswith("ftel.sqlite3")
    assert (s.host, s.port, s.graph.value, s.embedded_redis_port) == ("127.0.0.1", 8000, "embedded", 6380)
    assert Settings(database_url="postgresql://u:p@h/db").sqlalchemy_url == "postgresql+psycopg://u:p@h/db"
