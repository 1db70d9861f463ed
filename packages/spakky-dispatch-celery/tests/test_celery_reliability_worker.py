"""Worker-side hardening: the guarded consumer, rejection log lines, endpoints."""

import logging
from collections.abc import Callable
from typing import Any, cast

import pytest
from celery import Celery
from celery.worker.consumer import Consumer
from celery.worker.consumer import consumer as celery_consumer

from spakky.dispatch.celery import CeleryEndpointRegistrar, RejectedMessageLogFilter
from spakky.dispatch.celery.consumer import (
    CELERY_CONSUMER,
    GUARDED_CONSUMER,
    GuardedConsumer,
    malformed,
)
from spakky.dispatch.celery.logs import CONSUMER_LOGGER, install_rejection_log_filter
from spakky.dispatch.core import TaskBinding, TaskInvoker


class FakeMessage:
    """The parts of a kombu message the consumer guard touches."""

    def __init__(self, headers: object, *, acknowledged: bool = False) -> None:
        self.headers = headers
        self.acknowledged = acknowledged
        self.rejected = False

    def reject_log_error(self, logger: object, errors: object) -> None:
        self.rejected = True


def _guarded(
    monkeypatch: pytest.MonkeyPatch, handle: Callable[[Any], Any]
) -> tuple[Callable[[Any], Any], list[Callable[[], None]]]:
    """A GuardedConsumer's handler over ``handle``; scheduled calls are returned."""
    monkeypatch.setattr(Consumer, "create_task_handler", lambda self, *a, **k: handle)
    consumer = GuardedConsumer.__new__(GuardedConsumer)
    scheduled: list[Callable[[], None]] = []
    consumer.connection_errors = (ConnectionError,)  # type: ignore[attr-defined]
    consumer.call_soon_ack = (  # type: ignore[attr-defined]
        lambda fn, *args: scheduled.append(lambda: fn(*args))
    )
    return consumer.create_task_handler(), scheduled


def _run(scheduled: list[Callable[[], None]]) -> None:
    for call in scheduled:
        call()


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"task": ["a"], "id": "1"}, "its 'task' header is a list, not a name"),
        ({"task": "", "id": "1"}, "its 'task' header is a str, not a name"),
        ({"task": "t", "id": 5}, "its 'id' header is a int, not a name"),
        ({"task": "t"}, "its 'id' header is a NoneType, not a name"),
        ({"task": "t", "id": "1"}, None),
        ({"other": 1}, None),
        (None, None),
    ],
)
def test_malformed_expect_problem_named(headers: object, problem: str | None) -> None:
    """Only task messages whose name or id is not a string are malformed."""
    assert malformed(cast(Any, FakeMessage(headers))) == problem


def test_guarded_consumer_malformed_message_expect_discarded_logged_not_passed_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A message with a list as task name never reaches Celery's handler."""
    handled: list[object] = []
    handler, scheduled = _guarded(monkeypatch, handled.append)
    message = FakeMessage({"task": ["a", "b"], "id": "m-1", "x": "secret-value"})
    with caplog.at_level(logging.ERROR):
        assert handler(message) is None
    _run(scheduled)
    assert handled == []
    assert message.rejected
    assert "Could not handle a task message (id m-1)" in caplog.text
    assert "secret-value" not in caplog.text


def test_guarded_consumer_handler_raises_expect_contained_and_discarded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An error while handling a message is logged; the worker goes on."""

    def boom(message: object) -> None:
        raise ValueError("too many values to unpack " + "x" * 300)

    handler, scheduled = _guarded(monkeypatch, boom)
    message = FakeMessage({"task": "t", "id": "m-2"})
    with caplog.at_level(logging.ERROR):
        handler(message)
    _run(scheduled)
    assert message.rejected
    assert "handling it raised ValueError: too many values to unpack" in caplog.text
    assert "x" * 200 not in caplog.text


def test_guarded_consumer_message_already_acknowledged_expect_not_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message Celery already settled (the task ran) is not touched again."""

    def fails_after_ack(message: FakeMessage) -> None:
        message.acknowledged = True
        raise RuntimeError("result backend down")

    handler, scheduled = _guarded(monkeypatch, fails_after_ack)
    message = FakeMessage({"task": "t", "id": "m-3"})
    handler(message)
    _run(scheduled)
    assert not message.rejected


