"""taskiq's worker log lines, made safe and expected.

``UntrustedFieldsFilter``: taskiq's receiver puts task names and ids taken from
the message into its lines as they are, so a newline in a task id forges a log
line; it logs an undecodable message with its bytes and a validation error that
quotes them; its parameter parser quotes an argument it cannot convert. The
filter escapes every text argument (``printable``) and rewrites those lines to
name the problem without the contents. (``GuardedReceiver`` refuses such
messages before taskiq sees them; the filter covers a worker started with
taskiq's own receiver.)

``RefusalLogFilter``: taskiq's receiver logs every exception a task raises with
``logger.exception`` ("Exception found while executing function."), traceback
included. A ``TaskRefusedError`` (an auth refusal, say) is an expected outcome,
not a crash, so the filter rewrites that record into one INFO line without a
traceback: ``Task <name>[<id>] raised expected: <error>``. The task still fails with the
error, which its result carries as before.
"""

import logging

from spakky.dispatch.core.adapter import LOG_FIELD_LIMIT, TaskRefusedError, printable

RECEIVER_LOGGER = "taskiq.receiver.receiver"
"""Logger of taskiq's receiver, which logs the exceptions of tasks."""

PARAMS_LOGGER = "taskiq.receiver.params_parser"
"""Logger of taskiq's parameter parser."""

UNDECODABLE = "Cannot parse message: %s. Skipping execution.\n %s"
"""taskiq's line for a message it cannot decode (the bytes, then the error)."""

RECEIVED = "Received message: %s"
"""taskiq's DEBUG line with a whole decoded message."""

UNPARSABLE_ARGUMENTS = frozenset(
    {
        "Can't parse argument %d for task %s. Reason: %s",
        "Can't parse argument %s for task %s. Reason: %s",
    }
)
"""taskiq's lines for an argument it cannot convert (the reason quotes it)."""


class UntrustedFieldsFilter(logging.Filter):
    """Keeps message contents out of taskiq's lines and escapes what they quote."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.msg == UNDECODABLE and len(args) == 2:
            record.msg = "Dropped a message that cannot be decoded (%s)"
            record.args = (type(args[1]).__name__,)
            record.exc_info, record.exc_text = None, None
        elif record.msg == RECEIVED and len(args) == 1:
            message = args[0]
            name = getattr(message, "task_name", "?")
            record.args = (
                f"{printable(name)}[{printable(getattr(message, 'task_id', '?'))}]",
            )
        elif record.msg in UNPARSABLE_ARGUMENTS and len(args) == 3:
            record.msg = str(record.msg).replace(". Reason: %s", " (%s)")
            record.args = (
                _escaped(args[0]),
                _escaped(args[1]),
                type(args[2]).__name__,
            )
            record.exc_info, record.exc_text = None, None
        elif args:
            record.args = tuple(_escaped(arg) for arg in args)
        return True


def _escaped(arg: object) -> object:
    if isinstance(arg, str) and (len(arg) > LOG_FIELD_LIMIT or not arg.isprintable()):
        return printable(arg)
    return arg


class RefusalLogFilter(logging.Filter):
    """Turns the receiver's error record of a refused task into an INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        error = exc_info[1] if exc_info else None
        if not isinstance(error, TaskRefusedError):
            return True
        frame = error.__traceback__
        message = None
        while frame is not None:  # the receiver's frame holds the message
            candidate = frame.tb_frame.f_locals.get("message")
            if hasattr(candidate, "task_id") and hasattr(candidate, "task_name"):
                message = candidate
            frame = frame.tb_next
        where = (
            "?"
            if message is None
            else f"{printable(message.task_name)}[{printable(message.task_id)}]"
        )
        record.msg = "Task %s raised expected: %s"
        record.args = (where, " ".join(str(error).split()))
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        return True


def install_log_filters() -> None:
    """Add this module's filters to taskiq's worker loggers, once each."""
    receiver = logging.getLogger(RECEIVER_LOGGER)
    for logger, kind in (
        (receiver, UntrustedFieldsFilter),
        (receiver, RefusalLogFilter),
        (logging.getLogger(PARAMS_LOGGER), UntrustedFieldsFilter),
    ):
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
