"""The task outbox's statements, shared by the sync and async storages.

Claiming follows spakky-outbox's storage contract: rows are claimed in
(created_at, id) order with ``FOR UPDATE SKIP LOCKED`` where the database has
it, and a partition key is claimed whole: a row of a key is handed out only
together with that key's oldest row still awaiting delivery. The claim itself
is a conditional update, so two relays never both claim a row, also on
databases without row locks (SQLite).
"""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from spakky.outbox.common.message import OutboxMessage
from sqlalchemy import (
    ColumnElement,
    Select,
    Update,
    and_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import aliased

from spakky.dispatch.outbox.ports import AbandonedTask
from spakky.dispatch.outbox.sqlalchemy.table import TaskOutboxTable as T


def _awaiting(row: Any) -> ColumnElement[bool]:
    return and_(row.published_at.is_(None), row.abandoned_at.is_(None))


def _claim_free(cutoff: datetime) -> ColumnElement[bool]:
    return or_(T.claimed_at.is_(None), T.claimed_at < cutoff)


def _older_of_same_key(earlier: Any) -> ColumnElement[bool]:
    return and_(
        earlier.partition_key == T.partition_key,
        _awaiting(earlier),
        tuple_(earlier.created_at, earlier.id) < tuple_(T.created_at, T.id),
    )


def candidates(limit: int, max_retry: int, cutoff: datetime) -> Select[T]:
    """Claimable rows, oldest first, locked (skipping rows other relays lock)."""
    earlier = aliased(T)
    blocked = (
        select(earlier.id)
        .where(_older_of_same_key(earlier))
        .where(earlier.claimed_at.is_not(None), earlier.claimed_at >= cutoff)
        .exists()
    )
    return (
        select(T)
        .where(_awaiting(T), T.retry_count < max_retry, _claim_free(cutoff))
        .where(or_(T.partition_key.is_(None), ~blocked))
        .order_by(T.created_at, T.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def heads(keys: Collection[str]) -> Select[str | None, UUID]:
    """The oldest row still awaiting delivery of each of ``keys``."""
    earlier = aliased(T)
    return (
        select(T.partition_key, T.id)
        .where(_awaiting(T), T.partition_key.in_(keys))
        .where(~select(earlier.id).where(_older_of_same_key(earlier)).exists())
    )


def keys_of(rows: Sequence[T]) -> set[str]:
    """The partition keys among ``rows``."""
    return {row.partition_key for row in rows if row.partition_key is not None}


def owned(rows: Sequence[T], head_rows: Sequence[Any]) -> list[UUID]:
    """Ids of ``rows`` whose key (if any) is headed by one of ``rows``."""
    locked = {row.id for row in rows}
    elsewhere = {key for key, head in head_rows if head not in locked}
    return [row.id for row in rows if row.partition_key not in elsewhere]


def claim(ids: Sequence[UUID], now: datetime, cutoff: datetime) -> Update:
    """Claim ``ids`` at ``now``, only those still free; returns the claimed rows."""
    return (
        update(T)
        .where(T.id.in_(ids), _awaiting(T), _claim_free(cutoff))
        .values(claimed_at=now)
        .returning(T)
        # the rows are loaded in this session; no need to evaluate in Python
        .execution_options(synchronize_session=False)
    )


def release(ids: Sequence[UUID]) -> Update:
    """Drop the claim on unpublished ``ids``."""
    return (
        update(T).where(T.id.in_(ids), T.published_at.is_(None)).values(claimed_at=None)
    )


def set_values(message_id: UUID, **values: Any) -> Update:
    """Update one row."""
    return update(T).where(T.id == message_id).values(**values)


def retry(message_id: UUID) -> Update:
    """Count one refused attempt."""
    return set_values(message_id, retry_count=T.retry_count + 1, claimed_at=None)


def abandoned(limit: int) -> Select[T]:
    """Abandoned rows, newest first."""
    return (
        select(T)
        .where(T.abandoned_at.is_not(None))
        .order_by(T.abandoned_at.desc())
        .limit(limit)
    )


def to_row(message: OutboxMessage) -> T:
    """The new row for ``message``."""
    return T(
        id=message.id,
        event_name=message.event_name,
        payload=message.payload,
        headers=message.headers,
        partition_key=message.partition_key,
        created_at=message.created_at,
        retry_count=0,
    )


def to_message(row: T) -> OutboxMessage:
    """spakky-outbox's message for ``row``."""
    return OutboxMessage(
        id=row.id,
        event_name=row.event_name,
        payload=row.payload,
        headers=dict(row.headers),
        partition_key=row.partition_key,
        created_at=row.created_at,
        published_at=row.published_at,
        retry_count=row.retry_count,
        claimed_at=row.claimed_at,
        abandoned_at=row.abandoned_at,
    )


def in_order(rows: Sequence[T]) -> list[OutboxMessage]:
    """``rows`` as messages, in claim order (RETURNING keeps no order)."""
    ordered = sorted(rows, key=lambda row: (row.created_at, str(row.id)))
    return [to_message(row) for row in ordered]


def to_abandoned(row: T) -> AbandonedTask:
    """An abandoned row, for an operator."""
    assert row.abandoned_at is not None
    return AbandonedTask(
        message=to_message(row),
        abandoned_at=row.abandoned_at,
        last_error=row.last_error,
    )