def test_guarded_consumer_broker_connection_error_expect_raised_to_celery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Broker connection errors still reach Celery, which reconnects."""

    def lost(message: object) -> None:
        raise ConnectionError("broker gone")

    handler, scheduled = _guarded(monkeypatch, lost)
    with pytest.raises(ConnectionError):
        handler(FakeMessage({"task": "t", "id": "m-4"}))
    assert scheduled == []


def test_guarded_consumer_good_message_expect_handled_normally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A well-formed message goes to Celery's handler and nothing else happens."""
    handled: list[object] = []
    handler, scheduled = _guarded(monkeypatch, handled.append)
    message = FakeMessage({"task": "t", "id": "m-5"})
    handler(message)
    assert handled == [message]
    assert scheduled == []
    assert not message.rejected


def _record(template: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(
        CONSUMER_LOGGER, logging.ERROR, __file__, 1, template, args, None
    )


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        (
            "UNKNOWN_TASK_ERROR",
            (KeyError("old"), "BODY", {"task": "pkg.old", "id": "i-1", "h": "HDR"}, {}),
            "Rejected task 'pkg.old' (id i-1): no handler",
        ),
        (
            "UNKNOWN_TASK_ERROR",
            (KeyError("old"), "BODY", "not-a-mapping", {}),
            "Rejected task KeyError('old') (id None)",
        ),
        ("INVALID_TASK_ERROR", ("bad eta", "BODY"), "invalid task message (bad eta)"),
        (
            "MESSAGE_DECODE_ERROR",
            ("DecodeError", "application/json", None, "{'h': 'HDR'}", "BODY"),
            "cannot be decoded ('DecodeError', content type 'application/json')",
        ),
        ("UNKNOWN_FORMAT", ("BODY HDR",), "not a Celery task (wrong destination?)"),
    ],
)
def test_rejection_log_filter_expect_short_line_without_contents(
    name: str, args: tuple[object, ...], expected: str
) -> None:
    """Celery's rejection records are rewritten; bodies and headers are gone."""
    record = _record(vars(celery_consumer)[name], *args)
    record.exc_info = (KeyError, KeyError("old"), None)
    assert RejectedMessageLogFilter().filter(record)
    text = record.getMessage()
    assert expected in text
    assert "BODY" not in text
    assert "HDR" not in text
    assert record.exc_info is None


def test_rejection_log_filter_other_records_expect_untouched() -> None:
    """Every other record passes through as it was."""
    record = _record("Task %s received", "pkg.t")
    assert RejectedMessageLogFilter().filter(record)
    assert record.getMessage() == "Task pkg.t received"


def test_install_rejection_log_filter_twice_expect_one_filter() -> None:
    """Installing is idempotent."""
    install_rejection_log_filter()
    install_rejection_log_filter()
    logger = logging.getLogger(CONSUMER_LOGGER)
    assert sum(isinstance(f, RejectedMessageLogFilter) for f in logger.filters) == 1


class Handler:
    def work(self) -> None: ...


def test_endpoint_registrar_expect_guarded_consumer_unless_app_has_its_own() -> None:
    """Workers of the app use GuardedConsumer; an app's own consumer is kept."""
    invoker = cast(TaskInvoker, object())
    default = Celery("d", broker="memory://", set_as_current=False)
    assert default.conf.worker_consumer == CELERY_CONSUMER
    CeleryEndpointRegistrar(default, invoker)
    assert default.conf.worker_consumer == GUARDED_CONSUMER
    own = Celery("o", broker="memory://", set_as_current=False)
    own.conf.worker_consumer = "myproject.worker:MyConsumer"
    CeleryEndpointRegistrar(own, invoker)
    assert own.conf.worker_consumer == "myproject.worker:MyConsumer"


def test_endpoint_headers_not_a_mapping_expect_treated_as_absent() -> None:
    """A foreign ``headers`` field that is not a mapping gives no headers."""

    class Recording:
        seen: list[object]

        def __init__(self) -> None:
            self.seen = []

        def invoke(
            self, name: str, args: Any, kwargs: Any, headers: Any, *_: Any
        ) -> str:
            self.seen.append(headers)
            return "ok"

    invoker = Recording()
    app = Celery("h", broker="memory://", set_as_current=False)
    binding = TaskBinding(
        name="pkg.Handler.work",
        handler_type=Handler,
        method_name="work",
        pod_name="handler",
        is_async=False,
    )
    CeleryEndpointRegistrar(app, cast(TaskInvoker, invoker)).register(binding)
    task = app.tasks["pkg.Handler.work"]
    assert task.apply(headers=cast(Any, "junk")).get() == "ok"
    assert task.apply(headers={"x-h": "v"}).get() == "ok"
    assert invoker.seen[0] == {}
    assert invoker.seen[1]["x-h"] == "v"
