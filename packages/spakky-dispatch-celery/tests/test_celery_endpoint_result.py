"""Worker endpoints and result handles of the Celery adapter."""

import asyncio
from collections.abc import Mapping
from typing import Any, cast

import pytest
from celery import Celery

from spakky.dispatch.celery import CeleryEndpointRegistrar, CeleryTaskResult
from spakky.dispatch.celery.result import routed_queue
from spakky.dispatch.core import (
    ResultBackendNotConfiguredError,
    RetryableTaskError,
    TaskResultTimeoutError,
)
from spakky.dispatch.core.adapter import (
    DuplicateTaskNameError,
    TaskBinding,
    TaskInvoker,
)


class RecordingInvoker:
    """Stands in for TaskInvoker: records what the endpoint hands over."""

    def __init__(self, outcome: object = "done") -> None:
        self.calls: list[
            tuple[
                str,
                tuple[object, ...],
                dict[str, object],
                dict[str, object],
                str | None,
            ]
        ] = []
        self.outcome = outcome
        self.retries: list[int] = []

    def invoke(
        self,
        task_name: str,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
        retries: int = 0,
    ) -> object:
        self.calls.append((task_name, args, dict(kwargs), dict(headers), task_id))
        self.retries.append(retries)
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class Handler:
    """A handler class whose method the endpoint is named after."""

    def work(self, value: int) -> int:
        """Doubles the value."""
        return value * 2


def _binding() -> TaskBinding:
    return TaskBinding(
        name="pkg.Handler.work",
        handler_type=Handler,
        method_name="work",
        pod_name="handler",
        is_async=False,
    )


def _registered(invoker: RecordingInvoker) -> Celery:
    app = Celery("t", broker="memory://", set_as_current=False)
    CeleryEndpointRegistrar(app, cast(TaskInvoker, invoker)).register(_binding())
    return app


def test_endpoint_registered_on_own_app_only_expect_not_shared() -> None:
    """The endpoint exists on its application only."""
    app = _registered(RecordingInvoker())
    other = Celery("other", broker="memory://", set_as_current=False)
    assert "pkg.Handler.work" in app.tasks
    assert "pkg.Handler.work" not in other.tasks
    assert app.tasks["pkg.Handler.work"].__doc__ == "Doubles the value."


def test_endpoint_apply_expect_invoker_gets_args_headers_and_id() -> None:
    """Arguments, propagation headers and the task id reach the invoker."""
    invoker = RecordingInvoker(outcome=42)
    app = _registered(invoker)
    result = app.tasks["pkg.Handler.work"].apply(
        args=(21,), kwargs={"x": 1}, headers={"traceparent": "00-abc"}, task_id="t-1"
    )
    assert result.get() == 42
    name, args, kwargs, headers, task_id = invoker.calls[0]
    assert (name, args, kwargs, task_id) == ("pkg.Handler.work", (21,), {"x": 1}, "t-1")
    assert headers["traceparent"] == "00-abc"


def test_endpoint_without_headers_expect_empty_mapping() -> None:
    """A message without custom headers gives the invoker an empty mapping."""
    invoker = RecordingInvoker()
    _registered(invoker).tasks["pkg.Handler.work"].apply(args=(1,))
    assert invoker.calls[0][3] == {}


def test_endpoint_retryable_error_expect_bounded_retries_then_failure() -> None:
    """A RetryableTaskError is retried max_retries times, then the task fails."""
    invoker = RecordingInvoker(
        outcome=RetryableTaskError("provider down", delay=0, max_retries=2)
    )
    result = _registered(invoker).tasks["pkg.Handler.work"].apply(args=(1,))
    assert result.failed()
    assert isinstance(result.result, RetryableTaskError)
    assert len(invoker.calls) == 3
    assert invoker.retries == [0, 1, 2]


def test_endpoint_retry_exhausted_expect_final_error_raised() -> None:
    """After the last retry the task fails with the original error, as such."""
    invoker = RecordingInvoker(
        outcome=RetryableTaskError(
            "flaky", delay=0, max_retries=1, final_error=ConnectionError("db down")
        )
    )
    result = _registered(invoker).tasks["pkg.Handler.work"].apply(args=(1,))
    assert isinstance(result.result, ConnectionError)
    assert len(invoker.calls) == 2


