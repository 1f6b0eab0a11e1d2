"""What every SQL store shares: SQLite pragmas, schema upgrades that take turns, sessions, and the one
translation of driver failures into SqlUnavailable. The engine itself is made by the composition root."""

from __future__ import annotations

import fcntl
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backend.errors import SqlUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"

P = ParamSpec("P")
T = TypeVar("T")


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Run on every new SQLite connection. WAL: readers never block the single writer."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash; only an OS crash may lose the last commits.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # A commit that finds the WAL past this many pages copies it into the database itself, with an fsync, in
    # the committing request: serving processes checkpoint on a thread of their own instead
    # (`checkpoint`), and this larger bound (64 MiB) is only the backstop.
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
    cur.close()


WAL_BACKSTOP_PAGES = 16384


def checkpoint(engine: Engine) -> None:
    """SQLite: copy the write-ahead log into the database without blocking readers or writers (PASSIVE),
    so commits never pay for it. Nothing to do on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return
    with sql_errors(), engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def unavailable_reason(exc: BaseException) -> str:
    """The driver's first line (no SQL text, no parameters)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def sql_errors() -> Iterator[None]:
    """Driver failures that mean "the database is not there" become SqlUnavailable; anything else is a bug
    and propagates as it is."""
    try:
        yield
    except (OperationalError, InterfaceError, PoolTimeout) as exc:
        raise SqlUnavailable(f"SQL database unavailable: {unavailable_reason(exc)}") from exc


def translated(fn: Callable[P, T]) -> Callable[P, T]:
    """sql_errors() around a store method."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with sql_errors():
            return fn(*args, **kwargs)

    return wrapper


def utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


_MIGRATION_LOCK_KEY = 0x66746C6D  # "ftlm": the PostgreSQL advisory lock taken while migrating


@translated
def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; an existing database is migrated in place. Processes
    starting together (`ftel api` and `ftel worker` in compose) take turns: the first migrates, the
    others then find the schema up to date."""
    with _migration_lock(engine):
        command.upgrade(alembic_config(engine), "head")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:  # a session lock on a connection of its own, held around the upgrade
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK_KEY})")
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK_KEY})")
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:  # SQLite: processes on this host share the file
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@translated
def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])


@translated
def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
