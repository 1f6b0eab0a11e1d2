"""Structured logs: key=value lines for people, JSON lines with FT_LOG_JSON=true."""

from __future__ import annotations

import logging
from typing import Any

import structlog
from structlog.typing import EventDict


def _drop_color_message(_: Any, __: str, event: EventDict) -> EventDict:
    """uvicorn passes an ANSI-coloured copy of each message as an extra; the message itself is enough."""
    event.pop("color_message", None)
    return event


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    # plain tracebacks: the default rich ones print every frame's local variables, which may hold secrets
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *([structlog.processors.format_exc_info] if json else []),
                renderer,
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("neo4j", "httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
