"""Subscriptions (ingest): open a stream for a user id, list your own, close one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from backend.api.deps import IngestAccount, RegistryDep, SubscriptionsDep
from backend.api.errors import documented
from backend.db.base import SubscriptionRow
from backend.domain.subscriptions import Subscriptions
from backend.errors import Forbidden

NOT_YOURS = (404, "no subscription of yours with this id")

router = APIRouter(tags=["subscriptions"])


class SubscriptionIn(BaseModel):
    user_id: str | None = Field(
        None, min_length=1, max_length=512, description="the app's user id; issued when omitted"
    )
    user_name: str | None = Field(None, max_length=200)
    transport: Literal["redis", "kafka"] = "redis"


class SubscriptionOut(BaseModel):
    id: str
    user_id: str
    user_name: str | None
    stream_key: str = Field(description="Redis: the stream to XADD into; Kafka: the message key")
    transport: str
    endpoint: str = Field(
        description="where to write: a redis:// URL or Kafka bootstrap servers. Where the server manages Redis "
        "ACLs the URL names the subscription's own Redis user, allowed only XADD to `stream_key`; its password "
        "is in the URL of the creation answer only (`redis://<user>:<password>@host:port/0`), never again"
    )
    topic: str | None = Field(None, description="Kafka only: the topic to produce to")
    created_at: datetime
    deleted_at: datetime | None = None
    delete_reason: str | None = None


def _out(sub: SubscriptionRow, subscriptions: Subscriptions, secret: str | None = None) -> SubscriptionOut:
    where = subscriptions.endpoint_of(sub, secret)
    return SubscriptionOut(
        id=sub.uuid,
        user_id=sub.user_id,
        user_name=sub.user_name,
        stream_key=sub.stream_key,
        transport=sub.transport,
        endpoint=where.url,
        topic=where.topic,
        created_at=sub.created_at,
        deleted_at=sub.deleted_at,
        delete_reason=sub.delete_reason,
    )


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionOut,
    summary="Open a stream for a user id",
    responses=documented((422, "the transport is not enabled on this server, or the user id is not a valid key")),
)
async def create_subscription(
    subscriptions: SubscriptionsDep, registry: RegistryDep, principal: IngestAccount, body: SubscriptionIn | None = None
) -> SubscriptionOut:
    """Returns the stream key to write telemetry to (Redis: `XADD <stream_key> * event '<json>'`) and the
    endpoint to write it at, with the subscription's own Redis credentials where the server manages Redis
    ACLs: keep them, they are shown only here. Every instance starts consuming it at once. One account may
    hold many subscriptions. Every field is optional: with no body the service issues a user id and uses the
    Redis transport."""
    body = body or SubscriptionIn.model_validate({})
    opened = await subscriptions.open(registry, principal, body.user_id, body.user_name, body.transport)
    return _out(opened.sub, subscriptions, opened.secret)


@router.get("/subscriptions", response_model=list[SubscriptionOut], summary="Your subscriptions")
async def list_subscriptions(
    subscriptions: SubscriptionsDep,
    principal: IngestAccount,
    include_deleted: Annotated[bool, Query(description="also closed ones (unsubscribed, idle)")] = False,
    all_accounts: Annotated[bool, Query(alias="all", description="admin: every account's")] = False,
) -> list[SubscriptionOut]:
    if all_accounts and "admin" not in principal.roles:
        raise Forbidden("only admins may list every account's subscriptions")
    subs = await run_in_threadpool(subscriptions.listed, principal, include_deleted, all_accounts)
    return [_out(s, subscriptions) for s in subs]


@router.get(
    "/subscriptions/{sub_id}",
    response_model=SubscriptionOut,
    summary="One of your subscriptions (closed ones too, with deleted_at)",
    responses=documented(NOT_YOURS),
)
async def get_subscription(sub_id: str, subscriptions: SubscriptionsDep, principal: IngestAccount) -> SubscriptionOut:
    return _out(await run_in_threadpool(subscriptions.get_own, principal, sub_id), subscriptions)


@router.post(
    "/subscriptions/{sub_id}/credentials",
    response_model=SubscriptionOut,
    summary="New Redis credentials for one of your subscriptions",
    responses=documented(
        NOT_YOURS,
        (409, "the subscription is closed"),
        (422, "a Kafka subscription, or the server does not manage Redis ACLs"),
    ),
)
async def renew_subscription_credentials(
    sub_id: str, subscriptions: SubscriptionsDep, registry: RegistryDep, principal: IngestAccount
) -> SubscriptionOut:
    """A new password for the subscription's own Redis user, in `endpoint` (shown only here); the old one
    stops working at once. For a lost password, or a subscription opened before the server managed Redis
    ACLs. 422 for Kafka subscriptions or where the server does not manage Redis ACLs; 409 once closed."""
    opened = await subscriptions.renew_writer(registry, principal, sub_id)
    return _out(opened.sub, subscriptions, opened.secret)


@router.delete(
    "/subscriptions/{sub_id}",
    response_model=SubscriptionOut,
    summary="Close a subscription (soft delete: it stays readable, with deleted_at)",
    responses=documented(NOT_YOURS),
)
async def delete_subscription(
    sub_id: str, subscriptions: SubscriptionsDep, registry: RegistryDep, principal: IngestAccount
) -> SubscriptionOut:
    """Every instance stops consuming the stream and its Redis credentials stop working; entries already in
    it stay in Redis unread."""
    return _out(await subscriptions.delete(registry, principal, sub_id), subscriptions)
