"""CeleryTaskResult when the result backend fails, and unknown task names."""

import asyncio
import socket
from typing import Any

import pytest
from celery import Celery
from celery.exceptions import NotRegistered

from spakky.dispatch.celery import CeleryTaskResult
from spakky.dispatch.core import ResultBackendUnavailableError, TaskNotRegisteredError

from .celery_fakes import free_port

SECRET = "pw-90d1b"


def _down_backend() -> tuple[Celery, int]:
    port = free_port()
    app = Celery(
        "t",
        broker="memory://",
        backend=f"redis://:{SECRET}@127.0.0.1:{port}/1",
        set_as_current=False,
    )
    app.conf.redis_socket_connect_timeout = 1
    app.conf.redis_socket_timeout = 1
    return app, port


@pytest.mark.timeout(60)
def test_result_backend_unreachable_expect_clear_error_not_task_failure() -> None:
    """Every read of an unreachable backend raises our error, masked, in time."""
    app, port = _down_backend()
    result = CeleryTaskResult[Any](app.AsyncResult("task-1"))
    reads = (
        lambda: result.get(timeout=30),
        lambda: asyncio.run(result.get_async(timeout=30)),
        lambda: result.state,
        result.ready,
    )
    for read in reads:
        with pytest.raises(ResultBackendUnavailableError) as raised:
            read()
        text = str(raised.value)
        assert "state of task-1 could not be read from" in text
        assert f"redis://:**@127.0.0.1:{port}/1" in text
        assert "Connection refused" in text
        assert SECRET not in text


@pytest.mark.timeout(60)
def test_result_silent_backend_expect_error_within_socket_timeout() -> None:
    """A backend that accepts connections but never answers is bounded too."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        app = Celery(
            "t",
            broker="memory://",
            backend=f"redis://127.0.0.1:{port}/1",
            set_as_current=False,
        )
        app.conf.redis_socket_connect_timeout = 0.5
        app.conf.redis_socket_timeout = 0.5
        with pytest.raises(ResultBackendUnavailableError, match="Timeout"):
            CeleryTaskResult[Any](app.AsyncResult("task-2")).get(timeout=30)


def test_result_worker_does_not_know_task_expect_task_not_registered_error() -> None:
    """A worker's NotRegistered rejection reaches the caller as our error."""
    app = Celery(
        "t", broker="memory://", backend="cache+memory://", set_as_current=False
    )
    app.backend.mark_as_failure("task-3", NotRegistered("pkg.Handler.old_name"))
    result = CeleryTaskResult[Any](app.AsyncResult("task-3"))
    with pytest.raises(TaskNotRegisteredError) as raised:
        result.get(timeout=5)
    assert "the worker that received task-3 has no task 'pkg.Handler.old_name'" in (
        str(raised.value)
    )
    with pytest.raises(TaskNotRegisteredError):
        asyncio.run(result.get_async(timeout=5))


def test_result_task_failure_expect_own_exception_not_backend_error() -> None:
    """The task's own exception is re-raised as such."""
    app = Celery(
        "t", broker="memory://", backend="cache+memory://", set_as_current=False
    )
    app.backend.mark_as_failure("task-4", ConnectionError("the task's own"))
    with pytest.raises(ConnectionError, match="the task's own"):
        CeleryTaskResult[Any](app.AsyncResult("task-4")).get(timeout=5)
