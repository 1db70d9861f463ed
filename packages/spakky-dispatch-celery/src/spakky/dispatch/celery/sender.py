"""``CeleryTaskSender``: the core's sending port over Celery ``send_task``."""

import socket
from collections.abc import Iterator, Mapping
from typing import Any, override

from amqp.exceptions import MessageNacked
from celery import Celery
from kombu.exceptions import EncodeError, OperationalError
from kombu.serialization import dumps
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.celery.app import MAX_HEADER_BYTES_KEY, PUBLISH_TIMEOUT_KEY
from spakky.dispatch.celery.config import ENV_PREFIX
from spakky.dispatch.celery.error import UnknownQueueError
from spakky.dispatch.celery.producer import TaskPublisher
from spakky.dispatch.celery.result import CeleryTaskResult
from spakky.dispatch.celery.urls import masked_url, scrub
from spakky.dispatch.core.adapter import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_OPTIONS,
    BrokerConfigurationError,
    BrokerRejectedError,
    BrokerUnavailableError,
    DispatchOptions,
    HeaderLimits,
    ITaskSender,
    PublishUnconfirmedError,
    TaskArgumentSerializationError,
    TaskDispatchError,
    TaskMessage,
    configuration_problem,
    find_unencodable,
)

type _Errors = tuple[type[BaseException], ...]

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
    _errors: tuple[_Errors, _Errors] | None
    _publisher: TaskPublisher

    def __init__(self, app: Celery) -> None:
        self._app = app
        self._errors = None
        self._publisher = TaskPublisher(app)

    @property
    @override
    def header_limits(self) -> HeaderLimits:
        """Celery's own message fields, and the budget ``MAX_HEADER_BYTES``."""
        budget = self._app.conf.get(MAX_HEADER_BYTES_KEY)
        return HeaderLimits(
            reserved=RESERVED_HEADERS,
            max_bytes=int(budget or DEFAULT_MAX_HEADER_BYTES),
            budget_setting=f"{ENV_PREFIX}MAX_HEADER_BYTES (or app.conf."
            f"{MAX_HEADER_BYTES_KEY} of your own Celery app)",
        )

    @override
    def send(self, message: TaskMessage) -> CeleryTaskResult[Any]:
        """Publish ``message``; every refusal happens before anything is sent.

        Raises:
            UnknownQueueError: The queue is not declared.
            TaskArgumentSerializationError: An argument cannot be serialized.
            BrokerUnavailableError: The broker could not be reached, or did not
                answer, within the connection timeout and publish retries.
            BrokerConfigurationError: The broker refused the credentials, the
                virtual host or the database index of the broker URL.
            BrokerRejectedError: The broker refused the message.
        """
        headers = message.headers
        conf = self._app.conf
        options = message.options
        if options.queue is not None:
            check_queue(self._app, message.task_name, options.queue)
        failures: list[BaseException] = []  # of every publish attempt

        def failed(error: BaseException, _: object) -> None:
            failures.append(error)
            if configuration_problem(error) is not None:
                raise error  # retrying cannot fix the URL: stop at once

        try:
            result = self._publisher.publish(
                message.task_name,
                message.args,
                dict(message.kwargs),
                dict(headers) if headers else None,
                message.task_id,
                {
                    "retry_policy": {"errback": failed},
                    **send_options(self._app, options),
                    **self._publish_timeouts(),
                },
            )
        except EncodeError as error:
            serializer = str(conf.task_serializer)
            problem = unserializable_argument(
                message.task_name, message.args, message.kwargs, serializer
            )
            raise TaskArgumentSerializationError(
                problem
                or f"{message.task_name}: cannot be encoded with {serializer} ({error})"
            ) from error
        except Exception as error:
            mapped = self._broker_error(message.task_name, error, failures)
            if mapped is None:
                raise
            raise mapped from error
        return CeleryTaskResult(
            result, task_name=message.task_name, queue=options.queue
        )

    @override
    def result_for(self, task_id: str) -> CeleryTaskResult[Any]:
        """A handle on ``task_id``, as ``send`` returns for it; sends nothing."""
        return CeleryTaskResult(self._app.AsyncResult(task_id))

    def _publish_timeouts(self) -> dict[str, Any]:
        """Bound the wait for a write or a publisher confirm on a silent broker."""
        timeout = self._app.conf.get(PUBLISH_TIMEOUT_KEY)
        if timeout is None:
            return {}
        return {"timeout": float(timeout), "confirm_timeout": float(timeout)}

    def _broker_error(
        self, task_name: str, error: Exception, failures: list[BaseException]
    ) -> TaskDispatchError | None:
        """Our error for a failed publish, or None when the broker is not at fault.

        ``BrokerUnavailableError`` ("not sent") only when no attempt got a
        connection; when one may have written the message before the broker
        went silent, ``PublishUnconfirmedError`` says the task may still run.
        """
        lost, refused = self._transport_errors()
        chain = list(_chain(error))
        conf = self._app.conf
        url = conf.broker_url
        reason = scrub(_reason(chain), url, conf.result_backend)
        problem = configuration_problem(error)
        if problem is not None:
            return BrokerConfigurationError(
                f"{task_name} was not sent to {masked_url(url)}: {problem}; fix "
                f"{ENV_PREFIX}BROKER_URL (or the broker_url of your own Celery "
                f"app) ({reason})"
            )
        if any(isinstance(e, (MessageNacked, *refused)) for e in chain):
            return BrokerRejectedError(
                f"{task_name} was refused by {masked_url(url)}: {reason}"
            )
        if not any(isinstance(e, (OperationalError, *lost)) for e in chain):
            return None
        if _never_connected(error):
            cut = next((f for f in failures if not _never_connected(f)), None)
            if cut is None:
                return BrokerUnavailableError(
                    f"{task_name} was not sent to {masked_url(url)}: {reason}"
                )
            # An attempt was cut off after it had a connection, then the
            # retries could not reconnect: both are part of the answer.
            cut_reason = scrub(_reason(list(_chain(cut))), url, conf.result_backend)
            reason = (
                f"an attempt was cut off after it had a connection ({cut_reason}), "
                f"then the retries ended with: {reason}"
            )
        return PublishUnconfirmedError(
            f"{task_name} may have reached {masked_url(url)}: {reason}"
        )

    def _transport_errors(self) -> tuple[_Errors, _Errors]:
        """The transport's own connection and channel error classes."""
        if self._errors is None:
            connection = self._app.connection_for_write()
            try:
                lost = tuple(
                    kind
                    for kind in connection.connection_errors
                    if kind is not KeyError  # redis lists it; never a broker fault
                )
                self._errors = (lost, tuple(connection.channel_errors))
            finally:
                connection.release()
        return self._errors


