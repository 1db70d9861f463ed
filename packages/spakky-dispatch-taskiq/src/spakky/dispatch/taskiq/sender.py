"""``TaskiqTaskSender``: the core's sending ports (sync and async) over taskiq."""

import time
from datetime import datetime
from functools import partial
from typing import Any, Final, override

from spakky.core.pod.annotations.pod import Pod
from taskiq.labels import LabelType, prepare_label

from spakky.dispatch.core.adapter import (
    DEFAULT_MAX_HEADER_BYTES,
    DispatchOptions,
    HeaderLimits,
    IAsyncTaskSender,
    ITaskSender,
    TaskMessage,
)
from spakky.dispatch.taskiq.config import ENV_PREFIX, TaskiqConfig
from spakky.dispatch.taskiq.fast_send import FastSend, fast_send_for
from spakky.dispatch.taskiq.loop import BrokerLoop, BrokerWork
from spakky.dispatch.taskiq.message import (
    LABEL_PREFIX,
    RESERVED_LABELS,
    control_labels,
    prepare_labels,
    publish,
    refuse_unsupported,
    taskiq_message,
)
from spakky.dispatch.taskiq.result import TaskiqTaskResult, queue_of

_STR: Final = LabelType.STR.value
"""The label type of a ``str`` label (``prepare_label``'s)."""

_MAX_CONTROLS: Final = 1024
"""Tasks whose control labels are kept before the cache starts over."""

type _Labels = tuple[dict[str, Any], dict[str, int]]
"""Prepared labels and their types, as ``TaskiqMessage`` carries them."""


def _timeless(options: DispatchOptions) -> bool:
    """Whether the control labels of ``options`` do not depend on the send time."""
    expires = options.expires
    return options.countdown is None and (
        expires is None or isinstance(expires, datetime)
    )


@Pod()
class TaskiqTaskSender(ITaskSender, IAsyncTaskSender):
    """Publishes task messages with the application's taskiq broker.

    Headers travel as message labels, next to this adapter's control labels
    (``spakky.taskiq.*``). One pod serves both ports: sync callers block until
    the broker has the message, async callers await it. A sync call made on
    the broker's own loop (from an async task) cannot block it: the publish is
    started there and awaited when the task ends (``BrokerLoop.run_or_defer``).

    Messages are built and sent as ``kiq`` would; where ``fast_send`` applies
    (plain arguments, taskiq's own formatter, no middleware seeing sends;
    ``SPAKKY_TASKIQ__FAST_SEND=false`` turns it off), the broker message is
    built directly and taskiq-redis's publish made on one
    long-lived client. A task's control labels are worked out once per
    declared options (unless they depend on the send time).
    """

    _loop: BrokerLoop
    _queue: str | None
    _limits: HeaderLimits
    _sent_to: str | None
    _fast: FastSend | None
    _fast_known: bool
    _fast_allowed: bool
    _controls: dict[str, tuple[DispatchOptions, _Labels | None]]

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
        self._sent_to = None
        self._fast = None
        self._fast_known = False
        self._fast_allowed = config is None or config.fast_send
        self._controls = {}

    @property
    @override
    def header_limits(self) -> HeaderLimits:
        """taskiq's and its brokers' label names, this adapter's own labels
        (``spakky.taskiq.*``) and the budget ``MAX_HEADER_BYTES``."""
        return self._limits

    @override
    def send(self, message: TaskMessage) -> TaskiqTaskResult[Any]:
        work, task_id = self._prepare(message)
        self._loop.run_or_defer(work)
        return self._handle(task_id, message.task_name)

    @override
    async def send_async(self, message: TaskMessage) -> TaskiqTaskResult[Any]:
        work, task_id = self._prepare(message)
        await self._loop.call(work)
        return self._handle(task_id, message.task_name)

    def _handle(self, task_id: str, task_name: str) -> TaskiqTaskResult[Any]:
        return TaskiqTaskResult(
            task_id, self._loop, task_name=task_name, queue=self._sent_to
        )

    @override
    def result_for(self, task_id: str) -> TaskiqTaskResult[Any]:
        """A handle on ``task_id``, as ``send`` returns for it; sends nothing."""
        return TaskiqTaskResult(task_id, self._loop)

    def _prepare(self, message: TaskMessage) -> tuple[BrokerWork[None], str]:
        """The publish of ``message`` and its task id; nothing is sent when this
        raises."""
        labels, types = self._labels(message)
        loop = self._loop
        task_id = message.task_id or loop.broker.id_generator()
        fast = self._fast if self._fast_known else self._fast_path()
        if fast is not None:
            wire = fast.wire(
                task_id, message.task_name, labels, types, message.args, message.kwargs
            )
            if wire is not None:
                return partial(fast.send, wire=wire, timeout=loop.timeout), task_id
        prepared = taskiq_message(message, task_id, labels, types)
        return partial(publish, message=prepared, timeout=loop.timeout), task_id

    def _fast_path(self) -> FastSend | None:
        """On the first send: the fast path, and the queue handles name."""
        broker = self._loop.broker
        self._sent_to = queue_of(broker, self._queue)
        self._fast = fast_send_for(broker) if self._fast_allowed else None
        self._fast_known = True
        return self._fast

    def _labels(self, message: TaskMessage) -> _Labels:
        """The headers, then the control labels, prepared as taskiq labels.

        Raises:
            UnsupportedDispatchOptionError: An option this transport cannot honour.
        """
        name, options = message.task_name, message.options
        entry = self._controls.get(name)
        if entry is None or entry[0] is not options:
            entry = self._remember(name, options)
        control = entry[1]
        if control is None:
            control = prepare_labels(control_labels(name, options, time.time()))
        headers = message.headers
        if not headers:
            return dict(control[0]), dict(control[1])
        values: dict[str, Any] = {}
        types: dict[str, int] = {}
        for header, value in headers.items():
            if type(value) is str:
                values[header], types[header] = value, _STR
            else:
                values[header], types[header] = prepare_label(value)
        values.update(control[0])
        types.update(control[1])
        return values, types

    def _remember(
        self, name: str, options: DispatchOptions
    ) -> tuple[DispatchOptions, _Labels | None]:
        """Check ``options`` once; keep their control labels unless they depend
        on the send time."""
        refuse_unsupported(name, options)
        control = (
            prepare_labels(control_labels(name, options, 0.0))
            if _timeless(options)
            else None
        )
        if len(self._controls) >= _MAX_CONTROLS:
            self._controls.clear()
        entry = self._controls[name] = (options, control)
        return entry
