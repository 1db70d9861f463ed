"""``GuardedConsumer``: a worker consumer that one bad message cannot stop.

Celery's consumer hands every received message to a handler that looks the
task up by its ``task`` header. A message whose ``task`` header is a list, or
whose other fields have shapes Celery does not expect, raises inside that
handler; the error escapes the event loop, the worker stops with
"Unrecoverable error", and the message goes back to the queue to stop the next
worker too. With a solo or threads pool the task also runs inside that
handler, so an error raised outside the task body (a result backend that is
down) escapes the same way. ``GuardedConsumer`` contains such errors: one log
line that names no message contents, the message rejected (discarded, or
dead-lettered where the broker keeps rejected messages) unless Celery already
settled it, and the worker consumes on. Errors of the broker connection still
reach Celery, which reconnects.

It also consumes through ``worker_transport``'s guarded transports, so an
envelope, header or compressed body kombu cannot decode reaches it as a
refused message instead of stopping the worker, and it bounds redelivery: a
message handed back to its queue more than ``MAX_REDELIVERIES`` times (the
worker died while handling it, again and again) is rejected instead of
killing the next worker.

The names shared with the caller side (settings keys, header names) live in
``worker_keys``, which loads nothing: this module, which loads Celery's worker,
is imported by Celery when a worker starts (``worker_consumer``).
"""

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from celery.worker.consumer import Consumer
from kombu.message import Message

from spakky.dispatch.celery.inflate import DEFAULT_MAX_MESSAGE_BYTES, InflatePolicy
from spakky.dispatch.celery.logs import describe_decode_error, escape
from spakky.dispatch.celery.worker_keys import (
    DEAD_LETTER_LIMIT_KEY,
    DEFAULT_DEAD_LETTER_LIMIT,
    DEFAULT_MAX_REDELIVERIES,
    MAX_MESSAGE_BYTES_KEY,
    MAX_REDELIVERIES_KEY,
    REDELIVERIES_HEADER,
)

logger = logging.getLogger(__name__)

type _Handler = Callable[[Message], Any]


def malformed(message: Message) -> str | None:
    """Why ``message`` cannot be a task message, or None if its shape is fine."""
    headers = message.headers
    if headers is None or "task" not in headers:
        return None  # protocol 1 or not a task: Celery rejects those itself
    for field in ("task", "id"):
        value = headers.get(field)
        if not isinstance(value, str) or not value:
            return f"its {field!r} header is a {type(value).__name__}, not a name"
    return None


def redeliveries(message: Message) -> int | None:
    """How often ``message`` came back to its queue unfinished, or None if unknown.

    Redis: our channel counts each hand-back in the message's own headers.
    RabbitMQ: the ``redelivered`` flag says "at least once more", quorum
    queues count in ``x-delivery-count``, and the count we wrote on the copy
    we published when it last came back.
    """
    found = message.headers
    headers: Mapping[str, object] = (
        found if type(found) is dict or isinstance(found, Mapping) else {}
    )
    counted = _count(headers.get(REDELIVERIES_HEADER))
    if not _republishes(message):  # Redis: only our channel writes the count
        return counted if REDELIVERIES_HEADER in headers else None
    if not _redelivered(message):
        return counted
    return max(counted + 1, _count(headers.get("x-delivery-count")))


def _redelivered(message: Message) -> bool:
    info: Any = getattr(message, "delivery_info", None)
    return isinstance(info, Mapping) and bool(info.get("redelivered"))


def _count(value: object) -> int:
    return value if type(value) is int and value >= 0 else 0


def _describe(error: Exception) -> str:
    text = escape(" ".join(str(error).split()))
    if len(text) > 160:
        text = text[:157] + "..."
    return f"handling it raised {type(error).__name__}: {text}"


