"""Refusals logged as expected outcomes by taskiq's receiver."""

import logging
import sys
from types import SimpleNamespace

from spakky.dispatch.core import TaskRefusedError
from spakky.dispatch.taskiq.logs import (
    RECEIVER_LOGGER,
    RefusalLogFilter,
    install_log_filters,
)


def _record(error: BaseException) -> logging.LogRecord:
    return logging.LogRecord(
        RECEIVER_LOGGER,
        logging.ERROR,
        __file__,
        1,
        "Exception found while executing function.",
        None,
        (type(error), error, error.__traceback__),
    )


def _raised_while_running(error: BaseException, *, with_message: bool) -> BaseException:
    """``error`` raised from a frame that holds a received message, as taskiq's does."""

    def run_task(message: object) -> None:
        raise error

    try:
        run_task(
            SimpleNamespace(task_name="m.C.refund", task_id="t-1")
            if with_message
            else None
        )
    except BaseException:
        return sys.exc_info()[1] or error
    raise AssertionError("not raised")  # pragma: no cover


def test_refusal_record_expect_info_line_without_traceback() -> None:
    """The receiver's error record of a refusal becomes one INFO line."""
    error = _raised_while_running(
        TaskRefusedError("DENY  INSUFFICIENT_ROLE"), with_message=True
    )
    record = _record(error)
    assert RefusalLogFilter().filter(record)
    assert (record.levelno, record.levelname) == (logging.INFO, "INFO")
    assert record.exc_info is None
    assert record.getMessage() == (
        "Task m.C.refund[t-1] raised expected: "
        "The worker refused to run the task: DENY INSUFFICIENT_ROLE"
    )


def test_refusal_without_message_frame_expect_unknown_task() -> None:
    """Without the receiver's frame the task is named "?"; the line still goes."""
    error = _raised_while_running(TaskRefusedError("no"), with_message=False)
    record = _record(error)
    assert RefusalLogFilter().filter(record)
    assert record.getMessage().startswith("Task ? raised expected: ")


def test_other_errors_expect_record_untouched() -> None:
    """Crashes keep their ERROR level and traceback."""
    error = _raised_while_running(RuntimeError("boom"), with_message=True)
    record = _record(error)
    assert RefusalLogFilter().filter(record)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    plain = logging.LogRecord(
        RECEIVER_LOGGER, logging.INFO, __file__, 1, "x", None, None
    )
    assert RefusalLogFilter().filter(plain)
    assert plain.getMessage() == "x"


def test_install_twice_expect_one_filter() -> None:
    """Installing is idempotent."""
    install_log_filters()
    install_log_filters()
    logger = logging.getLogger(RECEIVER_LOGGER)
    assert sum(isinstance(f, RefusalLogFilter) for f in logger.filters) == 1
