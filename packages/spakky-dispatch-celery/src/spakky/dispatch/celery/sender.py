"""``CeleryTaskSender``: the core's sending port over Celery ``send_task``."""

from collections.abc import Mapping
from typing import Any, override

from celery import Celery
from kombu.exceptions import EncodeError, OperationalError
from kombu.serialization import dumps
from spakky.core.pod.annotations.pod import Pod
from spakky.task.interfaces.task_result import ITaskResult

from spakky.dispatch.celery.app import masked_url
from spakky.dispatch.celery.error import ReservedHeaderError
from spakky.dispatch.celery.result import CeleryTaskResult
from spakky.dispatch.core import (
    BrokerUnavailableError,
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
        try:
            result = self._app.send_task(
                message.task_name,
                args=message.args,
                kwargs=dict(message.kwargs),
                headers=dict(headers) if headers else None,
                task_id=message.task_id,
                queue=options.queue,
                priority=options.priority,
                countdown=options.countdown,
                eta=options.eta,
                expires=options.expires,
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
