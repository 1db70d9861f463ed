"""Worker-side hardening: the guarded consumer, rejection log lines, endpoints."""

import logging
from collections import deque
from collections.abc import Callable
from typing import Any, cast

import pytest
from celery import Celery
from celery.worker.consumer import Consumer
from celery.worker.consumer import consumer as celery_consumer
from kombu.exceptions import MessageStateError

from spakky.dispatch.celery import CeleryEndpointRegistrar, RejectedMessageLogFilter
from spakky.dispatch.celery.consumer import GuardedConsumer, malformed
from spakky.dispatch.celery.inflate import MessageRefused
from spakky.dispatch.celery.logs import CONSUMER_LOGGER, install_rejection_log_filter
from spakky.dispatch.celery.worker_keys import CELERY_CONSUMER, GUARDED_CONSUMER
from spakky.dispatch.core import TaskRefusedError
from spakky.dispatch.core.adapter import TaskBinding, TaskInvoker


class FakeMessage:
    """The parts of a kombu message the consumer guard touches.

    Like kombu's, settling a message twice raises.
    """

    def __init__(self, headers: object, *, acknowledged: bool = False) -> None:
        self.headers = headers
        self.acknowledged = acknowledged
        self.rejected = False
        self.acked = False

    def _settle(self) -> None:
        if self.acknowledged:
            raise MessageStateError("Message already acknowledged")
        self.acknowledged = True

    def ack_log_error(self, logger: object, errors: object) -> None:
        self._settle()
        self.acked = True

    def reject_log_error(self, logger: object, errors: object) -> None:
        self._settle()
        self.rejected = True


class FakeHub:
    """kombu's hub as the consumer sees it: ``call_soon`` queues for the next
    turn, and the callbacks of one turn run in no fixed order (kombu keeps them
    in a set). Turns here run them in the worst order: last queued first."""

    def __init__(self) -> None:
        self.ready: list[Callable[[], object]] = []

    def call_soon(self, callback: Callable[[], object]) -> Callable[[], object]:
        self.ready.append(callback)
        return callback

    def run(self) -> None:
        """Run turns until nothing is queued."""
        while self.ready:
            turn, self.ready = self.ready, []
            for callback in reversed(turn):
                callback()


def _guarded(
    monkeypatch: pytest.MonkeyPatch, handle: Callable[[Any], Any]
) -> tuple[Callable[[Any], Any], GuardedConsumer, FakeHub]:
    """A GuardedConsumer's handler over ``handle``, on a hub the test runs."""
    monkeypatch.setattr(Consumer, "create_task_handler", lambda self, *a, **k: handle)
    consumer = GuardedConsumer.__new__(GuardedConsumer)
    hub = FakeHub()
    consumer.hub = hub
    consumer.connection_errors = (ConnectionError,)  # type: ignore[attr-defined]
    return consumer.create_task_handler(), consumer, hub


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
    handler, _, hub = _guarded(monkeypatch, handled.append)
    message = FakeMessage({"task": ["a", "b"], "id": "m-1", "x": "secret-value"})
    with caplog.at_level(logging.ERROR):
        assert handler(message) is None
    hub.run()
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

    handler, _, hub = _guarded(monkeypatch, boom)
    message = FakeMessage({"task": "t", "id": "m-2"})
    with caplog.at_level(logging.ERROR):
        handler(message)
    hub.run()
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

    handler, _, hub = _guarded(monkeypatch, fails_after_ack)
    message = FakeMessage({"task": "t", "id": "m-3"})
    handler(message)
    hub.run()
    assert not message.rejected


def test_guarded_consumer_ack_queued_in_same_turn_expect_ack_wins_no_state_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Celery queued the acknowledgement, then storing the result failed.

    The rejection must not run before that acknowledgement, whatever order the
    hub runs one turn's callbacks in: a second settle raises MessageStateError,
    which stops a real worker.
    """
    consumer: GuardedConsumer

    def acks_then_fails(message: FakeMessage) -> None:
        consumer.call_soon_ack(message.ack_log_error, None, ())
        raise RuntimeError("result backend down")

    handler, consumer, hub = _guarded(monkeypatch, acks_then_fails)
    message = FakeMessage({"task": "t", "id": "m-5"})
    handler(message)
    hub.run()
    assert message.acked
    assert not message.rejected


def test_guarded_consumer_without_hub_expect_discarded_after_pending_operations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Green-thread workers have no hub: the rejection waits in Celery's list."""
    handler, consumer, _ = _guarded(monkeypatch, lambda message: 1 / 0)
    consumer.hub = None
    consumer._pending_operations = deque()
    message = FakeMessage({"task": "t", "id": "m-6"})
    handler(message)
    assert not message.rejected
    consumer.perform_pending_operations()
    assert message.rejected


def test_guarded_consumer_broker_connection_error_expect_raised_to_celery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Broker connection errors still reach Celery, which reconnects."""

    def lost(message: object) -> None:
        raise ConnectionError("broker gone")

    handler, _, hub = _guarded(monkeypatch, lost)
    with pytest.raises(ConnectionError):
        handler(FakeMessage({"task": "t", "id": "m-4"}))
    assert hub.ready == []


def test_guarded_consumer_good_message_expect_handled_normally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A well-formed message goes to Celery's handler and nothing else happens."""
    handled: list[object] = []
    handler, _, hub = _guarded(monkeypatch, handled.append)
    message = FakeMessage({"task": "t", "id": "m-7"})
    handler(message)
    assert handled == [message]
    assert hub.ready == []
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


