"""Scenarios: dispatch, results, inline calls, failures and retries on a real worker."""

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery.exceptions import TaskRevokedError

from spakky.dispatch.core import ResultBackendNotConfiguredError, dispatch_options
from spakky.dispatch.taskiq import TaskExpiredError
from tests.scenarios.apps.app import build_app
from tests.scenarios.apps.handlers import OrderHandler
from tests.scenarios.conftest import Stack

pytestmark = pytest.mark.broker

TIMEOUT = 30

EXPIRED_ERRORS: dict[str, type[Exception]] = {
    "celery": TaskRevokedError,
    "taskiq": TaskExpiredError,
}
"""A known difference: what ``get()`` raises for a task that expired unrun."""


def test_scenario_sync_and_async_tasks_expect_results_computed_by_worker(
    stack: Stack,
) -> None:
    """Sync and async @task calls run on the worker with DI; values come back.

    The call returns the transport's result handle. The sync task calls
    another @task inline and sees its own execution; the dependency injected
    into it was made in the worker process. The async task reuses a loop-bound
    pool on the worker's long-lived loop and awaits another @task inline; an
    async task is also dispatched from async caller code and awaited with
    ``get_async``.
    """
    handler: Any = stack.app.container.get(OrderHandler)  # @task calls give handles
    placed = handler.place("ada", ["tea", "cake"])

    async def restock_twice() -> list[dict[str, Any]]:
        first = await (await handler.restock(8)).get_async(timeout=TIMEOUT)
        second = await (await handler.restock(4)).get_async(timeout=TIMEOUT)
        return [first, second]

    restocked = asyncio.run(restock_twice())
    value = placed.get(timeout=TIMEOUT)

    assert isinstance(placed, stack.transport.handle_type)
    assert placed.task_id
    assert value["greeting"] == f"hello ada from greeter@{value['pid']}"
    assert value["label"] == "2 ITEMS"
    assert value["task"] == "tests.scenarios.apps.handlers.OrderHandler.place"
    assert value["task_id"] == placed.task_id
    assert value["pid"] != os.getpid()
    assert [run["half"] for run in restocked] == [4.0, 2.0]
    assert restocked[1]["uses"] == restocked[0]["uses"] + 1
    assert restocked[0]["loop"] == restocked[1]["loop"]
    assert {run["pid"] for run in restocked} == {value["pid"]}


def test_scenario_failures_and_retry_policy_expect_same_errors_and_attempts(
    stack: Stack,
) -> None:
    """A task's own exception reaches the caller; retries are bounded by the policy.

    ``charge`` retries ConnectionError at most twice: failing twice succeeds on
    the third attempt, failing five times fails after three attempts with the
    task's own error.
    """
    handler: Any = stack.app.container.get(OrderHandler)
    recovers, gives_up = f"ok-{uuid.uuid4().hex}", f"down-{uuid.uuid4().hex}"
    rejected = handler.reject("out of stock")
    recovered = handler.charge(recovers, 2)
    exhausted = handler.charge(gives_up, 5)

    with pytest.raises(ValueError, match="out of stock"):
        rejected.get(timeout=TIMEOUT)
    assert recovered.get(timeout=TIMEOUT) == 3
    with pytest.raises(ConnectionError, match=r"attempt 3\)"):
        exhausted.get(timeout=TIMEOUT)
    assert stack.attempts(recovers) == 3
    assert stack.attempts(gives_up) == 3


def test_scenario_no_result_backend_expect_not_configured_error(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a result backend the task is sent, but reading its result says why not."""
    monkeypatch.delenv(f"{stack.transport.env_prefix}RESULT_BACKEND")
    app = build_app(stack.transport.name)
    try:
        handler: Any = app.container.get(OrderHandler)
        handle = handler.label("sent anyway")
        assert isinstance(handle.task_id, str)
        assert handle.task_id
        with pytest.raises(ResultBackendNotConfiguredError):
            handle.get(timeout=1)
        with pytest.raises(ResultBackendNotConfiguredError):
            asyncio.run(handle.get_async(timeout=1))
    finally:
        app.stop()


def test_scenario_countdown_and_expiry_expect_delayed_run_and_expired_not_run(
    stack: Stack,
) -> None:
    """A countdown delays the run but the task runs; an expired task never runs.

    The caller learns of the expiry from ``get()``; the error class is the
    transport's own (Celery's revocation, taskiq's ``TaskExpiredError``).
    """
    handler: Any = stack.app.container.get(OrderHandler)
    key = f"expired-{uuid.uuid4().hex}"
    with dispatch_options(countdown=0.5):
        later = handler.label("later")
    with dispatch_options(expires=datetime.now(UTC) - timedelta(seconds=5)):
        expired = handler.charge(key, 0)
    assert later.get(timeout=TIMEOUT) == "LATER"
    with pytest.raises(EXPIRED_ERRORS[stack.transport.name]):
        expired.get(timeout=TIMEOUT)
    assert stack.attempts(key) == 0
