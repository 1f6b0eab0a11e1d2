"""Every error the service raises on purpose, in one tree. Adapters map their library's exceptions into
it at their own boundary; transports map it to answers by base class (`status`, `code`; gRPC by the
nearest mapped ancestor), so a new subclass is never an internal error.

    FtelError                          base; carries `message` and `details`
    ├── InvalidInput         400       the request is malformed (bad key, bad query parameter, bad cursor)
    ├── Unauthenticated      401       no, expired or invalid credentials/token
    ├── Forbidden            403       authenticated, but the account lacks the role
    ├── NotFound             404       the named trace, node, file, account... does not exist
    ├── Conflict             409       the request contradicts existing state (a taken key, the last admin)
    ├── Gone                 410       it existed and was removed on purpose (an export past its expiry)
    ├── PayloadTooLarge      413       body, batch or upload over the configured limits
    ├── Unprocessable        422       well-formed but semantically invalid
    │   ├── QueryRejected              graph/: a read-only query that writes or is not valid Cypher
    │   └── QueryTimeout               graph/: a read-only query ran past its time limit
    ├── TooManyRequests      429       sign-in attempts over a limit; carries `retry_after` (seconds)
    ├── Unavailable          503       a store is unreachable; retry later
    │   ├── SqlUnavailable             db/: the SQL database cannot be reached (or is locked)
    │   ├── GraphError                 graph/: the graph store failed or cannot be reached
    │   │   └── GraphBusy              graph/: another process's merge held a shared graph too long
    │   ├── StorageError               storage/: the object store failed
    │   │   ├── ObjectNotFound         storage/: no object of that name (use cases turn it into NotFound)
    │   │   └── InvalidObjectName      storage/: a name the stores refuse
    │   └── RedisUnavailable           streams/, park/: Redis cannot be reached
    └── Internal             500       the service itself is at fault
        └── CorruptFile                a stored file does not decode to what was recorded

`ConfigError` (backend.settings) is not part of the tree: it stops a process at start-up, it is never an answer.
"""

from __future__ import annotations

from typing import Any


class FtelError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(FtelError):
    status = 400
    code = "invalid_input"


class Unauthenticated(FtelError):
    status = 401
    code = "unauthenticated"


class Forbidden(FtelError):
    status = 403
    code = "forbidden"


class NotFound(FtelError):
    status = 404
    code = "not_found"


class Conflict(FtelError):
    status = 409
    code = "conflict"


class Gone(FtelError):
    status = 410
    code = "gone"


class PayloadTooLarge(FtelError):
    status = 413
    code = "payload_too_large"


class Unprocessable(FtelError):
    status = 422
    code = "unprocessable"


class QueryRejected(Unprocessable):
    """A user query tried to write, or is not valid Cypher."""


class QueryTimeout(Unprocessable):
    """A user query ran past its time limit."""


class TooManyRequests(FtelError):
    """Too many attempts (sign-in throttling); the caller may try again after `retry_after` seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, details: Any = None, retry_after: int = 1) -> None:
        super().__init__(message, details)
        self.retry_after = max(1, retry_after)


class Unavailable(FtelError):
    status = 503
    code = "unavailable"


class SqlUnavailable(Unavailable):
    """The SQL database cannot be reached, or stayed locked past its busy timeout."""


class GraphError(Unavailable):
    """The graph store failed (unreachable, or an internal error)."""


class GraphBusy(GraphError):
    """Another process's merge held the shared graph longer than a merge may wait: not an outage."""


class StorageError(Unavailable):
    """The object store failed (unreachable, refused, I/O error)."""


class ObjectNotFound(StorageError):
    """No object of that name."""


class InvalidObjectName(StorageError, ValueError):
    """An object name the stores refuse (empty, absolute, '..', control characters)."""


class RedisUnavailable(Unavailable):
    """Redis cannot be reached."""


class Internal(FtelError):
    status = 500
    code = "internal"


class CorruptFile(Internal):
    """The stored bytes do not decode to the recorded file (damage, tampering, a decompression bomb)."""

    code = "corrupt_file"
