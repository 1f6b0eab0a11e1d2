"""Account changes announced to every process (pub/sub `ft:auth`): the public id of an account that was
disabled or got a new secret, so that each process drops its cached state of it at once. At-most-once, like
all pub/sub: a process that was disconnected forgets every cached account when it subscribes again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from backend.errors import RedisUnavailable
from backend.streams import keys
from backend.streams.admin import redis_errors


class AccountNotices:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._pubsub: Any = None

    @redis_errors
    def publish(self, account_uuid: str) -> None:
        self.client.publish(keys.AUTH_CHANGES, account_uuid)

    def receive(self, changed: Callable[[str], None], lost: Callable[[], None]) -> int:
        """Hand every announcement received since the last call to `changed`; `lost` is called when the
        subscription is (re)made, since announcements sent before it are missed. Never blocks."""
        try:
            if self._pubsub is None:
                pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(keys.AUTH_CHANGES)
                self._pubsub = pubsub
                lost()
            handled = 0
            for _ in range(10_000):
                message = self._pubsub.get_message(timeout=0)
                if message is None:
                    break
                if message.get("type") == "message":
                    data = message["data"]
                    changed(data.decode() if isinstance(data, bytes) else str(data))
                    handled += 1
            return handled
        except redis.RedisError as exc:
            self._close()
            raise RedisUnavailable(f"redis: {exc}") from exc

    def _close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except redis.RedisError:
                pass
        self._pubsub = None

    def close(self) -> None:
        """Ends the subscription; the client belongs to whoever made it."""
        self._close()
