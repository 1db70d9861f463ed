"""Task messages on taskiq: our headers and delivery options as message labels.

A ``TaskMessage`` becomes a ``TaskiqMessage`` whose labels are the propagation
headers (unchanged) plus this adapter's own control labels, all under
``spakky.taskiq.``. Workers read the control labels back with ``Control.of``.
"""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from taskiq import AsyncBroker, TaskiqMessage, TaskiqMiddleware
from taskiq.labels import prepare_label
from taskiq.utils import maybe_awaitable

from spakky.dispatch.core.adapter import (
    BrokerConfigurationError,
    BrokerRejectedError,
    BrokerUnavailableError,
    DispatchOptions,
    PublishUnconfirmedError,
    TaskArgumentSerializationError,
    TaskMessage,
    configuration_problem,
    find_unencodable,
)
from spakky.dispatch.taskiq.broker import CONNECTION_ERRORS, describe_broker
from spakky.dispatch.taskiq.config import ENV_PREFIX
from spakky.dispatch.taskiq.error import UnsupportedDispatchOptionError

LABEL_PREFIX = "spakky.taskiq."
"""Prefix of this adapter's own labels; no propagation header may use it."""

RETRIES_LABEL = f"{LABEL_PREFIX}retries"
"""How many times the message was retried already (int)."""

ETA_LABEL = f"{LABEL_PREFIX}eta"
"""Earliest run time, seconds since the epoch (float): countdown, eta, retry delay."""

EXPIRES_LABEL = f"{LABEL_PREFIX}expires"
"""Time after which the task is not run, seconds since the epoch (float)."""

IGNORE_RESULT_LABEL = f"{LABEL_PREFIX}ignore_result"
"""Whether the worker stores no result (bool)."""

MESSAGE_FIELDS: Final = (
    "task_id",
    "task_name",
    "labels",
    "labels_types",
    "args",
    "kwargs",
)
"""``TaskiqMessage``'s fields, in the order ``model_dump`` gives them."""

RESERVED_LABELS = frozenset(
    {
        *MESSAGE_FIELDS,
        "queue_name",
        "priority",
        "delay",
        "x-delay",
        "timeout",
        "ack_type",
        "schedule",
        "schedule_id",
        "retry_on_error",
        "max_retries",
        "_retries",
        "types_of_exceptions",
        "X-Taskiq-requeue",
    }
)
"""Label and header names taskiq, taskiq-redis and taskiq-aio-pika use themselves."""

UNSUPPORTED_OPTIONS: Mapping[str, str] = {
    "queue": (
        "a worker consumes one queue (SPAKKY_TASKIQ__QUEUE); run another "
        "application with its own queue for this task"
    ),
    "routing_key": "the queue's name is the routing key",
    "priority": "neither Redis lists nor the classic queue carry priorities",
    "time_limit": "a running task cannot be stopped from outside on taskiq",
    "soft_time_limit": "a running task cannot be interrupted from outside on taskiq",
}
"""Options of ``DispatchOptions`` this transport refuses, and why."""


def refuse_unsupported(task_name: str, options: DispatchOptions) -> None:
    """Refuse options this transport cannot honour.

    Raises:
        UnsupportedDispatchOptionError: Names the first such option and why.
    """
    for name, reason in UNSUPPORTED_OPTIONS.items():
        if getattr(options, name) is not None:
            raise UnsupportedDispatchOptionError(f"{task_name}: {name} ({reason})")


def control_labels(
    task_name: str, options: DispatchOptions, now: float
) -> dict[str, object]:
    """The control labels for ``options``, sent ``now`` (seconds since the epoch).

    Raises:
        UnsupportedDispatchOptionError: An option this transport cannot honour.
    """
    refuse_unsupported(task_name, options)
    labels: dict[str, object] = {}
    if options.countdown is not None:
        labels[ETA_LABEL] = now + options.countdown
    elif options.eta is not None:
        labels[ETA_LABEL] = options.eta.timestamp()
    if isinstance(options.expires, datetime):
        labels[EXPIRES_LABEL] = options.expires.timestamp()
    elif options.expires is not None:
        labels[EXPIRES_LABEL] = now + options.expires
    if options.ignore_result:
        labels[IGNORE_RESULT_LABEL] = True
    return labels


def prepare_labels(
    labels: Mapping[str, object],
) -> tuple[dict[str, Any], dict[str, int]]:
    """``labels`` as taskiq sends them: the values and their ``LabelType``s."""
    prepared: dict[str, Any] = {}
    types: dict[str, int] = {}
    for name, value in labels.items():
        prepared[name], types[name] = prepare_label(value)
    return prepared, types


def taskiq_message(
    message: TaskMessage,
    task_id: str,
    labels: dict[str, Any],
    types: dict[str, int],
) -> TaskiqMessage:
    """The ``TaskiqMessage`` of ``message`` with labels prepared already."""
    return TaskiqMessage(
        task_id=task_id,
        task_name=message.task_name,
        labels=labels,
        labels_types=types,
        args=list(message.args),
        kwargs=dict(message.kwargs),
    )


