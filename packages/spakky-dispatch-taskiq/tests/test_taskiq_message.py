"""Labels: headers and options on the way out, control labels on the way in."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from taskiq import BrokerMessage, TaskiqMessage, TaskiqMiddleware
from taskiq.formatters.proxy_formatter import ProxyFormatter
from taskiq.labels import LabelType

from spakky.dispatch.core import (
    BrokerRejectedError,
    BrokerUnavailableError,
    DispatchOptions,
    PublishUnconfirmedError,
    TaskArgumentSerializationError,
)
from spakky.dispatch.core.adapter import (
    HeaderBudgetExceededError,
    ReservedHeaderError,
    TaskMessage,
)
from spakky.dispatch.taskiq import (
    ETA_LABEL,
    EXPIRES_LABEL,
    IGNORE_RESULT_LABEL,
    RETRIES_LABEL,
    Control,
    TaskiqTaskSender,
    UnsupportedDispatchOptionError,
    publish,
)
from spakky.dispatch.taskiq.message import (
    build_message,
    control_labels,
    retry_message,
)

from .conftest import ConfigFactory
from .taskiq_fakes import RecordingBroker

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    "name", ["task_id", "queue_name", "delay", "_retries", "spakky.taskiq.eta"]
)
def test_header_limits_reserved_name_expect_refused(
    name: str, make_config: ConfigFactory
) -> None:
    """The sender reserves taskiq's, its brokers' and our own label names."""
    limits = TaskiqTaskSender(None, make_config()).header_limits  # type: ignore[arg-type]
    with pytest.raises(ReservedHeaderError, match=re.escape(name)):
        limits.check("t.T.m", {"traceparent": "x", name: "y"})


def test_header_limits_own_names_expect_accepted_within_budget(
    make_config: ConfigFactory,
) -> None:
    """Namespaced propagation headers pass; ``MAX_HEADER_BYTES`` bounds their size."""
    limits = TaskiqTaskSender(None, make_config(MAX_HEADER_BYTES="64")).header_limits  # type: ignore[arg-type]
    limits.check("t.T.m", {"traceparent": "x", "spakky.auth.context_snapshot": "y"})
    with pytest.raises(HeaderBudgetExceededError, match="SPAKKY_TASKIQ__MAX_HEADER"):
        limits.check("t.T.m", {"traceparent": "x" * 60})
    default = TaskiqTaskSender(None).header_limits  # type: ignore[arg-type]
    assert default.max_bytes == 16384


def test_control_labels_options_expect_labels() -> None:
    """countdown, expires and ignore_result become absolute control labels."""
    labels = control_labels(
        "t.T.m",
        DispatchOptions(countdown=5, expires=60, ignore_result=True),
        NOW,
    )
    assert labels == {
        ETA_LABEL: NOW + 5,
        EXPIRES_LABEL: NOW + 60,
        IGNORE_RESULT_LABEL: True,
    }


def test_control_labels_datetimes_expect_timestamps() -> None:
    """eta and an expiry time are sent as seconds since the epoch."""
    eta = datetime(2030, 1, 1, tzinfo=UTC)
    expires = eta + timedelta(hours=1)
    labels = control_labels(
        "t.T.m", DispatchOptions(eta=eta, expires=expires, ignore_result=False), NOW
    )
    assert labels == {ETA_LABEL: eta.timestamp(), EXPIRES_LABEL: expires.timestamp()}


def test_control_labels_no_options_expect_none() -> None:
    """Default options add no label."""
    assert control_labels("t.T.m", DispatchOptions(), NOW) == {}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("queue", "mail"),
        ("routing_key", "mail"),
        ("priority", 5),
        ("time_limit", 10.0),
        ("soft_time_limit", 5.0),
    ],
)
def test_control_labels_unsupported_option_expect_refused(
    option: str, value: object
) -> None:
    """Options taskiq cannot honour are refused, naming the option."""
    with pytest.raises(UnsupportedDispatchOptionError, match=f"t.T.m: {option} "):
        control_labels("t.T.m", DispatchOptions(**{option: value}), NOW)


def test_build_message_expect_typed_labels_and_arguments() -> None:
    """Labels are stringified with their types, as taskiq's kicker does."""
    message = TaskMessage(
        task_name="t.T.m", args=(1, "a"), kwargs={"k": [1]}, headers={"h": "v"}
    )
    built = build_message(message, "id-1", {"h": "v", RETRIES_LABEL: 2, ETA_LABEL: 1.5})
    assert (built.task_id, built.task_name) == ("id-1", "t.T.m")
    assert (built.args, built.kwargs) == ([1, "a"], {"k": [1]})
    assert built.labels == {"h": "v", RETRIES_LABEL: "2", ETA_LABEL: "1.5"}
    assert built.labels_types == {
        "h": LabelType.STR,
        RETRIES_LABEL: LabelType.INT,
        ETA_LABEL: LabelType.FLOAT,
    }


