"""The dashboard's only way to the data: the public REST API, called with the signed-in user's token.

Every failure becomes an ApiError whose message can be shown to a person as it is.

ApiError
 ├── Unreachable      the API did not answer (down, wrong URL, timeout)
 ├── NotSignedIn      no token in the browser session
 └── HttpError        the API answered with an error: status, code, message from {"error": {...}}
      └── AuthExpired 401: the token expired, was revoked or is not a token
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class ApiError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unreachable(ApiError):
    pass


class NotSignedIn(ApiError):
    pass


class HttpError(ApiError):
    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.details = status, code, details


class AuthExpired(HttpError):
    pass


def _segment(key: str) -> str:
    return quote(key, safe="")


class ApiClient:
    """Thread-safe (one pooled httpx.Client); the token is passed per call, since it lives in the browser."""

    def __init__(self, base: str, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base = base.rstrip("/")
        self._http = httpx.Client(base_url=self.base, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, token: str | None, *, auth: bool = True, **kw: Any) -> Any:
        headers = {}
        if auth:
            if not token:
                raise NotSignedIn("Not signed in: sign in with a client id and secret, or paste an access token.")
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._http.request(method, f"/api/v1{path}", headers=headers, **kw)
        except httpx.TimeoutException:
            raise Unreachable(f"The API at {self.base} did not answer in time.") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"The API at {self.base} cannot be reached ({exc}). Is the server running?") from None
        if response.status_code < 400:
            return response.json()
        raise _error_of(response)

    def sign_in(self, client_id: str, client_secret: str, *, refresh: bool = False) -> dict[str, Any]:
        """{access_token, token_type, expires_in}; with `refresh`, also {refresh_token, refresh_expires_in}."""
        credentials: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret}
        if refresh:
            credentials["refresh"] = True
        return dict(self._call("POST", "/auth/token", None, auth=False, json=credentials))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """A new access token (and refresh token) for a refresh token; AuthExpired once it is no longer valid."""
        return dict(self._call("POST", "/auth/refresh", None, auth=False, json={"refresh_token": refresh_token}))

    def search(self, token: str | None, q: str, limit: int = 20) -> list[dict[str, Any]]:
        """Keys starting with `q` (case-sensitive): traces first, then nodes, each {key, kind}."""
        return list(self._call("GET", "/search", token, params={"q": q, "limit": limit}).get("items") or [])

    def traces(
        self,
        token: str | None,
        *,
        q: str | None = None,
        user: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        has_drops: bool | None = None,
        limit: int = 25,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        params = {
            k: v
            for k, v in {
                "q": q,
                "user": user,
                "status": status,
                "has_drops": None if has_drops is None else str(has_drops).lower(),
                "since": since,
                "until": until,
                "limit": limit,
                "cursor": cursor,
            }.items()
            if v not in (None, "")
        }
        return dict(self._call("GET", "/traces", token, params=params))

    def trace(self, token: str | None, key: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/traces/{_segment(key)}", token))

    def trace_graph(self, token: str | None, key: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/traces/{_segment(key)}/graph", token))

    def node(self, token: str | None, key: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/nodes/{_segment(key)}", token))

    def lineage(self, token: str | None, key: str, direction: str = "both", depth: int = 5) -> dict[str, Any]:
        return dict(
            self._call("GET", f"/lineage/{_segment(key)}", token, params={"direction": direction, "depth": depth})
        )

    def stats(
        self,
        token: str | None,
        window: str,
        *,
        since: str | None = None,
        until: str | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """The batch app's rollups: one bucket per window (and key of `by`) in [since, until)."""
        params = {k: v for k, v in {"window": window, "since": since, "until": until, "by": by}.items() if v}
        return dict(self._call("GET", "/stats", token, params=params))

    def stats_summary(self, token: str | None, *, since: str | None = None, until: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in {"since": since, "until": until}.items() if v}
        return dict(self._call("GET", "/stats/summary", token, params=params))

    def insights(self, token: str | None) -> dict[str, Any]:
        """Stuck files, drop-rate anomalies, top drop reasons, slowest traces, retention forecast."""
        return dict(self._call("GET", "/insights", token))

    def query(self, token: str | None, cypher: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return dict(self._call("POST", "/graph/query", token, json={"query": cypher, "params": params or {}}))


def _error_of(response: httpx.Response) -> HttpError:
    status = response.status_code
    try:
        err = response.json().get("error") or {}
    except ValueError:
        err = {}
    code = str(err.get("code") or f"http_{status}")
    message = str(err.get("message") or response.reason_phrase or "error")
    details = err.get("details")
    if status == 401:
        return AuthExpired(
            status, code, f"Your session has expired or the token was not accepted ({message}). Sign in again.", details
        )
    if status == 403:
        return HttpError(status, code, f"Your account may not do this: {message}", details)
    if status >= 500:
        return HttpError(status, code, f"The API failed ({status} {code}): {message}", details)
    return HttpError(status, code, message, details)