def test_endpoint_refusal_expect_expected_error_for_celery() -> None:
    """A refusal fails the task but is one of Celery's expected errors."""

    class Refusing:
        def invoke(self, *args: object, **kwargs: object) -> object:
            raise TaskRefusedError("no")

    app = Celery("refusals", broker="memory://", set_as_current=False)
    registrar = CeleryEndpointRegistrar(app, cast(TaskInvoker, Refusing()))
    registrar.register(
        TaskBinding(
            name="refusals.Handler.work",
            handler_type=Handler,
            method_name="work",
            pod_name="handler",
            is_async=False,
        )
    )
    endpoint = app.tasks["refusals.Handler.work"]
    assert TaskRefusedError in endpoint.throws
    assert not issubclass(RuntimeError, endpoint.throws)
    outcome = endpoint.apply()
    assert outcome.state == "FAILURE"
    assert isinstance(outcome.result, TaskRefusedError)


def test_guarded_consumer_message_with_decode_errors_expect_contained(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A message our transport refused reaches Celery's handler never."""
    handled: list[object] = []
    handler, _, hub = _guarded(monkeypatch, handled.append)
    message = FakeMessage({"task": "t", "id": "m-7"})
    refusal = MessageRefused("its body is not valid base64")
    message.errors = [(MessageRefused, refusal, None)]  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR):
        handler(message)
    hub.run()
    assert handled == []
    assert message.rejected
    assert "its body is not valid base64" in caplog.text


def test_guarded_consumer_came_back_too_often_expect_rejected_naming_setting(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Past ``MAX_REDELIVERIES`` returns the message is rejected, not handled."""
    handled: list[object] = []
    handler, _, hub = _guarded(monkeypatch, handled.append)
    message = FakeMessage({"task": "t", "id": "m-8", "x-spakky-redeliveries": 6})
    with caplog.at_level(logging.ERROR):
        handler(message)
    hub.run()
    assert handled == []
    assert message.rejected
    assert "unfinished 6 times (SPAKKY_CELERY__MAX_REDELIVERIES=5)" in caplog.text


def test_guarded_consumer_redis_came_back_within_limit_expect_handled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Redis message counted back fewer times than the limit runs as usual."""
    handled: list[object] = []
    handler, _, _ = _guarded(monkeypatch, handled.append)
    message = FakeMessage({"task": "t", "id": "m-9", "x-spakky-redeliveries": 2})
    handler(message)
    assert handled == [message]


def test_guarded_consumer_rabbitmq_redelivered_expect_counted_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A redelivered RabbitMQ message is republished with its count, not handled."""
    import spakky.dispatch.celery.consumer as consumer_module

    handled: list[object] = []
    copies: list[tuple[object, int]] = []
    monkeypatch.setattr(
        consumer_module,
        "_requeue_counted",
        lambda message, count: copies.append((message, count)),
    )
    handler, _, _ = _guarded(monkeypatch, handled.append)
    message = FakeMessage({"task": "t", "id": "m-10"})
    message.delivery_info = {"redelivered": True}  # type: ignore[attr-defined]
    message.channel = type("Channel", (), {"republishes_redeliveries": True})()  # type: ignore[attr-defined]
    handler(message)
    assert handled == []
    assert copies == [(message, 1)]


def _consumer_of(broker: str, **conf: object) -> GuardedConsumer:
    app = Celery("consumer-unit", broker=broker, set_as_current=False)
    app.conf.update(conf)
    consumer = GuardedConsumer.__new__(GuardedConsumer)
    consumer.app = app
    return consumer


def test_guarded_consumer_connection_for_read_redis_expect_guarded_with_recovery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Redis worker consumes through our transport, with its consumer's recovery."""
    consumer = _consumer_of("redis://127.0.0.1:6379/9")
    monkeypatch.setattr(GuardedConsumer, "ensure_connected", lambda self, conn: conn)
    connection = consumer.connection_for_read()
    try:
        channel = connection.transport_cls.Channel
        assert channel.recovery is consumer.unacked_recovery()
        assert channel.dead_letter_limit == 10_000
    finally:
        connection.release()


@pytest.mark.parametrize(
    ("broker", "conf"),
    [("memory://", {}), ("redis://127.0.0.1:6379/9", {"broker_transport": "redis"})],
)
def test_guarded_consumer_connection_for_read_other_expect_celerys(
    monkeypatch: pytest.MonkeyPatch, broker: str, conf: dict[str, object]
) -> None:
    """Brokers the guard does not cover, or a transport set by hand, get Celery's."""
    consumer = _consumer_of(broker, **conf)
    sentinel = object()
    monkeypatch.setattr(
        Consumer, "connection_for_read", lambda self, heartbeat=None: sentinel
    )
    assert consumer.connection_for_read() is sentinel


def test_guarded_consumer_connect_nothing_owed_expect_connection_untouched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Connecting with nothing owed opens no channel."""

    class Connection:
        @property
        def default_channel(self) -> object:
            raise AssertionError("no channel needed")

    connection = Connection()
    monkeypatch.setattr(Consumer, "connect", lambda self: connection)
    consumer = GuardedConsumer.__new__(GuardedConsumer)
    assert consumer.connect() is connection
    consumer.unacked_recovery()
    assert consumer.connect() is connection
