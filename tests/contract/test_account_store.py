"""The AccountStore contract (backend/db/base.py) on SQLite and PostgreSQL, and the Auth use cases on it:
hashed secrets, tokens, rotation, disabling, the last admin, the shared signing key."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from backend.db.accounts import SqlAccounts
from backend.db.base import AccountStore
from backend.domain.auth import Auth
from backend.errors import Conflict, InvalidInput, NotFound, SqlUnavailable, Unauthenticated
from backend.settings import Settings


@pytest.fixture
def accounts(sql_engine: Engine) -> AccountStore:
    return SqlAccounts(sql_engine)


def test_insert_and_look_up_by_client_id_uuid_and_id(accounts: AccountStore) -> None:
    a = accounts.insert("importer", "system", frozenset({"ingest", "read"}), "client-1", "hash-1")
    assert (a.name, a.kind, a.roles, a.secret_version, a.enabled) == (
        "importer",
        "system",
        frozenset({"ingest", "read"}),
        1,
        True,
    )
    assert a.created_at.tzinfo is not None
    assert accounts.by_client_id("client-1") == a
    assert accounts.by_uuid(a.uuid) == a
    assert accounts.uuids({a.id, 999_999}) == {a.id: a.uuid}
    assert accounts.client_id(a.id) == "client-1"
    assert accounts.by_client_id("nope") is None and accounts.by_uuid("nope") is None
    with pytest.raises(Conflict):
        accounts.insert("again", "system", frozenset({"read"}), "client-1", "hash-2")
    assert [x.client_id for x in accounts.listed()] == ["client-1"]


def test_a_new_secret_bumps_the_version_and_can_enable(accounts: AccountStore) -> None:
    a = accounts.insert("x", "system", frozenset({"read"}), "c", "h1")
    accounts.insert("admin", "system", frozenset({"admin"}), "adm", "h")
    disabled = accounts.disable(a.uuid, datetime.now(UTC))
    assert not disabled.enabled
    renewed = accounts.set_secret(a.uuid, "h2", enable=True)
    assert (renewed.secret_hash, renewed.secret_version, renewed.enabled) == ("h2", 2, True)
    with pytest.raises(NotFound):
        accounts.set_secret("nope", "h")


def test_the_last_enabled_admin_cannot_be_disabled(accounts: AccountStore) -> None:
    first = accounts.insert("a1", "system", frozenset({"admin"}), "a1", "h")
    second = accounts.insert("a2", "system", frozenset({"admin", "read"}), "a2", "h")
    assert accounts.any_enabled_admin()
    accounts.disable(first.uuid, datetime.now(UTC))
    with pytest.raises(Conflict):
        accounts.disable(second.uuid, datetime.now(UTC))
    assert accounts.by_uuid(second.uuid).enabled  # type: ignore[union-attr]
    assert accounts.disable(first.uuid, datetime.now(UTC)).disabled_at is not None  # twice: no change, no error


def test_two_admins_disabling_each_other_at_once_leave_one_enabled(accounts: AccountStore) -> None:
    admins = [accounts.insert(f"a{i}", "system", frozenset({"admin"}), f"a{i}", "h") for i in range(2)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def disable(uuid: str) -> None:
        start.wait()
        try:
            accounts.disable(uuid, datetime.now(UTC))
            outcomes.append("disabled")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=disable, args=(a.uuid,)) for a in admins]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "disabled"]
    assert accounts.any_enabled_admin()


def test_meta_values_are_created_once_and_shared(accounts: AccountStore) -> None:
    first = accounts.meta("k", lambda: "one")
    assert first == "one"
    assert accounts.meta("k", lambda: "two") == "one"


def test_ids_for_relinks_enabled_accounts_by_uuid_or_client_id(accounts: AccountStore) -> None:
    a = accounts.insert("x", "system", frozenset({"read"}), "cx", "h")
    b = accounts.insert("y", "system", frozenset({"admin"}), "cy", "h")
    assert accounts.ids_for({a.uuid}, {"cy"}) == ({a.uuid: a.id, b.uuid: b.id}, {"cx": a.id, "cy": b.id})
    assert accounts.ids_for(set(), set()) == ({}, {})


def test_auth_hashes_secrets_and_issues_tokens_it_can_revoke(accounts: AccountStore) -> None:
    auth = Auth(accounts, Settings())
    issued = auth.create_account("importer", "system", ["ingest"])
    assert issued.client_secret not in issued.account.secret_hash
    assert issued.account.secret_hash.startswith("$argon2")
    assert auth.signing_key == Auth(accounts, Settings()).signing_key  # every replica signs with the same key
    token = auth.issue_token(issued.account.client_id, issued.client_secret)
    principal = auth.authenticate(token.access_token)
    assert principal.roles == {"ingest"} and not principal.has("read")
    with pytest.raises(Unauthenticated):
        auth.issue_token(issued.account.client_id, "wrong")
    with pytest.raises(Conflict):
        auth.create_account("again", "system", ["read"], client_id=issued.account.client_id)
    with pytest.raises(InvalidInput):
        auth.create_account("bad", "system", ["superuser"])
    auth.rotate_secret(issued.account.uuid)
    with pytest.raises(Unauthenticated, match="revoked"):
        auth.authenticate(token.access_token)


def test_an_unreachable_database_raises_sql_unavailable_from_every_method(unreachable_engine: Engine) -> None:
    accounts = SqlAccounts(unreachable_engine)
    calls = [
        lambda: accounts.insert("x", "system", frozenset({"read"}), "c", "h"),
        lambda: accounts.by_client_id("c"),
        lambda: accounts.by_uuid("u"),
        accounts.listed,
        lambda: accounts.uuids({1}),
        lambda: accounts.client_id(1),
        lambda: accounts.ids_for({"u"}, {"c"}),
        lambda: accounts.set_secret("u", "h"),
        lambda: accounts.disable("u", datetime.now(UTC)),
        accounts.any_enabled_admin,
        lambda: accounts.meta("k", str),
    ]
    for call in calls:
        with pytest.raises(SqlUnavailable):
            call()
