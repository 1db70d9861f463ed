"""``InMemoryTaskSender`` / ``InMemoryTaskResult``: the core's own test transport."""

import asyncio

import pytest
from spakky.task import TaskHandler, task

from spakky.dispatch.core import TaskDispatcher, TaskResultError, TaskResultTimeoutError
from spakky.dispatch.core.adapter import ITaskSender, TaskMessage, task_name_for
from spakky.dispatch.core.testing import (
    InMemoryTaskResult,
    InMemoryTaskSender,
    TaskNotRunError,
)

from .dispatch_core_support import running_app


@TaskHandler()
class ChainTasks:
    """Tasks that send more tasks while they run."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self.dispatcher = dispatcher

    @task
    def start(self, depth: int) -> int:
        """Send ``step`` once per remaining depth level."""
        if depth > 0:
            self.dispatcher.send(self.start, depth - 1)
        return depth

    @task
    def fail(self, reason: str) -> None:
        """Always fails."""
        raise ValueError(reason)

    @task
    def nothing(self) -> None:
        """Succeeds with None."""


def _echo(message: TaskMessage) -> object:
    return (message.task_name, message.args, dict(message.kwargs))


def test_sender_send_expect_message_captured_with_fresh_id() -> None:
    """Sending keeps the message, assigning a unique id when it has none."""
    sender = InMemoryTaskSender()
    first = sender.send(TaskMessage(task_name="a", args=(1,)))
    second = sender.send(TaskMessage(task_name="a", args=(1,)))
    assert isinstance(sender, ITaskSender)
    assert [r.message.task_name for r in sender.results] == ["a", "a"]
    assert first.task_id
    assert second.task_id
    assert first.task_id != second.task_id
    assert sender.messages == [first.message, second.message]
    assert first.message.args == (1,)


def test_sender_send_with_id_expect_message_kept_as_is() -> None:
    """A message that already has an id is captured unchanged."""
    sender = InMemoryTaskSender()
    message = TaskMessage(task_name="a", headers={"h": "v"}, task_id="given")
    handle = sender.send(message)
    assert handle.task_id == "given"
    assert handle.message is message


def test_sender_send_without_id_expect_every_field_but_id_kept() -> None:
    """Assigning an id keeps name, arguments, headers and options."""
    sender = InMemoryTaskSender()
    message = TaskMessage(task_name="a", args=(1,), kwargs={"k": 2}, headers={"h": "v"})
    captured = sender.send(message).message
    assert (
        captured.task_name,
        captured.args,
        captured.kwargs,
        captured.headers,
        captured.options,
    ) == (
        message.task_name,
        message.args,
        message.kwargs,
        message.headers,
        message.options,
    )


def test_result_before_run_expect_not_ready_and_not_run_error() -> None:
    """Reading a captured task's result before it ran says to run it first."""
    handle = InMemoryTaskSender().send(TaskMessage(task_name="pkg.Tasks.a"))
    assert handle.ready is False
    with pytest.raises(TaskNotRunError) as caught:
        handle.get()
    assert isinstance(caught.value, TaskResultError)
    assert caught.value.detail == "pkg.Tasks.a"
    assert "run_pending" in str(caught.value)


def test_sender_run_pending_expect_values_on_handles_in_order() -> None:
    """Running pending messages settles each handle with the runner's value."""
    sender = InMemoryTaskSender()
    first = sender.send(TaskMessage(task_name="a", args=(1,)))
    second = sender.send(TaskMessage(task_name="b", kwargs={"k": 2}))
    ran: list[str] = []

    def runner(message: TaskMessage) -> object:
        ran.append(message.task_name)
        return _echo(message)

    assert sender.run_pending(runner) == 2
    assert ran == ["a", "b"]
    assert first.ready
    assert second.ready
    assert first.get() == ("a", (1,), {})
    assert second.get() == ("b", (), {"k": 2})


def test_sender_run_pending_twice_expect_nothing_rerun() -> None:
    """Messages that already ran are not run again."""
    sender = InMemoryTaskSender()
    sender.send(TaskMessage(task_name="a"))
    calls: list[str] = []
    sender.run_pending(lambda m: calls.append(m.task_name))
    assert sender.run_pending(lambda m: calls.append(m.task_name)) == 0
    sender.send(TaskMessage(task_name="b"))
    assert sender.run_pending(lambda m: calls.append(m.task_name)) == 1
    assert calls == ["a", "b"]


