"""Exceptions of the domain, each mapped to one HTTP status in one place (api/errors.py).

    FtelError                      base; never escapes as a 500 when the input was at fault
    ├── InvalidInput      400      the request is malformed (bad key, bad query parameter)
    ├── Unauthenticated   401      no, expired or invalid credentials/token
    ├── Forbidden         403      authenticated, but the account lacks the role
    ├── NotFound          404      the named trace, node, account... does not exist
    ├── Conflict          409      the request contradicts existing state
    ├── PayloadTooLarge   413      body or batch over the configured limits
    ├── Unprocessable     422      well-formed but semantically invalid (bad event, write in read-only query)
    └── Unavailable       503      a store is unreachable; retry later
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


class PayloadTooLarge(FtelError):
    status = 413
    code = "payload_too_large"


class Unprocessable(FtelError):
    status = 422
    code = "unprocessable"


class Unavailable(FtelError):
    status = 503
    code = "unavailable"