class GuardedConsumer(Consumer):
    """Celery's consumer, containing errors that would otherwise stop the worker."""

    _unacked: Any = None

    def unacked_recovery(self) -> Any:
        """This consumer's ``UnackedRecovery`` (Redis), made on first use."""
        if self._unacked is None:
            from spakky.dispatch.celery.redis_unacked import UnackedRecovery

            self._unacked = UnackedRecovery(busy=_running)
        return self._unacked

    def connect(self) -> Any:
        """Connect, then settle what a lost Redis connection left owed."""
        connection = super().connect()
        recovery = self._unacked
        if recovery is not None and recovery.owes():
            errors = tuple(getattr(connection, "connection_errors", ()))
            # What is not settled now stays owed: the channel's sweep retries.
            channel: Any = connection.default_channel
            with contextlib.suppress(*errors):
                recovery.settle(channel.qos)
        return connection

    def connection_for_read(self, heartbeat: float | None = None) -> Any:
        """Celery's consuming connection, through a guarded transport when one fits."""
        app = self.app
        conf = app.conf
        url = conf.broker_read_url or conf.broker_url
        transport = None
        if not conf.broker_transport and isinstance(url, str):
            # Imported here: it loads kombu's Redis transport and redis-py,
            # which a process that never consumes does not need.
            from spakky.dispatch.celery.worker_transport import guarded_transport

            policy = InflatePolicy.for_compression(
                conf.task_compression,
                conf.get(MAX_MESSAGE_BYTES_KEY) or DEFAULT_MAX_MESSAGE_BYTES,
            )
            limit = conf.get(DEAD_LETTER_LIMIT_KEY)
            transport = guarded_transport(
                url,
                policy,
                DEFAULT_DEAD_LETTER_LIMIT if limit is None else limit,
                self.unacked_recovery(),
            )
        if transport is None:
            return super().connection_for_read(heartbeat=heartbeat)
        return self.ensure_connected(
            app.connection_for_read(heartbeat=heartbeat, transport=transport)
        )

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        """A body Celery cannot decode: rejected (dead-lettered), never logged."""
        self._contain(message, describe_decode_error(exc))

    def create_task_handler(self, *args: Any, **kwargs: Any) -> _Handler:
        handle: _Handler = super().create_task_handler(*args, **kwargs)
        broker_errors: tuple[type[BaseException], ...] = tuple(
            getattr(self, "connection_errors", ())  # set by Consumer.__init__
        )
        app = getattr(self, "app", None)  # set by Consumer.__init__
        limit = None if app is None else app.conf.get(MAX_REDELIVERIES_KEY)
        max_redeliveries = DEFAULT_MAX_REDELIVERIES if limit is None else int(limit)

        def on_task_received(message: Message) -> Any:
            errors = getattr(message, "errors", None)
            if errors:
                error = errors[0][1]
                return self._contain(message, describe_decode_error(error))
            problem = malformed(message)
            if problem is not None:
                return self._contain(message, problem)
            came_back = redeliveries(message)
            if came_back:
                if came_back > max_redeliveries:
                    return self._contain(
                        message,
                        f"it came back to its queue unfinished {came_back} times "
                        f"(SPAKKY_CELERY__MAX_REDELIVERIES={max_redeliveries}), so "
                        "handling it probably kills the worker",
                    )
                if _republishes(message) and _redelivered(message):
                    return _requeue_counted(message, came_back)
            try:
                return handle(message)
            except broker_errors:
                raise  # Celery reconnects to the broker
            except Exception as error:  # one message must not stop the worker
                return self._contain(message, _describe(error))

        return on_task_received

    def _contain(self, message: Message, problem: str) -> None:
        headers = message.headers if isinstance(message.headers, Mapping) else {}
        task_id = headers.get("id")
        logger.error(
            "Could not handle a task message (id %s): %s. The worker goes on; "
            "the message is rejected unless it was already acknowledged (Redis "
            "keeps it in the list <queue>.dead-letter, RabbitMQ in the queue's "
            "dead-letter exchange if it has one), and its contents are not logged.",
            escape(task_id) if isinstance(task_id, str) else "?",
            problem,
        )
        # Celery queues its own acknowledgement of this message on the hub,
        # whose callbacks of one loop turn run in no fixed order: rejecting in
        # that same turn could beat the acknowledgement, which then fails with
        # MessageStateError and stops the worker. So the rejection is queued
        # from a callback of the next turn, after all Celery queued here.
        settle: Callable[..., Any] = getattr(self, "call_soon_ack", self.call_soon)
        self.call_soon(settle, self._discard, message)

    def _discard(self, message: Message) -> None:
        if not message.acknowledged:
            errors = getattr(self, "connection_errors", ())
            message.reject_log_error(logger, errors)


def _running(message: Message) -> bool:
    """Whether a task of this worker is still running from ``message``."""
    from celery.worker.state import active_requests

    return any(request.message is message for request in list(active_requests))


def _republishes(message: Message) -> bool:
    """Whether ``message`` came through our RabbitMQ transport."""
    channel = getattr(message, "channel", None)
    return getattr(channel, "republishes_redeliveries", False) is True


def _requeue_counted(message: Message, count: int) -> None:
    """Publish a copy of a redelivered RabbitMQ message carrying ``count``; ack it.

    RabbitMQ cannot change a queued message's headers, and a classic queue
    only says "redelivered", not how often; the copy carries the count, so a
    message that keeps killing workers is stopped after a bounded number of
    deliveries. The copy goes to the back of the queue.
    """
    import amqp  # py-amqp, which kombu's RabbitMQ transport uses

    properties: dict[str, Any] = dict(message.properties)
    headers = dict(properties.get("application_headers") or {})
    headers[REDELIVERIES_HEADER] = count
    properties["application_headers"] = headers
    info: Any = message.delivery_info
    body: Any = getattr(message, "raw_body", message.body)
    channel: Any = message.channel
    channel.basic_publish(
        amqp.Message(body, **properties),
        exchange=info.get("exchange", ""),
        routing_key=info.get("routing_key", ""),
    )
    message.ack()


__all__ = [
    "GuardedConsumer",
    "malformed",
    "redeliveries",
]
