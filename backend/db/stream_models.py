"""SQL tables of stream ingestion: subscriptions (the durable copy of the Redis registry `ft:streams`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from backend.db.models import BigId, _now


class Subscription(SQLModel, table=True):
    """A channel an account opened for one user id: a Redis stream or a key on the Kafka topic.
    Soft-deleted (unsubscribe, idle expiry): the row stays, with when and why."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_live", "deleted_at", "transport"),)

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(max_length=36, unique=True, index=True)
    stream_key: str = Field(max_length=200, unique=True)
    transport: str = Field(max_length=16)  # redis | kafka
    # Owner; NULL when rebuilt from Redis after the SQL store was lost and the account is unknown.
    account_id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=True, index=True))
    owner_uuid: str | None = Field(default=None, max_length=36)
    user_id: str = Field(max_length=512)
    user_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=_now)
    deleted_at: datetime | None = None
    delete_reason: str | None = Field(default=None, max_length=32)  # unsubscribed | idle
