"""taskiq's worker lines: refusals as expected outcomes, untrusted fields escaped."""

import asyncio
import json
import logging
import sys
from types import SimpleNamespace

import pytest
from taskiq import InMemoryBroker
from taskiq.receiver import Receiver

from spakky.dispatch.core import TaskRefusedError
from spakky.dispatch.taskiq.logs import (
    PARAMS_LOGGER,
    RECEIVED,
    RECEIVER_LOGGER,
    UNDECODABLE,
    RefusalLogFilter,
    UntrustedFieldsFilter,
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
    assert sum(isinstance(f, UntrustedFieldsFilter) for f in logger.filters) == 1
    params = logging.getLogger(PARAMS_LOGGER)
    assert sum(isinstance(f, UntrustedFieldsFilter) for f in params.filters) == 1


# UntrustedFieldsFilter --------------------------------------------------------

CARD = "4111 1111 1111 1111"


def _line(
    msg: str, *args: object, exc: BaseException | None = None, name: str = ""
) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(
        name or RECEIVER_LOGGER, logging.WARNING, __file__, 1, msg, args, exc_info
    )


def test_untrusted_undecodable_line_expect_bytes_and_error_dropped() -> None:
    """taskiq's "Cannot parse message" line keeps the error's type only."""
    error = ValueError(CARD)
    record = _line(UNDECODABLE, CARD.encode(), error, exc=error)
    assert UntrustedFieldsFilter().filter(record)
    assert (
        record.getMessage() == "Dropped a message that cannot be decoded (ValueError)"
    )
    assert record.exc_info is None


def test_untrusted_received_line_expect_name_and_id_only() -> None:
    """taskiq's DEBUG line with the whole message keeps its task name and id."""
    message = SimpleNamespace(task_name="m.C\nx", task_id="t-1", args=[CARD])
    record = _line(RECEIVED, message)
    assert UntrustedFieldsFilter().filter(record)
    assert record.getMessage() == "Received message: m.C\\nx[t-1]"


def test_untrusted_unparsable_argument_line_expect_reason_type_only() -> None:
    """taskiq's parameter parser line loses the reason that quotes the value."""
    error = ValueError(CARD)
    record = _line(
        "Can't parse argument %s for task %s. Reason: %s",
        "k\n",
        "m.C",
        error,
        exc=error,
        name=PARAMS_LOGGER,
    )
    assert UntrustedFieldsFilter().filter(record)
    assert record.getMessage() == "Can't parse argument k\\n for task m.C (ValueError)"
    assert record.exc_info is None


def test_untrusted_other_lines_expect_text_arguments_escaped() -> None:
    """Every other line keeps its words; text arguments are escaped and bounded."""
    record = _line("Executing task %s with ID: %s (%d)", "m.C", "abc\nforged", 3)
    assert UntrustedFieldsFilter().filter(record)
    assert record.getMessage() == "Executing task m.C with ID: abc\\nforged (3)"
    long = _line("%s", "x" * 500)
    assert UntrustedFieldsFilter().filter(long)
    assert long.getMessage().endswith("...(+300 chars)")
    plain = _line("no arguments")
    assert UntrustedFieldsFilter().filter(plain)
    assert plain.getMessage() == "no arguments"


def test_stock_receiver_bad_messages_expect_no_contents_in_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Against taskiq's own receiver (no GuardedReceiver): the filters hold.

    The lines taskiq writes are matched by their text; if taskiq changes it,
    this test fails instead of the filter silently letting contents through.
    """
    install_log_filters()
    broker = InMemoryBroker()

    async def place(customer: int) -> None:
        """A typed task: taskiq's parameter parser tries to convert."""

    broker.register_task(place, task_name="m.C.place")
    undecodable = b'{"task_id": "' + CARD.encode() + b'"'
    forged = json.dumps(
        {
            "task_id": "t\nforged",
            "task_name": "m.C.place",
            "labels": {},
            "args": [CARD],
            "kwargs": {},
        }
    ).encode()

    async def scenario() -> None:
        receiver = Receiver(broker, max_async_tasks=1)
        await receiver.callback(undecodable)
        await receiver.callback(forged)

    with caplog.at_level(logging.DEBUG, logger="taskiq"):
        asyncio.run(scenario())
    text = caplog.text
    assert "Dropped a message that cannot be decoded (JSONDecodeError)" in text
    assert "Can't parse argument 0 for task m.C.place (ValidationError)" in text
    assert "with ID: t\\nforged" in text
    assert "Received message: m.C.place[t\\nforged]" in text
    assert "4111" not in text
    assert "\nforged" not in text
