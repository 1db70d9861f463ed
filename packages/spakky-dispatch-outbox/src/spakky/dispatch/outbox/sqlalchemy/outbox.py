"""``SqlAlchemyTaskOutbox``: the task outbox joined to spakky-sqlalchemy's transactions.

A transaction is active when spakky-sqlalchemy's session manager has a session
for the calling context: ``@Transactional`` opens one and closes it after the
commit or rollback.
"""

from collections.abc import Callable
from typing import Any, override

from spakky.core.pod.annotations.pod import Pod
from spakky.plugins.sqlalchemy.persistency.connection_manager import (
    AsyncConnectionManager,
    ConnectionManager,
)
from spakky.plugins.sqlalchemy.persistency.session_manager import (
    AsyncSessionManager,
    SessionManager,
    SessionNotInitializedError,
)
from sqlalchemy import event

from spakky.dispatch.outbox.config import TaskOutboxConfig
from spakky.dispatch.outbox.error import TaskOutboxNotConfiguredError
from spakky.dispatch.outbox.ports import (
    IAsyncTaskOutboxStorage,
    ITaskOutbox,
    ITaskOutboxStorage,
)
from spakky.dispatch.outbox.sqlalchemy.storage import (
    AsyncSqlAlchemyTaskOutboxStorage,
    SqlAlchemyTaskOutboxStorage,
)


@Pod()
class SqlAlchemyTaskOutbox(ITaskOutbox):
    """The ``spakky_task_outbox`` table of the application's database."""

    _sessions: SessionManager
    _async_sessions: AsyncSessionManager | None
    _storage: SqlAlchemyTaskOutboxStorage
    _async_storage: AsyncSqlAlchemyTaskOutboxStorage | None

    def __init__(
        self,
        config: TaskOutboxConfig,
        session_manager: SessionManager | None = None,
        connection_manager: ConnectionManager | None = None,
        async_session_manager: AsyncSessionManager | None = None,
        async_connection_manager: AsyncConnectionManager | None = None,
    ) -> None:
        if session_manager is None or connection_manager is None:
            raise TaskOutboxNotConfiguredError(
                "the spakky-sqlalchemy plugin is not loaded"
            )
        self._sessions = session_manager
        self._storage = SqlAlchemyTaskOutboxStorage(
            session_manager, connection_manager.connection, config.claim_timeout
        )
        self._async_sessions = async_session_manager
        self._async_storage = None
        if async_session_manager is not None and async_connection_manager is not None:
            self._async_storage = AsyncSqlAlchemyTaskOutboxStorage(
                async_session_manager,
                async_connection_manager.connection,
                config.claim_timeout,
            )

    @override
    def in_transaction(self) -> bool:
        return _current(self._sessions) is not None

    @override
    def in_async_transaction(self) -> bool:
        return _current(self._async_sessions) is not None

    @override
    def storage(self) -> ITaskOutboxStorage:
        return self._storage

    @override
    def async_storage(self) -> IAsyncTaskOutboxStorage | None:
        return self._async_storage

    @override
    def after_commit(self, callback: Callable[[], None]) -> None:
        session = _current(self._sessions)
        if session is None:
            active = _current(self._async_sessions)
            session = None if active is None else active.sync_session
        if session is not None:
            event.listen(session, "after_commit", lambda _: callback(), once=True)


def _current(sessions: Any) -> Any:
    """The session ``sessions`` holds for the calling context, or None."""
    if sessions is None:
        return None
    try:
        return sessions.session
    except SessionNotInitializedError:
        return None
