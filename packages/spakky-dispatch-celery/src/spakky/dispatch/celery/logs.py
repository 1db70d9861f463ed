"""Worker log hygiene: Celery's rejection lines, without the message contents.

When a worker rejects a message (a task name it does not know, a body it cannot
decode, a message that is not a task) Celery logs the whole body and every
header. Headers carry signed auth snapshots and bodies carry user data, so
those lines would leak both into the logs. ``RejectedMessageLogFilter``
rewrites exactly those lines into one short line that says what was rejected,
why, and what to do, and drops the contents.
"""

import logging
from collections.abc import Callable, Mapping

from celery.worker.consumer import consumer as celery_consumer

CONSUMER_LOGGER = "celery.worker.consumer.consumer"
"""The logger Celery's worker consumer writes its rejections to."""


def _unknown_task(args: tuple[object, ...]) -> str:
    headers = args[2] if len(args) > 2 and isinstance(args[2], Mapping) else {}
    name, task_id = headers.get("task", args[0] if args else "?"), headers.get("id")
    return (
        f"Rejected task {name!r} (id {task_id}): no handler of this worker's "
        "application has that name, so it was renamed or removed, or this worker "
        "runs older code. The message was discarded and the task marked failed "
        "(NotRegistered); its arguments and headers are not logged. Keep the old "
        "task name until no caller sends it, or deploy workers before callers."
    )


def _invalid_task(args: tuple[object, ...]) -> str:
    reason = args[0] if args else "?"
    return (
        f"Rejected an invalid task message ({reason}); it was discarded and its "
        "body is not logged. Check that the producer uses this application's "
        "serializer and Celery's message protocol."
    )


def _undecodable(args: tuple[object, ...]) -> str:
    reason, content_type = (*args, "?", "?")[:2]
    return (
        f"Rejected a message whose body cannot be decoded ({reason!r}, content "
        f"type {content_type!r}); it was acknowledged and dropped, and its body "
        "and headers are not logged."
    )


def _unknown_message(args: tuple[object, ...]) -> str:
    return (
        "Rejected a message that is not a Celery task (wrong destination?); it "
        "was deleted and its body and headers are not logged."
    )


_TEMPLATES = vars(celery_consumer)  # the format strings Celery logs with
_REWRITES: dict[str, Callable[[tuple[object, ...]], str]] = {
    _TEMPLATES["UNKNOWN_TASK_ERROR"]: _unknown_task,
    _TEMPLATES["INVALID_TASK_ERROR"]: _invalid_task,
    _TEMPLATES["MESSAGE_DECODE_ERROR"]: _undecodable,
    _TEMPLATES["UNKNOWN_FORMAT"]: _unknown_message,
}


class RejectedMessageLogFilter(logging.Filter):
    """Rewrites Celery's message-rejection log records; lets others through."""

    def filter(self, record: logging.LogRecord) -> bool:
        rewrite = _REWRITES.get(record.msg) if isinstance(record.msg, str) else None
        if rewrite is not None:
            args = record.args if isinstance(record.args, tuple) else ()
            record.msg = "%s"
            record.args = (rewrite(args),)
            record.exc_info = None
            record.exc_text = None
        return True


def install_rejection_log_filter() -> None:
    """Attach ``RejectedMessageLogFilter`` to Celery's consumer logger, once."""
    logger = logging.getLogger(CONSUMER_LOGGER)
    if not any(isinstance(f, RejectedMessageLogFilter) for f in logger.filters):
        logger.addFilter(RejectedMessageLogFilter())