def build_message(
    message: TaskMessage, task_id: str, labels: Mapping[str, object]
) -> TaskiqMessage:
    """The ``TaskiqMessage`` of ``message`` with ``labels`` (headers included)."""
    return taskiq_message(message, task_id, *prepare_labels(labels))


@dataclass(frozen=True, slots=True, kw_only=True)
class Control:
    """This adapter's control labels as a worker received them."""

    retries: int = 0
    """Retries made before this delivery."""

    eta: float | None = None
    """Earliest run time, seconds since the epoch."""

    expires: float | None = None
    """Time after which the task is not run, seconds since the epoch."""

    ignore_result: bool = False
    """Whether no result is stored."""

    @classmethod
    def of(cls, labels: Mapping[str, object]) -> "Control":
        """Read the control labels; malformed values count as absent."""
        return cls(
            retries=max(0, int(_number(labels.get(RETRIES_LABEL)) or 0)),
            eta=_number(labels.get(ETA_LABEL)),
            expires=_number(labels.get(EXPIRES_LABEL)),
            ignore_result=labels.get(IGNORE_RESULT_LABEL) is True,
        )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def retry_message(received: TaskiqMessage, retries: int, delay: float) -> TaskiqMessage:
    """``received`` again, counted as retry ``retries``, not to run before ``delay`` s."""
    labels = dict(received.labels)
    labels[RETRIES_LABEL] = retries
    labels[ETA_LABEL] = time.time() + delay
    prepared: dict[str, Any] = {}
    types: dict[str, int] = {}
    for name, value in labels.items():
        prepared[name], types[name] = prepare_label(value)
    return received.model_copy(update={"labels": prepared, "labels_types": types})


async def publish(broker: AsyncBroker, message: TaskiqMessage, timeout: float) -> None:
    """Hand ``message`` to ``broker``, through its middlewares, as ``kiq`` would.

    Raises:
        TaskArgumentSerializationError: An argument cannot be encoded.
        BrokerUnavailableError: The broker cannot be reached.
        PublishUnconfirmedError: The broker did not answer within ``timeout``
            seconds; the message may have been queued.
        BrokerConfigurationError: The broker refused the credentials, the
            virtual host or the database index of its URL.
        BrokerRejectedError: The broker refused the message.
    """
    for middleware in broker.middlewares:
        if type(middleware).pre_send is not TaskiqMiddleware.pre_send:
            message = await maybe_awaitable(middleware.pre_send(message))
    try:
        wire = broker.formatter.dumps(message)
    except Exception as error:
        raise TaskArgumentSerializationError(
            _unserializable(broker, message, error)
        ) from error
    try:
        async with asyncio.timeout(timeout):
            await broker.kick(wire)
    except TimeoutError as error:
        where = describe_broker(broker)
        raise PublishUnconfirmedError(
            f"{message.task_name}: {where} did not answer within {timeout}s; the "
            "task may or may not have been queued"
        ) from error
    except Exception as error:
        where = describe_broker(broker)
        raise publish_error(message.task_name, where, error) from error
    for middleware in reversed(broker.middlewares):
        if type(middleware).post_send is not TaskiqMiddleware.post_send:
            await maybe_awaitable(middleware.post_send(message))


def publish_error(
    task_name: str, where: str, error: Exception
) -> BrokerConfigurationError | BrokerUnavailableError | BrokerRejectedError:
    """Our error for a failed ``kick``: configuration, unreachable or refused."""
    problem = configuration_problem(error)
    if problem is not None:
        return misconfigured(f"{task_name} was not sent to {where}", problem, error)
    if isinstance(error, CONNECTION_ERRORS):
        return BrokerUnavailableError(f"{task_name} was not sent to {where}: {error}")
    return BrokerRejectedError(
        f"{task_name} to {where}: {type(error).__name__}: {error}"
    )


def misconfigured(
    what: str, problem: str, error: BaseException
) -> BrokerConfigurationError:
    """The configuration error for ``problem``, naming the variable to fix."""
    return BrokerConfigurationError(
        f"{what}: {problem}; fix {ENV_PREFIX}BROKER_URL (or the URL of your own "
        f"AsyncBroker) ({type(error).__name__}: {error})"
    )


def _unserializable(
    broker: AsyncBroker, message: TaskiqMessage, error: BaseException
) -> str:
    def encode(value: object) -> object:
        probe = message.model_copy(update={"args": [value], "kwargs": {}})
        return broker.formatter.dumps(probe)

    found = find_unencodable(message.args, message.kwargs, encode)
    if found is None:
        return f"{message.task_name}: cannot be encoded ({error})"
    label, value, cause = found
    return (
        f"{message.task_name}: {label} of type {type(value).__name__} "
        f"cannot be encoded ({cause})"
    )