def test_result_without_backend_expect_clear_error() -> None:
    """Reading a result with no backend says how to configure one."""
    app = Celery("t", broker="memory://", set_as_current=False)
    result = CeleryTaskResult[Any](app.AsyncResult("some-id"))
    assert result.task_id == "some-id"
    with pytest.raises(ResultBackendNotConfiguredError, match="RESULT_BACKEND"):
        result.get()
    with pytest.raises(ResultBackendNotConfiguredError):
        asyncio.run(result.get_async())
    with pytest.raises(ResultBackendNotConfiguredError):
        _ = result.state


def test_result_pending_expect_timeout_errors() -> None:
    """A task that never finishes times out with our error, sync and async."""
    app = Celery(
        "t", broker="memory://", backend="cache+memory://", set_as_current=False
    )
    result = CeleryTaskResult[Any](app.AsyncResult("never-runs"))
    assert result.state == "PENDING"
    assert result.ready() is False
    with pytest.raises(TaskResultTimeoutError, match="never-runs"):
        result.get(timeout=0.05)
    with pytest.raises(TaskResultTimeoutError, match="never-runs"):
        asyncio.run(result.get_async(timeout=0.05))
    result.revoke()
    assert repr(result) == "<CeleryTaskResult never-runs>"
    assert result.async_result.id == "never-runs"


def test_result_stored_value_expect_get_and_get_async() -> None:
    """A stored result is returned by both get and get_async."""
    app = Celery(
        "t", broker="memory://", backend="cache+memory://", set_as_current=False
    )
    app.backend.store_result("done-id", {"ok": True}, "SUCCESS")
    result = CeleryTaskResult[Any](app.AsyncResult("done-id"))
    assert result.get(timeout=1) == {"ok": True}
    assert asyncio.run(result.get_async(timeout=1)) == {"ok": True}


def test_endpoint_name_taken_by_foreign_task_expect_duplicate_error() -> None:
    """A plain Celery task already using the name is not silently replaced."""
    app = Celery("t", broker="memory://", set_as_current=False)

    @app.task(name="pkg.Handler.work", shared=False)
    def foreign() -> None: ...

    with pytest.raises(DuplicateTaskNameError, match="was not registered from a @Task"):
        CeleryEndpointRegistrar(app, cast(TaskInvoker, RecordingInvoker())).register(
            _binding()
        )


def test_endpoint_reregistered_on_same_app_expect_newest_invoker_used() -> None:
    """A Celery app reused by a newer application routes to the newer invoker."""
    app = Celery("t", broker="memory://", set_as_current=False)
    old, new = RecordingInvoker("old"), RecordingInvoker("new")
    CeleryEndpointRegistrar(app, cast(TaskInvoker, old)).register(_binding())
    CeleryEndpointRegistrar(app, cast(TaskInvoker, new)).register(_binding())
    assert app.tasks["pkg.Handler.work"].apply(args=(1,)).get() == "new"
    assert old.calls == []


def test_result_timeout_expect_timeout_error_naming_routed_queue() -> None:
    """The timeout names the queue: the call's, a route's, or the default."""
    app = Celery(
        "t", broker="memory://", backend="cache+memory://", set_as_current=False
    )
    app.conf.task_default_queue = "mail-default"
    app.conf.task_routes = {"pkg.Reports.*": {"queue": "reports"}}
    routed = CeleryTaskResult[Any](app.AsyncResult("r1"), task_name="pkg.Reports.build")
    default = CeleryTaskResult[Any](app.AsyncResult("r2"), task_name="pkg.Mail.send")
    explicit = CeleryTaskResult[Any](
        app.AsyncResult("r3"), task_name="pkg.Mail.send", queue="urgent"
    )
    anonymous = CeleryTaskResult[Any](app.AsyncResult("r4"))
    assert (routed.queue, default.queue, explicit.queue) == (
        "reports",
        "mail-default",
        "urgent",
    )
    assert anonymous.queue == "mail-default"
    with pytest.raises(TimeoutError) as caught:
        routed.get(timeout=0.01)
    assert str(caught.value).endswith(
        "pkg.Reports.build (r1) did not finish within 0.01s; is a worker "
        "consuming queue 'reports'?"
    )


def test_routed_queue_router_fails_expect_default_queue() -> None:
    """A user's router that cannot route without arguments gives the default."""

    def needs_arguments(
        name: str, args: Any, kwargs: Any, options: Any, **_: Any
    ) -> Any:
        raise LookupError(name)

    app = Celery("t", broker="memory://", set_as_current=False)
    app.conf.task_default_queue = "fallback"
    app.conf.task_routes = (needs_arguments,)
    assert routed_queue(app, "pkg.Mail.send") == "fallback"
