"""``TaskiqTaskSender``: the core's sending ports (sync and async) over taskiq."""

import time
from functools import partial
from typing import Any, override

from spakky.core.pod.annotations.pod import Pod
from taskiq import TaskiqMessage

from spakky.dispatch.core.adapter import (
    DEFAULT_MAX_HEADER_BYTES,
    HeaderLimits,
    IAsyncTaskSender,
    ITaskSender,
    TaskMessage,
)
from spakky.dispatch.taskiq.config import ENV_PREFIX, TaskiqConfig
from spakky.dispatch.taskiq.loop import BrokerLoop
from spakky.dispatch.taskiq.message import (
    LABEL_PREFIX,
    RESERVED_LABELS,
    build_message,
    control_labels,
    publish,
)
from spakky.dispatch.taskiq.result import TaskiqTaskResult, queue_of


@Pod()
class TaskiqTaskSender(ITaskSender, IAsyncTaskSender):
    """Publishes task messages with the application's taskiq broker.

    Headers travel as message labels, next to this adapter's control labels
    (``spakky.taskiq.*``). One pod serves both ports: sync callers block until
    the broker has the message, async callers await it. A sync call made on
    the broker's own loop (from an async task) cannot block it: the publish is
    started there and awaited when the task ends (``BrokerLoop.run_or_defer``).
    """

    _loop: BrokerLoop
    _queue: str | None
    _limits: HeaderLimits

    def __init__(self, loop: BrokerLoop, config: TaskiqConfig | None = None) -> None:
        self._loop = loop
        self._queue = None if config is None else config.queue
        self._limits = HeaderLimits(
            reserved=RESERVED_LABELS,
            reserved_prefixes=(LABEL_PREFIX,),
            max_bytes=DEFAULT_MAX_HEADER_BYTES
            if config is None
            else config.max_header_bytes,
            budget_setting=f"{ENV_PREFIX}MAX_HEADER_BYTES",
        )

    @property
    @override
    def header_limits(self) -> HeaderLimits:
        """taskiq's and its brokers' label names, this adapter's own labels
        (``spakky.taskiq.*``) and the budget ``MAX_HEADER_BYTES``."""
        return self._limits

    @override
    def send(self, message: TaskMessage) -> TaskiqTaskResult[Any]:
        prepared = self._prepare(message)
        work = partial(publish, message=prepared, timeout=self._loop.timeout)
        self._loop.run_or_defer(work)
        return self._handle(prepared)

    @override
    async def send_async(self, message: TaskMessage) -> TaskiqTaskResult[Any]:
        prepared = self._prepare(message)
        work = partial(publish, message=prepared, timeout=self._loop.timeout)
        await self._loop.call(work)
        return self._handle(prepared)

    def _handle(self, prepared: TaskiqMessage) -> TaskiqTaskResult[Any]:
        return TaskiqTaskResult(
            prepared.task_id,
            self._loop,
            task_name=prepared.task_name,
            queue=queue_of(self._loop.broker, self._queue),
        )

    @override
    def result_for(self, task_id: str) -> TaskiqTaskResult[Any]:
        """A handle on ``task_id``, as ``send`` returns for it; sends nothing."""
        return TaskiqTaskResult(task_id, self._loop)

    def _prepare(self, message: TaskMessage) -> TaskiqMessage:
        """Translate ``message``; nothing is sent when this raises."""
        labels: dict[str, object] = dict(message.headers)
        labels.update(control_labels(message.task_name, message.options, time.time()))
        task_id = message.task_id or self._loop.broker.id_generator()
        return build_message(message, task_id, labels)
