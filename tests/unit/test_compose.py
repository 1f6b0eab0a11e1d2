"""docker-compose.yml cannot be run here (no Docker engine); what can be checked without it is checked:
every FT_* variable it sets is a setting, every command it runs is an `ftel` command with those options."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from backend.cli import app
from backend.settings import Settings

COMPOSE = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())


def test_every_ft_variable_in_compose_is_a_setting() -> None:
    names = set(COMPOSE["x-ftel-env"])
    for service in COMPOSE["services"].values():
        names |= {k for k in (service.get("environment") or {}) if isinstance(k, str) and k.startswith("FT_")}
    known = {f"FT_{field.upper()}" for field in Settings.model_fields}
    assert names and names - {"<<"} <= known, sorted(names - {"<<"} - known)


def test_every_compose_command_is_an_ftel_command_with_those_options() -> None:
    runner = CliRunner()
    ours = {name: s for name, s in COMPOSE["services"].items() if s.get("build")}
    assert set(ours) == {"api", "worker", "batch", "dashboard"}
    for name, service in ours.items():
        command = service["command"]
        assert command[0] == "ftel", name
        words = [w for w in command[1:] if not w.startswith("-")]
        result = runner.invoke(app, [words[0], "--help"])
        assert result.exit_code == 0, (name, result.output)
        for option in (w for w in command[1:] if w.startswith("--")):
            assert re.search(rf"(^|\s){re.escape(option)}\b", result.output), (name, option)


def test_services_wait_for_what_they_use_and_restart_on_failure() -> None:
    services = COMPOSE["services"]
    for name in ("api", "worker", "batch"):
        assert {"postgres", "neo4j", "redis"} <= set(services[name]["depends_on"]), name
        assert services[name]["restart"] == "on-failure", name
    assert "-h 127.0.0.1" in services["postgres"]["healthcheck"]["test"][1]  # TCP, not the init-time socket
    assert any(p.startswith("6379:") for p in services["redis"]["ports"])  # apps XADD from outside
    assert "localhost:6379" in COMPOSE["x-ftel-env"]["FT_REDIS_PUBLIC_URL"]
