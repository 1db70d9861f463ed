"""``ITaskSenderDecorator`` and ``ITaskSender.result_for``: the hooks for a sender wrapper."""

import asyncio
from typing import Any, override

import pytest
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task
from spakky.task.interfaces.task_result import ITaskResult

from spakky.dispatch.core.adapter import (
    IAsyncTaskSender,
    ITaskSender,
    ITaskSenderDecorator,
    ResultLookupUnsupportedError,
    TaskMessage,
)
from spakky.dispatch.core.testing import InMemoryTaskSender

from .dispatch_core_support import running_app


@TaskHandler()
class NoteTasks:
    @task
    def note(self, text: str) -> str:
        return text

    @task
    async def note_async(self, text: str) -> str:
        return text


class Wrapping(ITaskSender, IAsyncTaskSender):
    """Keeps each message and the transport's senders it was given."""

    def __init__(
        self, inner: ITaskSender, inner_async: IAsyncTaskSender | None
    ) -> None:
        self.inner = inner
        self.inner_async = inner_async
        self.kept = InMemoryTaskSender()

    @override
    def send(self, message: TaskMessage) -> ITaskResult[Any]:
        return self.kept.send(message)

    @override
    async def send_async(self, message: TaskMessage) -> ITaskResult[Any]:
        return self.kept.send(message)


@Pod()
class KeepingDecorator(ITaskSenderDecorator):
    """Puts a ``Wrapping`` sender in front of the transport's."""

    made: list[Wrapping]

    def __init__(self) -> None:
        self.made = []

    @override
    def decorate(
        self, sender: ITaskSender, async_sender: IAsyncTaskSender | None
    ) -> tuple[ITaskSender, IAsyncTaskSender | None]:
        wrapping = Wrapping(sender, async_sender)
        self.made.append(wrapping)
        return wrapping, wrapping


def test_dispatcher_with_decorator_expect_messages_through_decorated_senders() -> None:
    """Sync and async dispatches go to the decorator's senders, not the transport's."""
    with running_app(NoteTasks, KeepingDecorator) as app:
        tasks = app.get(NoteTasks)
        sync_handle = app.dispatcher.send(tasks.note, "a")
        binding = app.dispatcher.binding_of(tasks.note_async)
        async_handle = asyncio.run(app.dispatcher.dispatch_async(binding, ("b",), {}))
        [wrapping] = app.get(KeepingDecorator).made
        transport = app.get(ITaskSender)
        assert transport is app.sender
    assert wrapping.inner is transport
    assert wrapping.inner_async is None
    assert transport.messages == []
    assert [m.task_id for m in wrapping.kept.messages] == [
        sync_handle.task_id,
        async_handle.task_id,
    ]


def test_dispatcher_without_decorator_expect_transport_sender() -> None:
    """With no decorator registered the transport's sender gets the message."""
    with running_app(NoteTasks) as app:
        handle = app.dispatcher.send(app.get(NoteTasks).note, "a")
        assert [m.task_id for m in app.sender.messages] == [handle.task_id]


def test_task_sender_result_for_default_expect_lookup_unsupported() -> None:
    """A sender that does not override ``result_for`` says it cannot look ids up."""
    with pytest.raises(ResultLookupUnsupportedError) as caught:
        InMemoryTaskSender().result_for("some-id")
    assert "InMemoryTaskSender" in str(caught.value)
    assert "use the handle its send() returned" in str(caught.value)
