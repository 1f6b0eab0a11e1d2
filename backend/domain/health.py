"""Readiness: every store this process needs answers; and how far the graph is behind the event log."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from backend.errors import FtelError, Unavailable


class Health:
    def __init__(
        self, checks: Sequence[tuple[str, Callable[[], None]]], projection: Callable[[], Any] | None = None
    ) -> None:
        self.checks = list(checks)  # (name, ping): ping raises when the store cannot be reached
        self._projection = projection  # () -> ProjectionState (backend.domain.projector)

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

    def projection(self) -> dict[str, Any] | None:
        """The graph's lag behind the log ({pending, lag_seconds, projected_through, queued}); None when this
        process does not merge or the log cannot say."""
        if self._projection is None:
            return None
        try:
            state = self._projection()
        except Unavailable:
            return None
        out: dict[str, Any] = state.as_json()
        return out
