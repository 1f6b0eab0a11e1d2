"""The SubscriptionStore contract (backend/db/base.py) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from backend.db.base import SubscriptionRow, SubscriptionStore
from backend.db.subscriptions import SqlSubscriptions
from backend.errors import SqlUnavailable

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def subs(sql_engine: Engine) -> SubscriptionStore:
    return SqlSubscriptions(sql_engine)


def sub(n: int, account: int | None = 1, transport: str = "redis") -> SubscriptionRow:
    return SubscriptionRow(
        uuid=f"s-{n}",
        stream_key=f"ft:s:s-{n}",
        transport=transport,
        account_id=account,
        owner_uuid=f"acc-{account}" if account else None,
        user_id=f"user-{n}",
        user_name=None,
        created_at=T0 + timedelta(seconds=n),
    )


def test_inserted_rows_come_back_with_an_id_and_utc_times(subs: SubscriptionStore) -> None:
    stored = subs.insert(sub(1))
    assert stored.id is not None and stored.live
    assert subs.get("s-1") == stored
    assert stored.created_at == T0 + timedelta(seconds=1)
    assert subs.get("nope") is None


def test_listing_by_account_oldest_first_and_without_deleted_ones(subs: SubscriptionStore) -> None:
    for n, account in ((1, 1), (2, 2), (3, 1)):
        subs.insert(sub(n, account))
    assert [s.uuid for s in subs.listed(1, include_deleted=False)] == ["s-1", "s-3"]
    assert [s.uuid for s in subs.listed(None, include_deleted=False)] == ["s-1", "s-2", "s-3"]
    subs.soft_delete(["s-1"], "unsubscribed", T0)
    assert [s.uuid for s in subs.listed(1, include_deleted=False)] == ["s-3"]
    deleted = subs.listed(1, include_deleted=True)[0]
    assert (deleted.deleted_at, deleted.delete_reason, deleted.live) == (T0, "unsubscribed", False)


def test_soft_delete_reports_only_what_was_live(subs: SubscriptionStore) -> None:
    subs.insert(sub(1))
    subs.insert(sub(2))
    assert sorted(subs.soft_delete(["s-1", "s-2", "nope"], "idle", T0)) == ["s-1", "s-2"]
    assert subs.soft_delete(["s-1"], "idle", T0 + timedelta(hours=1)) == []
    assert subs.get("s-1").deleted_at == T0  # type: ignore[union-attr]
    assert subs.soft_delete([], "idle", T0) == []


def test_restore_inserts_unknown_rows_and_leaves_known_ones(subs: SubscriptionStore) -> None:
    subs.insert(sub(1))
    changed = sub(1, account=None)
    assert subs.restore([changed, sub(2, account=None)]) == 1
    assert subs.get("s-1").account_id == 1  # type: ignore[union-attr]
    assert subs.get("s-2").account_id is None  # type: ignore[union-attr]


def test_a_live_subscription_gets_a_new_secret_hash_and_a_closed_one_does_not(subs: SubscriptionStore) -> None:
    subs.insert(sub(1))
    assert subs.get("s-1").secret_sha256 is None  # type: ignore[union-attr]
    assert subs.set_secret("s-1", "a" * 64) and subs.get("s-1").secret_sha256 == "a" * 64  # type: ignore[union-attr]
    subs.soft_delete(["s-1"], "unsubscribed", T0)
    assert not subs.set_secret("s-1", "b" * 64) and not subs.set_secret("nope", "b" * 64)
    assert subs.get("s-1").secret_sha256 == "a" * 64  # type: ignore[union-attr]


def test_remove_undoes_an_insert(subs: SubscriptionStore) -> None:
    subs.insert(sub(1))
    subs.remove("s-1")
    assert subs.get("s-1") is None


def test_an_unreachable_database_raises_sql_unavailable_from_every_method(unreachable_engine: Engine) -> None:
    subs = SqlSubscriptions(unreachable_engine)
    calls = [
        lambda: subs.insert(sub(1)),
        lambda: subs.remove("s-1"),
        lambda: subs.get("s-1"),
        lambda: subs.listed(None, True),
        lambda: subs.soft_delete(["s-1"], "idle", T0),
        lambda: subs.restore([sub(1)]),
        lambda: subs.set_secret("s-1", "a" * 64),
    ]
    for call in calls:
        with pytest.raises(SqlUnavailable):
            call()
