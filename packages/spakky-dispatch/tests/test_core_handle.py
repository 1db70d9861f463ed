"""Result handles: waiting inside a running task, timeouts, typed sends."""

import asyncio
import pickle

import pytest
from spakky.task import TaskHandler, task

import spakky.dispatch.core.handle as handle_module
from spakky.dispatch.core import (
    ITaskHandle,
    TaskDispatcher,
    TaskExecution,
    TaskResultError,
    TaskResultTimeoutError,
    WaitInsideTaskError,
)
from spakky.dispatch.core.context import running_task
from spakky.dispatch.core.handle import (
    poll_pauses,
    refuse_wait_inside_task,
    result_timeout,
)

from .dispatch_core_support import running_app


@TaskHandler()
class Waiter:
    """Tasks that wait for other tasks' results, as users sometimes write."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self.dispatcher = dispatcher

    @task
    def add(self, a: int, b: int) -> int:
        return a + b

    @task
    def wait_for_child(self, allow: bool) -> object:
        child = self.dispatcher.send(self.add, 1, 2)
        try:
            return child.get(timeout=1, allow_inside_task=allow)
        except WaitInsideTaskError as error:
            return error

    @task
    async def await_child(self, allow: bool) -> object:
        child = await self.dispatcher.send_async(self.add, 2, 3)
        try:
            return await child.get_async(timeout=0.05, allow_inside_task=allow)
        except (WaitInsideTaskError, TaskResultTimeoutError) as error:
            return error

    @task
    def execution(self) -> object:
        return running_task()


def test_get_inside_running_task_expect_wait_inside_task_error_at_once() -> None:
    """A task that waits for another's result is refused before any wait."""
    with running_app(Waiter) as app:
        app.dispatcher.send(app.get(Waiter).wait_for_child, False)
        app.sender.run_pending(app.invoker.invoke_message)
        outcome = app.sender.results[0].get()
    assert isinstance(outcome, WaitInsideTaskError)
    assert isinstance(outcome, RuntimeError)
    assert isinstance(outcome, TaskResultError)
    assert "Waiter.wait_for_child waited for task" in str(outcome)
    assert "allow_inside_task=True" in str(outcome)


def test_get_inside_running_task_opted_in_expect_wait_allowed() -> None:
    """``allow_inside_task=True`` waits (here: the child has not run yet)."""
    with running_app(Waiter) as app:
        app.dispatcher.send(app.get(Waiter).wait_for_child, True)
        app.sender.run_pending(app.invoker.invoke_message)
        outcome = app.sender.results[0].error
    # in memory nothing runs the child meanwhile: the opt-in reached the handle
    assert type(outcome).__name__ == "TaskNotRunError"


def test_get_async_inside_running_task_expect_refused_unless_opted_in() -> None:
    """The rule holds for ``get_async`` in async tasks too."""
    with running_app(Waiter) as app:
        waiter = app.get(Waiter)

        async def send_both() -> None:
            await app.dispatcher.send_async(waiter.await_child, False)
            await app.dispatcher.send_async(waiter.await_child, True)

        asyncio.run(send_both())
        app.sender.run_pending(app.invoker.invoke_message)
        refused, opted_in = (app.sender.results[0].get(), app.sender.results[1].get())
    assert isinstance(refused, WaitInsideTaskError)
    assert isinstance(opted_in, TaskResultTimeoutError)


def test_get_outside_task_expect_value() -> None:
    """Callers outside a task wait as before; ``running_task`` is None there."""
    with running_app(Waiter) as app:
        handle = app.dispatcher.send(app.get(Waiter).add, 2, 2)
        app.sender.run_pending(app.invoker.invoke_message)
        assert handle.get() == 4
        assert asyncio.run(handle.get_async(timeout=1)) == 4
    assert running_task() is None
    refuse_wait_inside_task("any", allow_inside_task=False)


def test_running_task_inside_task_expect_its_execution_then_none() -> None:
    """The mark names the running task and its id, and ends with the task."""
    with running_app(Waiter) as app:
        handle = app.dispatcher.send(app.get(Waiter).execution)
        app.sender.run_pending(app.invoker.invoke_message)
        execution = handle.get()
    assert isinstance(execution, TaskExecution)
    assert execution.task_id == handle.task_id
    assert running_task() is None


def test_send_typed_expect_handle_interface() -> None:
    """``send`` and ``send_async`` give ``ITaskHandle`` objects."""
    with running_app(Waiter) as app:
        waiter = app.get(Waiter)
        handle = app.dispatcher.send(waiter.add, 1, 1)
        async_handle = asyncio.run(app.dispatcher.send_async(waiter.add, 1, 2))
    assert isinstance(handle, ITaskHandle)
    assert isinstance(async_handle, ITaskHandle)


def test_result_timeout_expect_timeout_error_naming_task_and_queue() -> None:
    """A result timeout is a ``TimeoutError`` asking whether a worker consumes."""
    named = result_timeout("id-1", "pkg.Mail.send", "mail", 2.5)
    bare = result_timeout("id-2", None, None, None)
    assert isinstance(named, TimeoutError)
    assert str(named) == (
        "Task did not finish in time: pkg.Mail.send (id-1) did not finish within "
        "2.5s; is a worker consuming queue 'mail'?"
    )
    assert str(bare).endswith(
        "id-2 did not finish; is a worker consuming the task's queue?"
    )
    restored = pickle.loads(pickle.dumps(named))
    assert (type(restored), str(restored)) == (TaskResultTimeoutError, str(named))


def test_poll_pauses_expect_growing_pauses_capped_and_ending_at_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """5 ms doubling to 0.25 s; the last pause ends at the deadline, then it stops."""
    clock = [100.0]
    monkeypatch.setattr(handle_module.time, "monotonic", lambda: clock[0])
    forever = poll_pauses(None)
    assert [next(forever) for _ in range(8)] == [
        0.005,
        0.01,
        0.02,
        0.04,
        0.08,
        0.16,
        0.25,
        0.25,
    ]
    pauses = poll_pauses(0.1)
    waited: list[float] = []
    for pause in pauses:
        waited.append(pause)
        clock[0] += pause
    assert waited == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.025])
    assert list(poll_pauses(0)) == []