def test_control_of_received_labels_expect_values() -> None:
    """Parsed labels give the control values."""
    control = Control.of(
        {
            RETRIES_LABEL: 2,
            ETA_LABEL: 5.5,
            EXPIRES_LABEL: "9",
            IGNORE_RESULT_LABEL: True,
        }
    )
    assert control == Control(retries=2, eta=5.5, expires=9.0, ignore_result=True)


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {RETRIES_LABEL: "x", ETA_LABEL: True, EXPIRES_LABEL: None},
        {RETRIES_LABEL: -3, ETA_LABEL: [1], IGNORE_RESULT_LABEL: "true"},
    ],
)
def test_control_of_missing_or_malformed_expect_defaults(
    labels: dict[str, Any],
) -> None:
    """A foreign producer's odd labels never break a worker: they count as absent."""
    assert Control.of(labels) == Control()


def test_retry_message_expect_counted_and_delayed_with_labels_kept() -> None:
    """A retry keeps id, arguments and headers, counts up and sets the delay."""
    received = TaskiqMessage(
        task_id="id-1",
        task_name="t.T.m",
        labels={"traceparent": "tp", RETRIES_LABEL: 1},
        labels_types={"traceparent": 3, RETRIES_LABEL: 2},
        args=[1],
        kwargs={"k": 2},
    )
    again = retry_message(received, 2, 30.0)
    assert (again.task_id, again.args, again.kwargs) == ("id-1", [1], {"k": 2})
    assert again.labels["traceparent"] == "tp"
    assert again.labels[RETRIES_LABEL] == "2"
    assert float(again.labels[ETA_LABEL]) > 30.0
    assert again.labels_types is not None
    assert again.labels_types[ETA_LABEL] == LabelType.FLOAT


def _message(*args: object, **kwargs: object) -> TaskiqMessage:
    return TaskiqMessage(
        task_id="id-1", task_name="t.T.m", labels={}, args=list(args), kwargs=kwargs
    )


class Stamping(TaskiqMiddleware):
    """Adds a label before sending and notes what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        message.labels["stamp"] = "yes"
        return message

    async def post_send(self, message: TaskiqMessage) -> None:
        self.sent.append(message.task_id)


def test_publish_expect_middlewares_run_and_message_kicked() -> None:
    """publish runs pre_send/post_send of the broker's middlewares, as kiq does."""
    broker = RecordingBroker()
    stamping = Stamping()
    broker.add_middlewares(stamping, TaskiqMiddleware())
    asyncio.run(publish(broker, _message(1), timeout=5))
    [sent] = broker.sent
    assert isinstance(sent, BrokerMessage)
    assert sent.labels == {"stamp": "yes"}
    assert stamping.sent == ["id-1"]


def test_publish_unserializable_kwarg_expect_argument_named() -> None:
    """An argument JSON cannot carry is named, with its type; nothing is sent."""
    broker = RecordingBroker()
    with pytest.raises(TaskArgumentSerializationError) as caught:
        asyncio.run(publish(broker, _message(1, when=object()), timeout=5))
    assert "argument 'when' of type object" in str(caught.value)
    assert broker.sent == []


class Refusing(ProxyFormatter):
    """A formatter that can encode nothing."""

    def dumps(self, message: TaskiqMessage) -> BrokerMessage:
        raise ValueError("nope")


@pytest.mark.parametrize(
    ("args", "expected"),
    [((1,), "argument 0 of type int"), ((), "t.T.m: cannot be encoded (nope)")],
)
def test_publish_formatter_refuses_expect_first_argument_or_whole_message(
    args: tuple[object, ...], expected: str
) -> None:
    """When every probe fails the first argument is blamed, else the message."""
    broker = RecordingBroker()
    broker.with_formatter(Refusing(broker))
    with pytest.raises(TaskArgumentSerializationError, match=re.escape(expected)):
        asyncio.run(publish(broker, _message(*args), timeout=5))


@pytest.mark.parametrize(
    "error", [ConnectionRefusedError("refused"), RedisConnectionError("down")]
)
def test_publish_unreachable_expect_broker_unavailable(error: Exception) -> None:
    """Connection errors of any client become BrokerUnavailableError."""
    with pytest.raises(BrokerUnavailableError, match="was not sent to RecordingBroker"):
        asyncio.run(publish(RecordingBroker(fail=error), _message(), timeout=5))


def test_publish_silent_broker_expect_unconfirmed_and_may_be_queued() -> None:
    """A broker that does not answer in time: the message may have been queued."""
    broker = RecordingBroker(kick_delay=1.0)
    with pytest.raises(PublishUnconfirmedError, match="may or may not"):
        asyncio.run(publish(broker, _message(), timeout=0.05))


def test_publish_refused_expect_broker_rejected() -> None:
    """Any other broker error is the core's BrokerRejectedError naming it."""
    broker = RecordingBroker(fail=ValueError("bad routing key"))
    with pytest.raises(BrokerRejectedError, match="ValueError: bad routing key"):
        asyncio.run(publish(broker, _message(), timeout=5))
