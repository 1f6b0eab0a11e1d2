"""Readiness: every store this process needs answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from backend.errors import FtelError


class Health:
    def __init__(self, checks: Sequence[tuple[str, Callable[[], None]]]) -> None:
        self.checks = list(checks)  # (name, ping): ping raises when the store cannot be reached

    def readiness(self) -> dict[str, str]:
        """ "ok" per store, or the error (kind and message, short)."""
        out: dict[str, str] = {}
        for name, ping in self.checks:
            try:
                ping()
                out[name] = "ok"
            except FtelError as exc:
                out[name] = f"error: {exc.message}"[:200]
            except Exception as exc:  # a driver that failed in a way its adapter did not foresee
                out[name] = f"error: {type(exc).__name__}: {exc}"[:200]
        return out