def test_sender_run_pending_none_value_expect_ready_with_none() -> None:
    """A task returning None counts as run and yields None."""
    sender = InMemoryTaskSender()
    handle = sender.send(TaskMessage(task_name="a"))
    sender.run_pending(lambda _: None)
    assert handle.ready
    assert handle.get() is None


def test_sender_run_pending_failure_expect_error_on_handle_not_raised() -> None:
    """A task's exception is kept on its handle; later tasks still run."""
    sender = InMemoryTaskSender()
    failing = sender.send(TaskMessage(task_name="bad"))
    later = sender.send(TaskMessage(task_name="good"))

    def runner(message: TaskMessage) -> object:
        if message.task_name == "bad":
            raise LookupError("no such row")
        return "ok"

    assert sender.run_pending(runner) == 2
    assert failing.ready
    assert isinstance(failing.error, LookupError)
    with pytest.raises(LookupError, match="no such row"):
        failing.get()
    assert later.get() == "ok"


def test_sender_run_pending_with_invoker_expect_tasks_run_on_handlers() -> None:
    """With ``TaskInvoker.invoke_message`` as runner the handlers really run."""
    with running_app(ChainTasks) as app:
        handler = app.get(ChainTasks)
        ok = app.dispatcher.send(handler.nothing)
        bad = app.dispatcher.send(handler.fail, "broken")
        assert app.sender.run_pending(app.invoker.invoke_message) == 2
    assert ok.get() is None
    assert isinstance(bad, InMemoryTaskResult)
    with pytest.raises(ValueError, match="broken"):
        bad.get()


def test_sender_run_pending_tasks_sent_while_running_expect_run_too() -> None:
    """Tasks dispatched by running tasks are run in the same call, in order."""
    with running_app(ChainTasks) as app:
        app.dispatcher.send(app.get(ChainTasks).start, 3)
        ran = app.sender.run_pending(app.invoker.invoke_message)
        handles = list(app.sender.results)
    assert ran == 4
    assert [(h.message.args, h.get()) for h in handles] == [
        ((3,), 3),
        ((2,), 2),
        ((1,), 1),
        ((0,), 0),
    ]
    assert {h.message.task_name for h in handles} == {
        task_name_for(ChainTasks, "start")
    }


def test_sender_clear_expect_nothing_captured() -> None:
    """``clear`` forgets every captured message."""
    sender = InMemoryTaskSender()
    sender.send(TaskMessage(task_name="a"))
    sender.clear()
    assert sender.results == []
    assert sender.messages == []
    assert sender.run_pending(_echo) == 0


def test_result_get_async_already_run_expect_value() -> None:
    """``get_async`` on a settled handle returns at once."""
    sender = InMemoryTaskSender()
    handle = sender.send(TaskMessage(task_name="a", args=(2,)))
    sender.run_pending(lambda m: m.args[0])
    assert asyncio.run(handle.get_async(timeout=5)) == 2


def test_result_get_async_settled_while_waiting_expect_value() -> None:
    """``get_async`` waits for a handle settled after it started waiting."""
    sender = InMemoryTaskSender()
    handle = sender.send(TaskMessage(task_name="a"))

    async def scenario() -> object:
        waiter = asyncio.create_task(handle.get_async(timeout=10))
        await asyncio.sleep(0)
        assert not waiter.done()
        sender.run_pending(lambda _: "late")
        return await waiter

    assert asyncio.run(scenario()) == "late"


def test_result_get_async_failed_expect_task_error() -> None:
    """``get_async`` raises the task's own exception."""
    sender = InMemoryTaskSender()
    handle = sender.send(TaskMessage(task_name="a"))

    def runner(message: TaskMessage) -> object:
        raise PermissionError("denied")

    sender.run_pending(runner)
    with pytest.raises(PermissionError, match="denied"):
        asyncio.run(handle.get_async())


def test_result_get_async_never_run_expect_timeout_error_naming_task() -> None:
    """Waiting longer than allowed raises a result timeout naming the task."""
    handle = InMemoryTaskSender().send(TaskMessage(task_name="pkg.Tasks.slow"))
    with pytest.raises(TaskResultTimeoutError) as caught:
        asyncio.run(handle.get_async(timeout=0.01))
    assert str(caught.value.detail).startswith(f"pkg.Tasks.slow ({handle.task_id})")
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert handle.ready is False
