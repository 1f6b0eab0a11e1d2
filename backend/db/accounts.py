"""Accounts and shared server values (the `meta` table) on SQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from uuid_utils import uuid7

from backend.db.base import AccountRow
from backend.db.engine import translated, utc
from backend.db.models import TABLES
from backend.errors import Conflict, NotFound

ACCOUNTS = TABLES["accounts"]
META = TABLES["meta"]
A = ACCOUNTS.c


def _account(row: Any) -> AccountRow:
    return AccountRow(
        id=int(row.id),
        uuid=row.uuid,
        name=row.name,
        kind=row.kind,
        roles=frozenset(r for r in row.roles.split(",") if r),
        client_id=row.client_id,
        secret_hash=row.secret_hash,
        secret_version=int(row.secret_version),
        created_at=utc(row.created_at),
        disabled_at=utc(row.disabled_at) if row.disabled_at else None,
    )


class SqlAccounts:
    """AccountStore (backend.db.base) over SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._meta_insert = dialect.insert(META).on_conflict_do_nothing()

    @translated
    def insert(self, name: str, kind: str, roles: frozenset[str], client_id: str, secret_hash: str) -> AccountRow:
        values = {
            "uuid": str(uuid7()),
            "name": name,
            "kind": kind,
            "roles": ",".join(sorted(roles)),
            "client_id": client_id,
            "secret_hash": secret_hash,
            "secret_version": 1,
            "created_at": datetime.now(UTC),
        }
        try:
            with self.engine.begin() as conn:
                row = conn.execute(ACCOUNTS.insert().returning(*ACCOUNTS.c), values).one()
        except IntegrityError:
            raise Conflict(f"client id {client_id!r} is taken") from None
        return _account(row)

    def _one(self, where: Any) -> AccountRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(ACCOUNTS).where(where)).first()
        return _account(row) if row else None

    @translated
    def by_client_id(self, client_id: str) -> AccountRow | None:
        return self._one(A.client_id == client_id)

    @translated
    def by_uuid(self, uuid: str) -> AccountRow | None:
        return self._one(A.uuid == uuid)

    @translated
    def listed(self) -> list[AccountRow]:
        with self.engine.connect() as conn:
            return [_account(r) for r in conn.execute(select(ACCOUNTS).order_by(A.id))]

    @translated
    def uuids(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        with self.engine.connect() as conn:
            return {int(pk): str(uuid) for pk, uuid in conn.execute(select(A.id, A.uuid).where(A.id.in_(sorted(ids))))}

    @translated
    def client_id(self, account_id: int) -> str | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(A.client_id).where(A.id == account_id)).scalar_one_or_none()
        return None if value is None else str(value)

    @translated
    def ids_for(self, uuids: set[str], client_ids: set[str]) -> tuple[dict[str, int], dict[str, int]]:
        by_uuid: dict[str, int] = {}
        by_client: dict[str, int] = {}
        if not uuids and not client_ids:
            return by_uuid, by_client
        stmt = select(A.id, A.uuid, A.client_id).where(
            A.disabled_at.is_(None), A.uuid.in_(sorted(uuids)) | A.client_id.in_(sorted(client_ids))
        )
        with self.engine.connect() as conn:
            for row in conn.execute(stmt):
                by_uuid[row.uuid] = int(row.id)
                by_client[row.client_id] = int(row.id)
        return by_uuid, by_client

    @translated
    def set_secret(self, uuid: str, secret_hash: str, *, enable: bool = False) -> AccountRow:
        values: dict[str, Any] = {"secret_hash": secret_hash, "secret_version": A.secret_version + 1}
        if enable:
            values["disabled_at"] = None
        with self.engine.begin() as conn:
            row = conn.execute(update(ACCOUNTS).where(A.uuid == uuid).values(**values).returning(*ACCOUNTS.c)).first()
        if row is None:
            raise NotFound(f"no account {uuid}")
        return _account(row)

    @translated
    def disable(self, uuid: str, at: datetime) -> AccountRow:
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # the last-admin check and the update see the same accounts
                conn.exec_driver_sql("LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE")
            else:  # any write takes SQLite's single write lock for the rest of the transaction
                conn.execute(update(ACCOUNTS).where(A.id == -1).values(name=A.name))
            row = conn.execute(select(ACCOUNTS).where(A.uuid == uuid)).first()
            if row is None:
                raise NotFound(f"no account {uuid}")
            account = _account(row)
            if not account.enabled:
                return account
            if "admin" in account.roles:
                others = conn.execute(select(A.roles).where(A.disabled_at.is_(None), A.id != account.id)).scalars()
                if not any("admin" in roles.split(",") for roles in others):
                    raise Conflict(
                        "this is the last enabled admin account: create another admin before disabling it",
                        {"account": uuid},
                    )
            row = conn.execute(
                update(ACCOUNTS).where(A.id == account.id).values(disabled_at=at).returning(*ACCOUNTS.c)
            ).one()
        return _account(row)

    @translated
    def any_enabled_admin(self) -> bool:
        with self.engine.connect() as conn:
            rows = conn.execute(select(A.roles).where(A.disabled_at.is_(None))).scalars()
            return any("admin" in roles.split(",") for roles in rows)

    @translated
    def meta(self, key: str, default: Callable[[], str]) -> str:
        with self.engine.begin() as conn:
            conn.execute(self._meta_insert, {"key": key, "value": default()})
            return str(conn.execute(select(META.c.value).where(META.c.key == key)).scalar_one())