def send_options(app: Celery, options: DispatchOptions) -> dict[str, Any]:
    """Celery's send options for ``options``; unset ones keep the configured defaults."""
    if options is DEFAULT_OPTIONS:
        return {}
    given = {
        "queue": options.queue,
        "routing_key": options.routing_key,
        "exchange": _exchange_for(app, options.routing_key),
        "priority": options.priority,
        "countdown": options.countdown,
        "eta": options.eta,
        "expires": options.expires,
        "time_limit": options.time_limit,
        "soft_time_limit": options.soft_time_limit,
        "ignore_result": options.ignore_result,
    }
    return {name: value for name, value in given.items() if value is not None}


def _exchange_for(app: Celery, routing_key: str | None) -> str | None:
    # Celery drops a routing key sent without an exchange (it publishes to
    # the queue directly), so a routing key goes to the default exchange.
    if routing_key is None:
        return None
    conf = app.conf
    return str(conf.task_default_exchange or conf.task_default_queue)


def check_queue(app: Celery, task_name: str, queue: str) -> None:
    """Refuse a queue that is not declared, when queues are declared.

    Raises:
        UnknownQueueError: Names the declared queues.
    """
    declared = app.conf.task_queues
    if declared and queue not in {q.name for q in declared}:
        names = sorted(q.name for q in declared)
        raise UnknownQueueError(
            f"{task_name}: queue {queue!r} is not among the declared queues "
            f"{names}; declare it in task_queues or use one of them"
        )


def unserializable_argument(
    task_name: str,
    args: tuple[object, ...],
    kwargs: Mapping[str, object],
    serializer: str,
) -> str | None:
    """Which argument ``serializer`` cannot encode, and why; None if all encode."""
    found = find_unencodable(
        args, kwargs, lambda value: dumps(value, serializer=serializer)
    )
    if found is None:
        return None
    label, value, cause = found
    return (
        f"{task_name}: {label} of type {type(value).__name__} "
        f"cannot be encoded with {serializer} ({cause})"
    )


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


_NO_CONNECTION = (
    "connection refused",
    "connecting to",
    "name or service not known",
    "no address associated",
    "temporary failure in name resolution",
)
"""Texts of failures that happen before any byte of a message is written."""


def _never_connected(error: BaseException) -> bool:
    """Whether ``error`` shows that no connection existed to write a message to."""
    for cause in _chain(error):
        if isinstance(cause, (ConnectionRefusedError, socket.gaierror)):
            return True
        if any(text in str(cause).lower() for text in _NO_CONNECTION):
            return True
    return False


def _reason(chain: list[BaseException]) -> str:
    """The first error of ``chain`` that says something, with its type."""
    for error in chain:
        text = str(error).strip()
        if text:
            return text
    return f"{type(chain[-1]).__name__} (the broker gave no reason)"
