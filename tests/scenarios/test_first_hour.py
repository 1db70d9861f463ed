"""Scenarios: what a Celery user meets in the first hour, on every transport.

Call-site argument checks, typed dispatch, waiting inside a running task and
result timeouts that name the queue, against a real worker per transport and
broker.
"""

import asyncio
from typing import Any

import pytest

from spakky.dispatch.core import (
    TaskArgumentsError,
    TaskDispatcher,
    TaskResultTimeoutError,
)
from tests.scenarios.apps.handlers import OrderHandler, Waiter
from tests.scenarios.conftest import Stack

pytestmark = pytest.mark.broker

TIMEOUT = 30


def _queue(stack: Stack) -> str:
    transport = stack.transport
    return stack.env[f"{transport.env_prefix}{transport.queue_setting}"]


def test_scenario_call_not_binding_expect_type_error_at_call_site(
    stack: Stack,
) -> None:
    """A call that does not bind raises TypeError where it is made; nothing runs.

    Before the check the message was published and the TypeError appeared
    only in the worker's log.
    """
    handler: Any = stack.app.container.get(OrderHandler)
    with pytest.raises(TypeError) as sync_call:
        handler.place("ada")
    with pytest.raises(TaskArgumentsError) as async_call:
        asyncio.run(handler.restock(1, 2))
    assert "OrderHandler.place() missing 1 required positional argument: 'items'" in (
        str(sync_call.value)
    )
    assert "OrderHandler.restock() takes 2 positional arguments but 3 were given" in (
        str(async_call.value)
    )
    # the next good call is the first the worker sees
    assert handler.label("fine").get(timeout=TIMEOUT) == "FINE"
    assert "required positional argument" not in stack.worker.log
    assert "positional arguments but" not in stack.worker.log


def test_scenario_typed_send_expect_values_without_cast(stack: Stack) -> None:
    """``TaskDispatcher.send`` / ``send_async`` give typed handles on both transports."""
    dispatcher = stack.app.container.get(TaskDispatcher)
    handler = stack.app.container.get(OrderHandler)
    label: str = dispatcher.send(handler.label, "typed").get(timeout=TIMEOUT)

    async def halve() -> float:
        handle = await dispatcher.send_async(handler.halve, 9)
        return await handle.get_async(timeout=TIMEOUT)

    assert label == "TYPED"
    assert asyncio.run(halve()) == 4.5


@pytest.mark.parametrize("method", ["wait_inside", "wait_inside_async"])
def test_scenario_get_inside_task_expect_refused_at_once(
    stack: Stack, method: str
) -> None:
    """Waiting for a result inside a running task raises at once (Celery's rule)."""
    waiter = stack.app.container.get(Waiter)
    send = stack.app.container.get(TaskDispatcher).send
    outcome = send(getattr(waiter, method), False).get(timeout=TIMEOUT)
    assert outcome["error"] == "WaitInsideTaskError"
    assert outcome["runtime"] is True
    assert f"Waiter.{method} waited for task" in outcome["message"]


@pytest.mark.parametrize("method", ["wait_inside", "wait_inside_async"])
def test_scenario_get_inside_task_opted_in_expect_transport_behaviour(
    stack: Stack, method: str
) -> None:
    """Opted in, the wait happens: a one-slot Celery worker deadlocks until the
    timeout, which names the queue; taskiq runs the child concurrently."""
    waiter = stack.app.container.get(Waiter)
    send = stack.app.container.get(TaskDispatcher).send
    outcome = send(getattr(waiter, method), True).get(timeout=TIMEOUT)
    if stack.transport.name == "celery":
        assert outcome["error"] == "TaskResultTimeoutError"
        assert outcome["timeout"] is True
        assert f"is a worker consuming queue {_queue(stack)!r}?" in outcome["message"]
    else:
        assert outcome == {"value": 0.0}


def test_scenario_result_timeout_expect_timeout_error_naming_queue(
    stack: Stack,
) -> None:
    """A caller's timeout is a TimeoutError that names the task and its queue."""
    waiter: Any = stack.app.container.get(Waiter)
    handle = waiter.nap(1.0)
    with pytest.raises(TimeoutError) as caught:
        handle.get(timeout=0.05)
    assert isinstance(caught.value, TaskResultTimeoutError)
    assert "Waiter.nap" in str(caught.value)
    assert f"is a worker consuming queue {_queue(stack)!r}?" in str(caught.value)
    assert handle.get(timeout=TIMEOUT) == 1.0
