"""A size limit on every request body, enforced before the body is read in full: a declared Content-Length over
the route's limit is answered 413 at once, unread; a chunked body is counted as it arrives and refused as soon as
it passes the limit, whatever the route was doing with it. Routes that stream large bodies to storage (uploads)
are left to enforce their own limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.errors import error_response
from backend.errors import PayloadTooLarge


@dataclass(frozen=True)
class BodyLimits:
    """`default` bytes for every body; `routes`: (method, path) → its own limit, None where the route enforces
    one itself while streaming."""

    default: int
    routes: Mapping[tuple[str, str], int | None] = field(default_factory=dict)

    def of(self, method: str, path: str) -> int | None:
        return self.routes.get((method, path.rstrip("/") or "/"), self.default)


class BodyLimit:
    """Pure ASGI middleware (no buffering of its own)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.of(scope["method"], scope["path"])
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return

        received = 0
        refused = False  # the body passed the limit before any answer began: ours replaces the app's
        started = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = not started
                    raise PayloadTooLarge(f"body larger than {limit} bytes", {"limit": limit})
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except PayloadTooLarge:
            if not refused:
                raise
        if refused:
            await _too_large(limit)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def _too_large(limit: int) -> ASGIApp:
    return error_response(413, PayloadTooLarge.code, f"body larger than {limit} bytes", {"limit": limit})
