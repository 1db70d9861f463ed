"""``CeleryTaskSender``: the core's sending port over Celery ``send_task``."""

from collections.abc import Mapping
from typing import Any, override

from celery import Celery
from kombu.exceptions import EncodeError, OperationalError
from kombu.serialization import dumps
from spakky.core.pod.annotations.pod import Pod
from spakky.task.interfaces.task_result import ITaskResult

from spakky.dispatch.celery.app import masked_url
from spakky.dispatch.celery.error import ReservedHeaderError, UnknownQueueError
from spakky.dispatch.celery.result import CeleryTaskResult
from spakky.dispatch.core import (
    DEFAULT_OPTIONS,
    BrokerUnavailableError,
    DispatchOptions,
    ITaskSender,
    TaskArgumentSerializationError,
    TaskMessage,
)

RESERVED_HEADERS = frozenset(
    {
        "lang",
        "task",
        "id",
        "shadow",
        "eta",
        "expires",
        "group",
        "group_index",
        "retries",
        "timelimit",
        "root_id",
        "parent_id",
        "argsrepr",
        "kwargsrepr",
        "origin",
        "ignore_result",
        "replaced_task_nesting",
        "stamped_headers",
        "stamps",
        "headers",
        "correlation_id",
        "reply_to",
        "delivery_info",
        "args",
        "kwargs",
        "hostname",
        "chord",
        "chain",
        "callbacks",
        "errbacks",
    }
)
"""Names Celery's protocol-2 message and task request use for themselves."""


@Pod()
class CeleryTaskSender(ITaskSender):
    """Publishes task messages with the application's Celery ``send_task``."""

    _app: Celery

    def __init__(self, app: Celery) -> None:
        self._app = app

    @override
    def send(self, message: TaskMessage) -> ITaskResult[Any]:
        headers = message.headers
        if headers and not RESERVED_HEADERS.isdisjoint(headers):
            clash = sorted(RESERVED_HEADERS.intersection(headers))
            raise ReservedHeaderError(f"{message.task_name}: {clash}")
        options = message.options
        if options.queue is not None:
            self._check_queue(message.task_name, options.queue)
        try:
            result = self._app.send_task(
                message.task_name,
                args=message.args,
                kwargs=dict(message.kwargs),
                headers=dict(headers) if headers else None,
                task_id=message.task_id,
                **self._options(options),
            )
        except EncodeError as error:
            raise TaskArgumentSerializationError(
                self._describe_unserializable(message, error)
            ) from error
        except OperationalError as error:
            raise BrokerUnavailableError(
                f"{message.task_name} was not sent to "
                f"{masked_url(self._app.conf.broker_url)}: {error}"
            ) from error
        return CeleryTaskResult[Any](result)

    def _options(self, options: DispatchOptions) -> dict[str, Any]:
        """The options that are set; unset ones keep Celery's configured defaults."""
        if options is DEFAULT_OPTIONS:
            return {}
        given = {
            "queue": options.queue,
            "routing_key": options.routing_key,
            "exchange": self._exchange_for(options.routing_key),
            "priority": options.priority,
            "countdown": options.countdown,
            "eta": options.eta,
            "expires": options.expires,
            "time_limit": options.time_limit,
            "soft_time_limit": options.soft_time_limit,
            "ignore_result": options.ignore_result,
        }
        return {name: value for name, value in given.items() if value is not None}

    def _exchange_for(self, routing_key: str | None) -> str | None:
        # Celery drops a routing key sent without an exchange (it publishes to
        # the queue directly), so a routing key goes to the default exchange.
        if routing_key is None:
            return None
        conf = self._app.conf
        return str(conf.task_default_exchange or conf.task_default_queue)

    def _check_queue(self, task_name: str, queue: str) -> None:
        declared = self._app.conf.task_queues
        if declared and queue not in {q.name for q in declared}:
            names = sorted(q.name for q in declared)
            raise UnknownQueueError(
                f"{task_name}: queue {queue!r} is not among the declared queues "
                f"{names}; declare it in task_queues or use one of them"
            )

    def _describe_unserializable(
        self, message: TaskMessage, error: BaseException
    ) -> str:
        serializer = str(self._app.conf.task_serializer)
        named: list[tuple[str, object]] = [
            (f"argument {index}", value) for index, value in enumerate(message.args)
        ]
        named += [
            (f"argument {name!r}", value) for name, value in _items(message.kwargs)
        ]
        for label, value in named:
            try:
                dumps(value, serializer=serializer)
            except Exception as cause:
                return (
                    f"{message.task_name}: {label} of type {type(value).__name__} "
                    f"cannot be encoded with {serializer} ({cause})"
                )
        return f"{message.task_name}: cannot be encoded with {serializer} ({error})"


def _items(kwargs: Mapping[str, object]) -> list[tuple[str, object]]:
    return list(kwargs.items())
