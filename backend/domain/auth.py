"""Accounts, client credentials (Argon2-hashed) and short-lived JWT access tokens."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from backend.db.engine import session_scope
from backend.db.models import Account, Meta
from backend.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from backend.settings import Settings

log = logging.getLogger("ftel.auth")

ROLES = ("ingest", "read", "export", "admin")
KINDS = ("system", "human")
ISSUER = "file-telemetry"
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
    account: Account
    client_secret: str


def _normalise_roles(roles: list[str]) -> str:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidInput(f"unknown roles: {', '.join(unknown)}", {"allowed": list(ROLES)})
    if not roles:
        raise InvalidInput("an account needs at least one role", {"allowed": list(ROLES)})
    return ",".join(sorted(set(roles)))


def create_account(engine: Engine, name: str, kind: str, roles: list[str], client_id: str | None = None,
                   client_secret: str | None = None) -> IssuedCredentials:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}")
    role_text = _normalise_roles(roles)
    client_id = client_id or f"ft_{secrets.token_urlsafe(12)}"
    client_secret = client_secret or secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        if session.exec(select(Account).where(Account.client_id == client_id)).first() is not None:
            raise Conflict(f"client id {client_id!r} is taken")
        account = Account(name=name, kind=kind, roles=role_text, client_id=client_id, secret_hash=_hasher.hash(client_secret))
        session.add(account)
    return IssuedCredentials(account=account, client_secret=client_secret)


def list_accounts(engine: Engine) -> list[Account]:
    with Session(engine) as session:
        return list(session.exec(select(Account).order_by(Account.id)))  # type: ignore[arg-type]


def _account_by_uuid(session: Session, account_uuid: str) -> Account:
    account = session.exec(select(Account).where(Account.uuid == account_uuid)).first()
    if account is None:
        raise NotFound(f"no account {account_uuid}")
    return account


def account_pk(engine: Engine, account_uuid: str) -> int:
    """The numeric key of an account named by its public id (NotFound if there is none)."""
    with Session(engine) as session:
        account = _account_by_uuid(session, account_uuid)
        assert account.id is not None
        return account.id


def account_uuids(engine: Engine, pks: set[int]) -> dict[int, str]:
    """Public ids of accounts named by their numeric keys (for views that must not show internal keys)."""
    if not pks:
        return {}
    with Session(engine) as session:
        rows = session.exec(select(Account.id, Account.uuid).where(Account.id.in_(sorted(pks)))).all()  # type: ignore[union-attr]
    return {int(pk): str(uuid) for pk, uuid in rows}


def disable_account(engine: Engine, account_uuid: str) -> Account:
    """Disable an account: its tokens stop working at once, its secret can no longer get one."""
    with session_scope(engine) as session:
        account = _account_by_uuid(session, account_uuid)
        if account.disabled_at is None:
            if "admin" in account.role_set:
                admins = session.exec(select(Account).where(Account.disabled_at == None)).all()  # noqa: E711
                if not any("admin" in a.role_set and a.id != account.id for a in admins):
                    raise Conflict("this is the last enabled admin account: create another admin before disabling it",
                                   {"account": account_uuid})
            account.disabled_at = datetime.now(UTC)
            session.add(account)
        return account


def rotate_secret(engine: Engine, account_uuid: str) -> IssuedCredentials:
    """New secret; tokens issued for the old one are revoked (their secret version no longer matches)."""
    secret = secrets.token_urlsafe(32)
    with session_scope(engine) as session:
        account = _account_by_uuid(session, account_uuid)
        account.secret_hash = _hasher.hash(secret)
        account.secret_version += 1
        session.add(account)
    return IssuedCredentials(account=account, client_secret=secret)


def signing_key(engine: Engine, settings: Settings) -> str:
    """FT_JWT_SECRET, or a random key kept in the database so that every replica shares it."""
    if settings.jwt_secret:
        return settings.jwt_secret
    with session_scope(engine) as session:
        row = session.get(Meta, "jwt_signing_key")
        if row is None:
            row = Meta(key="jwt_signing_key", value=secrets.token_urlsafe(48))
            session.add(row)
        return row.value


def issue_token(engine: Engine, key: str, ttl: int, client_id: str, client_secret: str) -> dict[str, Any]:
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.client_id == client_id)).first()
    try:
        _hasher.verify(account.secret_hash if account else _DUMMY_HASH, client_secret)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("invalid client credentials") from None
    if account is None or account.disabled_at is not None:
        raise Unauthenticated("invalid client credentials")
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER, "sub": account.uuid, "roles": sorted(account.role_set), "ver": account.secret_version,
        "iat": now, "exp": now + timedelta(seconds=ttl),
    }
    return {"access_token": jwt.encode(claims, key, algorithm="HS256"), "token_type": "bearer", "expires_in": ttl}


def authenticate(engine: Engine, key: str, token: str) -> Principal:
    """Verify a bearer token and that its account is still enabled with the same secret."""
    try:
        claims = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub", "iss"]})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("invalid token") from None
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.uuid == claims["sub"])).first()
    if account is None or account.disabled_at is not None or account.secret_version != claims.get("ver"):
        raise Unauthenticated("token revoked")
    assert account.id is not None
    return Principal(account_id=account.id, uuid=account.uuid, name=account.name, roles=account.role_set)


def bootstrap_admin(engine: Engine, settings: Settings, generate: bool) -> tuple[str, str] | None:
    """Make sure an admin can sign in.

    With FT_ADMIN_CLIENT_ID/SECRET: that account exists with that secret. Without them and with
    `generate` (the all-in-one): create an admin once, write its credentials to
    <data dir>/admin-credentials (mode 0600) and return them so the caller prints them once.
    """
    if settings.admin_client_id and settings.admin_client_secret:
        with session_scope(engine) as session:
            account = session.exec(select(Account).where(Account.client_id == settings.admin_client_id)).first()
            if account is None:
                session.add(Account(name="admin", kind="system", roles="admin", client_id=settings.admin_client_id,
                                    secret_hash=_hasher.hash(settings.admin_client_secret)))
            elif not _verifies(account.secret_hash, settings.admin_client_secret):
                account.secret_hash = _hasher.hash(settings.admin_client_secret)
                account.secret_version += 1
                account.disabled_at = None
                session.add(account)
        return None
    if not generate:
        return None
    with Session(engine) as session:
        has_admin = session.exec(select(Account).where(Account.roles.contains("admin"), Account.disabled_at.is_(None))).first()  # type: ignore[union-attr, attr-defined]
    if has_admin is not None:
        return None
    issued = create_account(engine, "admin", "system", ["admin"], client_id="admin")
    _write_credentials(settings.admin_credentials_file, issued.account.client_id, issued.client_secret)
    return issued.account.client_id, issued.client_secret


def _verifies(secret_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def _write_credentials(path: Path, client_id: str, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"FT_ADMIN_CLIENT_ID={client_id}\nFT_ADMIN_CLIENT_SECRET={secret}\n")
    os.chmod(path, 0o600)
