"""SQLAlchemy task outbox storages: ``save`` joins the @Transactional session.

Every other method runs in a short transaction of its own, on the engine.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import override
from uuid import UUID

from spakky.outbox.common.message import OutboxMessage
from spakky.plugins.sqlalchemy.persistency.session_manager import (
    AsyncSessionManager,
    SessionManager,
)
from sqlalchemy import Engine, Update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from spakky.dispatch.outbox.ports import (
    AbandonedTask,
    IAsyncTaskOutboxStorage,
    ITaskOutboxStorage,
)
from spakky.dispatch.outbox.sqlalchemy import queries


class SqlAlchemyTaskOutboxStorage(ITaskOutboxStorage):
    """The task outbox in the application's database (blocking)."""

    _sessions: SessionManager
    _factory: sessionmaker[Session]
    _claim_timeout: timedelta

    def __init__(
        self, sessions: SessionManager, engine: Engine, claim_timeout: float
    ) -> None:
        self._sessions = sessions
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)
        self._claim_timeout = timedelta(seconds=claim_timeout)

    @override
    def save(self, message: OutboxMessage) -> None:
        session = self._sessions.session
        session.add(queries.to_row(message))
        session.flush()

    @override
    def fetch_pending(self, limit: int, max_retry: int) -> list[OutboxMessage]:
        now = datetime.now(UTC)
        cutoff = now - self._claim_timeout
        with self._factory() as session, session.begin():
            rows = (
                session.execute(queries.candidates(limit, max_retry, cutoff))
                .scalars()
                .all()
            )
            keys = queries.keys_of(rows)
            head_rows = session.execute(queries.heads(keys)).all() if keys else []
            ids = queries.owned(rows, head_rows)
            if not ids:
                return []
            claimed = session.execute(queries.claim(ids, now, cutoff)).scalars().all()
            return queries.in_order(claimed)

    @override
    def mark_published(self, message_id: UUID) -> None:
        self._run(queries.set_values(message_id, published_at=datetime.now(UTC)))

    @override
    def increment_retry(self, message_id: UUID) -> None:
        self._run(queries.retry(message_id))

    @override
    def mark_abandoned(self, message_id: UUID) -> None:
        self._run(queries.set_values(message_id, abandoned_at=datetime.now(UTC)))

    @override
    def release(self, message_ids: Sequence[UUID]) -> None:
        self._run(queries.release(message_ids))

    @override
    def note_failure(self, message_id: UUID, reason: str) -> None:
        self._run(queries.set_values(message_id, last_error=reason))

    @override
    def abandoned(self, limit: int = 100) -> list[AbandonedTask]:
        with self._factory() as session:
            rows = session.execute(queries.abandoned(limit)).scalars().all()
            return [queries.to_abandoned(row) for row in rows]

    def _run(self, statement: Update) -> None:
        with self._factory() as session, session.begin():
            session.execute(statement)


class AsyncSqlAlchemyTaskOutboxStorage(IAsyncTaskOutboxStorage):
    """The task outbox in the application's database (async)."""

    _sessions: AsyncSessionManager
    _factory: async_sessionmaker[AsyncSession]
    _claim_timeout: timedelta

    def __init__(
        self, sessions: AsyncSessionManager, engine: AsyncEngine, claim_timeout: float
    ) -> None:
        self._sessions = sessions
        self._factory = async_sessionmaker(bind=engine, expire_on_commit=False)
        self._claim_timeout = timedelta(seconds=claim_timeout)

    @override
    async def save(self, message: OutboxMessage) -> None:
        session = self._sessions.session
        session.add(queries.to_row(message))
        await session.flush()

    @override
    async def fetch_pending(self, limit: int, max_retry: int) -> list[OutboxMessage]:
        now = datetime.now(UTC)
        cutoff = now - self._claim_timeout
        async with self._factory() as session, session.begin():
            found = await session.execute(queries.candidates(limit, max_retry, cutoff))
            rows = found.scalars().all()
            keys = queries.keys_of(rows)
            head_rows = (
                (await session.execute(queries.heads(keys))).all() if keys else []
            )
            ids = queries.owned(rows, head_rows)
            if not ids:
                return []
            claimed = await session.execute(queries.claim(ids, now, cutoff))
            return queries.in_order(claimed.scalars().all())

    @override
    async def mark_published(self, message_id: UUID) -> None:
        await self._run(queries.set_values(message_id, published_at=datetime.now(UTC)))

    @override
    async def increment_retry(self, message_id: UUID) -> None:
        await self._run(queries.retry(message_id))

    @override
    async def mark_abandoned(self, message_id: UUID) -> None:
        await self._run(queries.set_values(message_id, abandoned_at=datetime.now(UTC)))

    @override
    async def release(self, message_ids: Sequence[UUID]) -> None:
        await self._run(queries.release(message_ids))

    @override
    async def note_failure(self, message_id: UUID, reason: str) -> None:
        await self._run(queries.set_values(message_id, last_error=reason))

    async def _run(self, statement: Update) -> None:
        async with self._factory() as session, session.begin():
            await session.execute(statement)
