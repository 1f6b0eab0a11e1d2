"""SQL tables of file storage: the catalog of stored files and the retention records.

A stored file's bytes live in an object store (backend/storage); the row says where, how they were
compressed and what the original was. Retention never deletes a row: it moves `state` from `stored`
to `marked` to `expired` and writes one RetentionRecord per deletion.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from backend.db.models import BigId, _now, _uuid

# Original and stored sizes go past 2 GiB: BIGINT on PostgreSQL (SQLite integers are 64-bit anyway).
_BigCount = BigInteger().with_variant(Integer(), "sqlite")

FILE_STATES = ("stored", "marked", "expired")


class StoredFile(SQLModel, table=True):
    """One uploaded file: its lineage key, its storage group, and the object holding its compressed bytes."""

    __tablename__ = "stored_files"
    __table_args__ = (
        # retention walks the live files of one backend oldest first
        Index("ix_stored_files_backend_state_time", "backend", "state", "stored_at", "id"),
        Index("ix_stored_files_group", "group_key", "stored_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(default_factory=_uuid, max_length=36, unique=True)
    key: str = Field(max_length=512, unique=True)
    trace_key: str = Field(max_length=512)
    group_key: str = Field(max_length=512)
    filename: str | None = Field(default=None, max_length=512)
    content_type: str | None = Field(default=None, max_length=200)
    backend: str = Field(max_length=16)  # local | s3
    object_name: str = Field(max_length=1024)
    codec: str = Field(max_length=8)  # zstd | gzip
    size: int = Field(sa_column=Column(_BigCount, nullable=False))
    stored_size: int = Field(sa_column=Column(_BigCount, nullable=False))
    sha256: str = Field(max_length=64)
    account_id: int | None = Field(default=None, sa_column=Column(_BigCount, nullable=True))
    stored_at: datetime = Field(default_factory=_now, index=True)
    state: str = Field(default="stored", max_length=8)
    marked_at: datetime | None = None
    marked_rule: str | None = Field(default=None, max_length=16)
    expired_at: datetime | None = None


class RetentionRecord(SQLModel, table=True):
    """One deletion by retention: which file, under which rule, how many stored bytes, when."""

    __tablename__ = "retention_records"

    id: int | None = Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))
    uuid: str = Field(default_factory=_uuid, max_length=36, unique=True)
    file_id: int = Field(sa_column=Column(_BigCount, nullable=False, unique=True))  # a file is deleted once
    file_key: str = Field(max_length=512, index=True)
    trace_key: str = Field(max_length=512)
    group_key: str = Field(max_length=512)
    backend: str = Field(max_length=16)
    rule: str = Field(max_length=16)  # max_age | max_files | max_bytes
    bytes: int = Field(sa_column=Column(_BigCount, nullable=False))  # stored (compressed) bytes freed
    size: int = Field(sa_column=Column(_BigCount, nullable=False))  # original size of the file
    stored_at: datetime
    marked_at: datetime
    deleted_at: datetime = Field(default_factory=_now, index=True)
