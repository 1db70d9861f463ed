"""Refusals logged as expected outcomes on a taskiq worker.

taskiq's receiver logs every exception a task raises with
``logger.exception`` ("Exception found while executing function."), traceback
included. A ``TaskRefusedError`` (an auth refusal, say) is an expected outcome,
not a crash, so ``RefusalLogFilter`` rewrites that record into one INFO line
without a traceback, in the words Celery uses for its expected errors:
``Task <name>[<id>] raised expected: <error>``. The task still fails with the
error, which its result carries as before.
"""

import logging

from spakky.dispatch.core import TaskRefusedError

RECEIVER_LOGGER = "taskiq.receiver.receiver"
"""Logger of taskiq's receiver, which logs the exceptions of tasks."""


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
        where = "?" if message is None else f"{message.task_name}[{message.task_id}]"
        record.msg = "Task %s raised expected: %s"
        record.args = (where, " ".join(str(error).split()))
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info, record.exc_text = None, None
        return True


def install_refusal_log_filter() -> None:
    """Add ``RefusalLogFilter`` to taskiq's receiver logger, once."""
    logger = logging.getLogger(RECEIVER_LOGGER)
    if not any(isinstance(f, RefusalLogFilter) for f in logger.filters):
        logger.addFilter(RefusalLogFilter())
