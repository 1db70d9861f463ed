"""``GuardedConsumer``: a worker consumer that one bad message cannot stop.

Celery's consumer hands every received message to a handler that looks the
task up by its ``task`` header. A message whose ``task`` header is a list, or
whose other fields have shapes Celery does not expect, raises inside that
handler; the error escapes the event loop, the worker stops with
"Unrecoverable error", and the message goes back to the queue to stop the next
worker too. With a solo or threads pool the task also runs inside that
handler, so an error raised outside the task body (a result backend that is
down) escapes the same way. ``GuardedConsumer`` contains such errors: one log
line that names no message contents, the message rejected (discarded) unless
Celery already settled it, and the worker consumes on. Errors of the broker
connection still reach Celery, which reconnects.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from celery.worker.consumer import Consumer
from kombu.message import Message

GUARDED_CONSUMER = "spakky.dispatch.celery.consumer:GuardedConsumer"
"""Value of Celery's ``worker_consumer`` setting that selects ``GuardedConsumer``."""

CELERY_CONSUMER = "celery.worker.consumer:Consumer"
"""Celery's default ``worker_consumer``."""

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


def _describe(error: Exception) -> str:
    text = " ".join(str(error).split())
    if len(text) > 160:
        text = text[:157] + "..."
    return f"handling it raised {type(error).__name__}: {text}"


class GuardedConsumer(Consumer):
    """Celery's consumer, containing errors that would otherwise stop the worker."""

    def create_task_handler(self, *args: Any, **kwargs: Any) -> _Handler:
        handle: _Handler = super().create_task_handler(*args, **kwargs)
        broker_errors: tuple[type[BaseException], ...] = tuple(
            getattr(self, "connection_errors", ())  # set by Consumer.__init__
        )

        def on_task_received(message: Message) -> Any:
            problem = malformed(message)
            if problem is not None:
                return self._contain(message, problem)
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
            "the message is discarded unless it was already acknowledged, and "
            "its contents are not logged.",
            task_id if isinstance(task_id, str) else "?",
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
