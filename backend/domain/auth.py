"""Accounts, client credentials (Argon2-hashed) and short-lived JWT access tokens."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.db.base import AccountRow, AccountStore
from backend.errors import Conflict, InvalidInput, Unauthenticated, Unavailable
from backend.settings import Settings

log = logging.getLogger("ftel.auth")

ROLES = ("ingest", "read", "export", "admin")
KINDS = ("system", "human")
ISSUER = "file-telemetry"
REFRESH = "refresh"  # the `typ` claim of refresh tokens (access tokens have none)
SIGNING_KEY = "jwt_signing_key"  # the `meta` value every replica signs tokens with (unless FT_JWT_SECRET)
_hasher = PasswordHasher()
# Verifying against this when the client id is unknown keeps the response time the same.
_DUMMY_HASH = _hasher.hash("not-a-real-secret")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account behind a verified token."""

    account_id: int
    uuid: str
    name: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles


@dataclass(frozen=True)
class IssuedCredentials:
    account: AccountRow
    client_secret: str


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_in: int
    token_type: str = "bearer"
    refresh_token: str | None = None  # asked for at sign-in: a session (FT_SESSION_HOURS) renews access tokens
    refresh_expires_in: int | None = None


def _roles(roles: list[str]) -> frozenset[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidInput(f"unknown roles: {', '.join(unknown)}", {"allowed": list(ROLES)})
    if not roles:
        raise InvalidInput("an account needs at least one role", {"allowed": list(ROLES)})
    return frozenset(roles)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _verifies(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


class Auth:
    """Accounts and tokens. The signing key is FT_JWT_SECRET, or a random one kept in the database so that
    every replica shares it (read once, then kept).

    Verifying a token reads its account's state (enabled, secret version, roles) from SQL at most every
    FT_AUTH_CACHE_SECONDS: the hot path needs no database round trip, so ingestion keeps working while SQL
    is down. Disabling or rotating an account drops it from this process's cache at once and tells the
    other processes through `notify` (Redis pub/sub, wired by the composition root): revocation is
    immediate while SQL and Redis are up, and bounded by the cache lifetime otherwise."""

    def __init__(self, accounts: AccountStore, settings: Settings, notify: Callable[[str], None] | None = None) -> None:
        self.accounts = accounts
        self.settings = settings
        self.notify = notify  # tells the other processes that an account changed (its public id)
        self._key: str | None = settings.jwt_secret
        self._cache: dict[str, tuple[float, AccountRow]] = {}
        self._cache_lock = threading.Lock()

    @property
    def signing_key(self) -> str:
        if self._key is None:
            self._key = self.accounts.meta(SIGNING_KEY, lambda: secrets.token_urlsafe(48))
        return self._key

    # -- accounts -------------------------------------------------------------------------------

    def create_account(
        self, name: str, kind: str, roles: list[str], client_id: str | None = None, client_secret: str | None = None
    ) -> IssuedCredentials:
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
        role_set = _roles(roles)
        client_secret = client_secret or secrets.token_urlsafe(32)
        account = self.accounts.insert(
            name, kind, role_set, client_id or f"ft_{secrets.token_urlsafe(12)}", _hasher.hash(client_secret)
        )
        return IssuedCredentials(account=account, client_secret=client_secret)

    def list_accounts(self) -> list[AccountRow]:
        return self.accounts.listed()

    def disable_account(self, account_uuid: str, by: Principal | None = None) -> AccountRow:
        """Its tokens stop working at once, its secret can no longer get one; never the last enabled admin, and
        never the caller's own account (`by`: who asks; an admin locking itself out is a mistake)."""
        if by is not None and by.uuid == account_uuid:
            raise Conflict("an account cannot disable itself; another admin can")
        account = self.accounts.disable(account_uuid, datetime.now(UTC))
        self.changed(account_uuid)
        return account

    def rotate_secret(self, account_uuid: str) -> IssuedCredentials:
        """New secret; tokens issued for the old one are revoked (their secret version no longer matches)."""
        secret = secrets.token_urlsafe(32)
        issued = IssuedCredentials(self.accounts.set_secret(account_uuid, _hasher.hash(secret)), secret)
        self.changed(account_uuid)
        return issued

    def changed(self, account_uuid: str) -> None:
        """An account's state changed here: forget it, and tell the other processes."""
        self.forget(account_uuid)
        if self.notify is not None:
            try:
                self.notify(account_uuid)
            except Unavailable as exc:  # the other processes' caches expire on their own
                log.warning("could not announce the change of account %s: %s", account_uuid, exc)

    def forget(self, account_uuid: str) -> None:
        """Drop the cached state of an account (another process changed it)."""
        with self._cache_lock:
            self._cache.pop(account_uuid, None)

    def forget_all(self) -> None:
        """Drop every cached account (announcements may have been missed)."""
        with self._cache_lock:
            self._cache.clear()

    # -- tokens ---------------------------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str, refresh: bool = False) -> Token:
        """An access token for valid credentials; with `refresh`, also a refresh token that renews it until
        FT_SESSION_HOURS have passed (a person's working day on the dashboard without typing the secret again)."""
        account = self.accounts.by_client_id(client_id)
        if not _verifies(account.secret_hash if account else _DUMMY_HASH, client_secret):
            raise Unauthenticated("invalid client credentials")
        if account is None or not account.enabled:
            raise Unauthenticated("invalid client credentials")
        now = datetime.now(UTC)
        return self._tokens(account, now, now + timedelta(hours=self.settings.session_hours) if refresh else None)

    def refresh(self, refresh_token: str) -> Token:
        """A new access token (and refresh token, ending when the session does) for a refresh token whose
        account is still enabled with the same secret; Unauthenticated otherwise."""
        claims = self._verified(refresh_token, REFRESH)
        account = self._account(str(claims["sub"]))
        if account is None or not account.enabled or account.secret_version != claims.get("ver"):
            raise Unauthenticated("session revoked")
        now = datetime.now(UTC)
        return self._tokens(account, now, datetime.fromtimestamp(claims["exp"], UTC))

    def _tokens(self, account: AccountRow, now: datetime, session_end: datetime | None) -> Token:
        ttl = self.settings.token_ttl_seconds
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": account.uuid,
            "roles": sorted(account.roles),
            "ver": account.secret_version,
            "iat": now,
            "exp": now + timedelta(seconds=ttl),
        }
        access = jwt.encode(claims, self.signing_key, algorithm="HS256")
        if session_end is None:
            return Token(access_token=access, expires_in=ttl)
        session = {"iss": ISSUER, "sub": account.uuid, "ver": account.secret_version, "typ": REFRESH}
        session |= {"iat": now, "exp": session_end, "jti": secrets.token_urlsafe(12)}
        return Token(
            access_token=access,
            expires_in=ttl,
            refresh_token=jwt.encode(session, self.signing_key, algorithm="HS256"),
            refresh_expires_in=max(0, int((session_end - now).total_seconds())),
        )

    def _verified(self, token: str, typ: str | None) -> dict[str, Any]:
        """The claims of a token this service signed, of this type (None: an access token, which has none)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.signing_key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token expired" if typ is None else "session expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("token issued in the future") from None
        except jwt.PyJWTError:
            raise Unauthenticated("invalid token") from None
        if claims.get("typ") != typ:
            raise Unauthenticated("not an access token" if typ is None else "not a refresh token")
        return claims

    def authenticate(self, token: str) -> Principal:
        """Verify a bearer token, that it lives no longer than FT_TOKEN_TTL_SECONDS whatever its claims say, and that
        its account is still enabled with the same secret."""
        claims = self._verified(token, None)
        issued, expires = claims["iat"], claims["exp"]
        if not _number(issued) or not _number(expires) or expires - issued > self.settings.token_ttl_seconds:
            raise Unauthenticated("token lifetime over FT_TOKEN_TTL_SECONDS")
        account = self._account(str(claims["sub"]))
        if account is None or not account.enabled or account.secret_version != claims.get("ver"):
            raise Unauthenticated("token revoked")
        return Principal(account_id=account.id, uuid=account.uuid, name=account.name, roles=account.roles)

    def _account(self, account_uuid: str) -> AccountRow | None:
        """The account's state, from the cache while it is fresh, else from SQL (SqlUnavailable when down)."""
        ttl = self.settings.auth_cache_seconds
        now = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(account_uuid)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        account = self.accounts.by_uuid(account_uuid)
        if account is not None and ttl > 0:
            with self._cache_lock:
                if len(self._cache) > 100_000:  # forged subjects cannot get here (the signature is checked first)
                    self._cache.clear()
                self._cache[account_uuid] = (now, account)
        return account

    # -- bootstrap ------------------------------------------------------------------------------

    def bootstrap_admin(self, generate: bool) -> tuple[str, str] | None:
        """Make sure an admin can sign in.

        With FT_ADMIN_CLIENT_ID/SECRET: that account exists with that secret. Without them and with
        `generate` (the all-in-one): create an admin once, write its credentials to
        <data dir>/admin-credentials (mode 0600) and return them so the caller prints them once.
        """
        s = self.settings
        if s.admin_client_id and s.admin_client_secret:
            account = self.accounts.by_client_id(s.admin_client_id)
            if account is None:
                self.accounts.insert(
                    "admin", "system", frozenset({"admin"}), s.admin_client_id, _hasher.hash(s.admin_client_secret)
                )
            elif not _verifies(account.secret_hash, s.admin_client_secret):
                self.accounts.set_secret(account.uuid, _hasher.hash(s.admin_client_secret), enable=True)
                self.changed(account.uuid)
            return None
        if not generate or self.accounts.any_enabled_admin():
            return None
        issued = self.create_account("admin", "system", ["admin"], client_id="admin")
        _write_credentials(s.admin_credentials_file, issued.account.client_id, issued.client_secret)
        return issued.account.client_id, issued.client_secret


def _write_credentials(path: Path, client_id: str, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"FT_ADMIN_CLIENT_ID={client_id}\nFT_ADMIN_CLIENT_SECRET={secret}\n")
    os.chmod(path, 0o600)
