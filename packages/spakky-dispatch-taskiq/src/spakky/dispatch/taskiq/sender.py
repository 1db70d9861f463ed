"""``TaskiqTaskSender``: the core's sending ports (sync and async) over taskiq."""

import time
from functools import partial
from typing import Any, override

from spakky.core.pod.annotations.pod import Pod
from taskiq import TaskiqMessage

from spakky.dispatch.core import IAsyncTaskSender, ITaskSender, TaskMessage
from spakky.dispatch.taskiq.config import TaskiqConfig
from spakky.dispatch.taskiq.loop import BrokerLoop
from spakky.dispatch.taskiq.message import (
    build_message,
    check_headers,
    control_labels,
    publish,
)
from spakky.dispatch.taskiq.result import TaskiqTaskResult, queue_of


@Pod()
class TaskiqTaskSender(ITaskSender, IAsyncTaskSender):
    """Publishes task messages with the application's taskiq broker.

    Headers travel as message labels, next to this adapter's control labels
    (``spakky.taskiq.*``). One pod serves both ports: sync callers block until
    the broker has the message, async callers await it.
    """

    _loop: BrokerLoop
    _queue: str | None

    def __init__(self, loop: BrokerLoop, config: TaskiqConfig | None = None) -> None:
        self._loop = loop
        self._queue = None if config is None else config.queue

    @override
    def send(self, message: TaskMessage) -> TaskiqTaskResult[Any]:
        prepared = self._prepare(message)
        self._loop.run(partial(publish, message=prepared, timeout=self._loop.timeout))
        return self._handle(prepared)

    @override
    async def send_async(self, message: TaskMessage) -> TaskiqTaskResult[Any]:
        prepared = self._prepare(message)
        work = partial(publish, message=prepared, timeout=self._loop.timeout)
        await self._loop.call(work)
        return self._handle(prepared)

    def _handle(self, prepared: TaskiqMessage) -> TaskiqTaskResult[Any]:
        return TaskiqTaskResult[Any](
            prepared.task_id,
            self._loop,
            task_name=prepared.task_name,
            queue=queue_of(self._loop.broker, self._queue),
        )

    @override
    def result_for(self, task_id: str) -> TaskiqTaskResult[Any]:
        """A handle on ``task_id``, as ``send`` returns for it; sends nothing."""
        return TaskiqTaskResult[Any](task_id, self._loop)

    def _prepare(self, message: TaskMessage) -> TaskiqMessage:
        """Check and translate ``message``; nothing is sent when this raises."""
        check_headers(message.task_name, message.headers)
        labels: dict[str, object] = dict(message.headers)
        labels.update(control_labels(message.task_name, message.options, time.time()))
        task_id = message.task_id or self._loop.broker.id_generator()
        return build_message(message, task_id, labels)
