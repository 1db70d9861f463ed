"""Worker log hygiene: no message contents, and no line a message can forge.

When a worker rejects a message (a task name it does not know, a body it cannot
decode, a message that is not a task) Celery logs the whole body and every
header. Headers carry signed auth snapshots and bodies carry user data, so
those lines would leak both into the logs. ``RejectedMessageLogFilter``
rewrites exactly those lines into one short line that says what was rejected,
why (the kind of error and its position, never the bytes), and what to do.

Task ids, task names and header values come from whoever wrote the message: a
task id holding a newline and a forged log prefix would print a line that
looks like the worker's own. ``escape`` (the core's ``printable``, uncut)
writes control characters as escapes (``\\n``); every line this package writes
passes message fields through it, and ``MessageFieldLogFilter`` does the same
to the string arguments of the Celery loggers that print them ("Task ...[id]
received", "succeeded", "failed").
"""

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache

from spakky.dispatch.core.adapter import printable

CONSUMER_LOGGER = "celery.worker.consumer.consumer"
"""The logger Celery's worker consumer writes its rejections to."""


FIELD_LOGGERS = (
    "celery.worker.strategy",
    "celery.worker.request",
    "celery.app.trace",
    "celery.worker.consumer.consumer",
)
"""Celery loggers whose lines carry task ids, names or results from a message."""


def escape(value: object) -> str:
    """``value`` as text with every unprintable character escaped (one log line).

    Not cut: Celery bounds what it logs of a message (``resultrepr_maxsize``).
    """
    return printable(value, limit=None)


def _errors(error: BaseException) -> Iterator[BaseException]:
    seen: list[BaseException] = []
    pending: list[object] = [error]
    while pending and len(seen) < 8:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        yield item
        pending += [item.__cause__, item.__context__, *item.args[:1]]


def describe_decode_error(error: object) -> str:
    """What is wrong with a body, by kind and position: never its bytes."""
    if not isinstance(error, BaseException):
        text = escape(repr(error))
        return text if len(text) <= 80 else text[:77] + "..."
    for item in _errors(error):
        if isinstance(item, UnicodeDecodeError):
            return f"body is not valid {escape(item.encoding)} at byte {item.start}"
        if isinstance(item, json.JSONDecodeError):
            return f"body is not JSON ({escape(item.msg)} at character {item.pos})"
        if type(item).__name__ == "MessageRefused":
            return escape(item)
    return f"body cannot be decoded ({type(error).__name__})"


def _unknown_task(args: tuple[object, ...]) -> str:
    headers = args[2] if len(args) > 2 and isinstance(args[2], Mapping) else {}
    name, task_id = headers.get("task", args[0] if args else "?"), headers.get("id")
    return (
        f"Rejected task {escape(repr(name))} (id {escape(task_id)}): no handler of this worker's "
        "application has that name, so it was renamed or removed, or this worker "
        "runs older code. The message was discarded and the task marked failed "
        "(NotRegistered); its arguments and headers are not logged. Keep the old "
        "task name until no caller sends it, or deploy workers before callers."
    )


def _invalid_task(args: tuple[object, ...]) -> str:
    reason = escape(args[0] if args else "?")
    if len(reason) > 160:
        reason = reason[:157] + "..."
    return (
        f"Rejected an invalid task message ({reason}); it was discarded and its "
        "body is not logged. Check that the producer uses this application's "
        "serializer and Celery's message protocol."
    )


def _undecodable(args: tuple[object, ...]) -> str:
    reason, content_type = (*args, "?", "?")[:2]
    return (
        f"Rejected a message whose body cannot be decoded ("
        f"{describe_decode_error(reason)}, content type "
        f"{escape(repr(content_type))}); it was acknowledged and dropped, and its "
        "body and headers are not logged."
    )


def _unknown_message(args: tuple[object, ...]) -> str:
    return (
        "Rejected a message that is not a Celery task (wrong destination?); it "
        "was deleted and its body and headers are not logged."
    )


type _Rewrite = Callable[[tuple[object, ...]], str]


@cache
def _rewrites() -> dict[str, _Rewrite]:
    """Celery's rejection format strings, each with its rewrite.

    Read on the first record: only a worker logs to the consumer logger, and a
    worker has Celery's consumer loaded; a caller never pays for loading it.
    """
    from celery.worker.consumer import consumer as celery_consumer

    templates = vars(celery_consumer)  # the format strings Celery logs with
    return {
        templates["UNKNOWN_TASK_ERROR"]: _unknown_task,
        templates["INVALID_TASK_ERROR"]: _invalid_task,
        templates["MESSAGE_DECODE_ERROR"]: _undecodable,
        templates["UNKNOWN_FORMAT"]: _unknown_message,
    }


class RejectedMessageLogFilter(logging.Filter):
    """Rewrites Celery's message-rejection log records; lets others through."""

    def filter(self, record: logging.LogRecord) -> bool:
        rewrite = _rewrites().get(record.msg) if isinstance(record.msg, str) else None
        if rewrite is not None:
            args = record.args if isinstance(record.args, tuple) else ()
            record.msg = "%s"
            record.args = (rewrite(args),)
            record.exc_info = None
            record.exc_text = None
        return True


class MessageFieldLogFilter(logging.Filter):
    """Escapes control characters in the string arguments of a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple):
            if _all_printable(args):  # the common case: nothing to rewrite
                return True
            record.args = tuple(escape(a) if isinstance(a, str) else a for a in args)
        elif type(args) is dict or isinstance(args, Mapping):
            if _all_printable(args.values()):
                return True
            record.args = {
                k: escape(v) if isinstance(v, str) else v for k, v in args.items()
            }
        return True


def _all_printable(values: Iterable[object]) -> bool:
    """Whether no string among ``values`` has a character ``escape`` rewrites
    (``escape`` returns a printable string unchanged)."""
    for value in values:
        if isinstance(value, str) and not value.isprintable():
            return False
    return True


def install_rejection_log_filter() -> None:
    """Attach the filters to Celery's worker loggers, once each.

    ``RejectedMessageLogFilter`` runs first on the consumer logger, so the
    lines it writes are escaped by ``MessageFieldLogFilter`` too.
    """
    consumer = logging.getLogger(CONSUMER_LOGGER)
    if not any(isinstance(f, RejectedMessageLogFilter) for f in consumer.filters):
        consumer.addFilter(RejectedMessageLogFilter())
    for name in FIELD_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, MessageFieldLogFilter) for f in logger.filters):
            logger.addFilter(MessageFieldLogFilter())
