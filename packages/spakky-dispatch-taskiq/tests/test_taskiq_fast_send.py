"""The send fast path: when it applies, when it falls back, its guard and errors."""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiormq.exceptions import ChannelInvalidStateError
from taskiq import BrokerMessage, TaskiqMessage, TaskiqMiddleware
from taskiq.formatters.json_formatter import JSONFormatter
from taskiq_aio_pika import AioPikaBroker, Queue

from spakky.dispatch.core import (
    BrokerRejectedError,
    DispatchOptions,
    PublishUnconfirmedError,
    TaskArgumentSerializationError,
)
from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.taskiq import (
    ETA_LABEL,
    EXPIRES_LABEL,
    BrokerLoop,
    TaskiqTaskSender,
    UnsupportedDispatchOptionError,
    fast_send,
)
from spakky.dispatch.taskiq import sender as sender_module
from spakky.dispatch.taskiq.fast_send import (
    FastSend,
    fast_send_for,
    fast_send_problem,
    kick_of,
    plain,
)
from spakky.dispatch.taskiq.handoff import HandOffFormatter, unwrapped
from spakky.dispatch.taskiq.sender import _MAX_CONTROLS

from .conftest import ConfigFactory
from .taskiq_fakes import RecordingBroker

type Loops = Callable[..., BrokerLoop]

MESSAGE = TaskMessage(
    task_name="shop.Orders.place",
    args=("ada", 2),
    kwargs={"items": ["tea", {"n": 1.5}]},
    headers={"traceparent": "00-abc-def-01"},
    task_id="t-1",
)


class Spy:
    """Records which path built each message."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fast: list[BrokerMessage | None] = []
        original = FastSend.wire

        def wire(this: FastSend, *args: Any) -> BrokerMessage | None:
            built = original(this, *args)
            self.fast.append(built)
            return built

        monkeypatch.setattr(FastSend, "wire", wire)


@pytest.fixture(autouse=True)
def fresh_guard() -> Any:
    fast_send_problem.cache_clear()
    fast_send._warn.cache_clear()
    yield
    fast_send_problem.cache_clear()
    fast_send._warn.cache_clear()


def _body(broker: RecordingBroker, index: int = -1) -> dict[str, Any]:
    return broker.formatter.loads(broker.sent[index].message).model_dump()


def test_installed_taskiq_expect_no_problem() -> None:
    """The installed taskiq and taskiq-redis are the ones the path was read on."""
    assert fast_send_problem() is None


@pytest.mark.parametrize(
    ("attribute", "value", "problem"),
    [
        ("TASKIQ_SERIES", frozenset({(0, 1)}), "taskiq is not a series"),
        ("TASKIQ_REDIS_SERIES", frozenset({(0, 1)}), "taskiq-redis is not a series"),
        ("MESSAGE_FIELDS", ("task_id",), "changed: TaskiqMessage fields"),
        (
            "SOURCES_SHA256",
            {"RedisStreamBroker.kick": "0" * 64},
            "changed: RedisStreamBroker.kick source",
        ),
    ],
)
def test_changed_library_expect_public_path_and_one_warning(
    monkeypatch: pytest.MonkeyPatch,
    loops: Loops,
    caplog: pytest.LogCaptureFixture,
    attribute: str,
    value: object,
    problem: str,
) -> None:
    """Another version or source: one warning, every call on the public path."""
    monkeypatch.setattr(fast_send, attribute, value)
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    with caplog.at_level(logging.WARNING, logger=fast_send.__name__):
        sender.send(MESSAGE)
        sender.send(MESSAGE)
        assert fast_send_for(broker) is None
    warnings = [r.getMessage() for r in caplog.records if problem in r.getMessage()]
    assert len(warnings) == 1
    assert len(broker.sent) == 2
    assert _body(broker)["args"] == ["ada", 2]


def test_source_unreadable_expect_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """A guarded function whose source cannot be read counts as changed."""

    def unreadable(function: object) -> str:
        raise OSError("no source")

    monkeypatch.setattr(fast_send, "source_digest", unreadable)
    assert fast_send_problem() == "taskiq or its brokers changed (OSError)"


def test_missing_distribution_expect_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution without metadata is not a known series."""
    monkeypatch.setattr(fast_send, "version", lambda name: "unknown")
    assert fast_send_problem() == "taskiq is not a series the fast path was checked on"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", True),
        (3, True),
        (True, True),
        (None, True),
        (1.5, True),
        (float("inf"), False),
        (float("nan"), False),
        ([1, ["a", {"b": None}]], True),
        ({"a": [1, 2]}, True),
        ({1: "a"}, False),
        ((1, 2), False),
        ([(1, 2)], False),
        (datetime(2030, 1, 1, tzinfo=UTC), False),
        (b"bytes", False),
        ([[[[[[[[[["deep"]]]]]]]]]], False),
    ],
)
def test_plain_expect_only_values_json_mode_keeps(
    value: object, expected: bool
) -> None:
    """Only values that pydantic's JSON-mode dump returns unchanged are plain."""
    assert plain(value) is expected
    if expected:
        dumped = TaskiqMessage(
            task_id="t", task_name="n", labels={}, args=[value], kwargs={}
        ).model_dump(mode="json")
        assert dumped["args"] == [value]


def test_plain_arguments_expect_fast_path_same_message(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """Plain arguments take the fast path; the message is the public path's."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    sender.send(MESSAGE)
    [built] = spy.fast
    assert built is not None
    public = TaskiqMessage(
        task_id="t-1",
        task_name="shop.Orders.place",
        labels={"traceparent": "00-abc-def-01"},
        labels_types={"traceparent": 3},
        args=["ada", 2],
        kwargs={"items": ["tea", {"n": 1.5}]},
    )
    assert broker.sent[0] == broker.formatter.dumps(public)


@pytest.mark.parametrize(
    "message",
    [
        TaskMessage(task_name="t.T.m", args=(datetime(2030, 1, 1, tzinfo=UTC),)),
        TaskMessage(task_name="t.T.m", kwargs={"when": (1, 2)}),
        TaskMessage(task_name="t.T.m", args=(float("inf"),)),
    ],
)
def test_other_arguments_expect_public_path_converts_them(
    monkeypatch: pytest.MonkeyPatch, loops: Loops, message: TaskMessage
) -> None:
    """Arguments pydantic converts take the public path, which converts them."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    TaskiqTaskSender(loops(broker)).send(message)
    assert spy.fast == [None]
    expected = TaskiqMessage(
        task_id="x",
        task_name="t.T.m",
        labels={},
        args=list(message.args),
        kwargs=dict(message.kwargs),
    ).model_dump(mode="json")
    body = _body(broker)
    assert (body["args"], body["kwargs"]) == (expected["args"], expected["kwargs"])


class Stamp(TaskiqMiddleware):
    """Adds a label to every sent message; counts post_send calls."""

    def __init__(self) -> None:
        super().__init__()
        self.after = 0

    def pre_send(self, message: TaskiqMessage) -> TaskiqMessage:
        message.labels["stamped"] = "yes"
        return message

    def post_send(self, message: TaskiqMessage) -> None:
        self.after += 1


class Quiet(TaskiqMiddleware):
    """A middleware that does not see sent messages."""


def test_send_middleware_expect_public_path_through_it(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """A middleware seeing sends gets every message; one that does not, none."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    broker.add_middlewares(Quiet())
    sender.send(MESSAGE)
    stamp = Stamp()
    broker.add_middlewares(stamp)
    sender.send(MESSAGE)
    assert spy.fast[0] is not None
    assert spy.fast[1] is None
    assert "stamped" not in _body(broker, 0)["labels"]
    assert _body(broker, 1)["labels"]["stamped"] == "yes"
    assert stamp.after == 1


def test_worker_handoff_formatter_expect_fast_path_same_message(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """In a worker the broker's formatter is wrapped in ``HandOffFormatter``; a
    send made there (a task dispatching another) still takes the fast path and
    sends what the wrapped formatter would."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    inner = broker.formatter
    broker.formatter = HandOffFormatter(inner)
    assert unwrapped(broker.formatter) is inner
    TaskiqTaskSender(loops(broker)).send(MESSAGE)
    [built] = spy.fast
    assert built is not None
    assert inner.loads(broker.sent[0].message).args == ["ada", 2]
    assert broker.sent[0] == built


def test_other_formatter_expect_public_path(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """A broker with its own formatter gets its messages from that formatter."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    broker.formatter = JSONFormatter()
    TaskiqTaskSender(loops(broker)).send(MESSAGE)
    assert spy.fast == [None]
    assert broker.formatter.loads(broker.sent[0].message).args == ["ada", 2]


class Picky:
    """A serializer that refuses every value."""

    def dumpb(self, value: object) -> bytes:
        raise ValueError("no")

    def loadb(self, value: bytes) -> object:  # pragma: no cover
        raise ValueError("no")


def test_serializer_refuses_expect_public_path_error(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """A serializer error on the fast path is reported by the public path."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    broker.serializer = Picky()  # type: ignore[assignment]
    with pytest.raises(TaskArgumentSerializationError, match=r"shop\.Orders\.place"):
        TaskiqTaskSender(loops(broker)).send(MESSAGE)
    assert spy.fast == [None]
    assert broker.sent == []


def test_fast_kick_fails_expect_publish_errors(loops: Loops) -> None:
    """The fast path reports a refused or unanswered publish as publish does."""
    slow = RecordingBroker(kick_delay=1.0)
    sender = TaskiqTaskSender(loops(slow, connect_timeout="0.05"))
    with pytest.raises(PublishUnconfirmedError, match=r"within 0\.05s"):
        sender.send(MESSAGE)
    refusing = RecordingBroker(fail=RuntimeError("full"))
    with pytest.raises(BrokerRejectedError, match="RuntimeError: full"):
        TaskiqTaskSender(loops(refusing)).send(MESSAGE)


def test_control_labels_expect_worked_out_once_per_options(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """Timeless options are checked once; countdowns follow the send time."""
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    later = DispatchOptions(
        eta=datetime(2030, 1, 1, tzinfo=UTC), expires=datetime(2031, 1, 1, tzinfo=UTC)
    )
    checked: list[DispatchOptions] = []
    refuse = sender_module.refuse_unsupported

    def counting(name: str, options: DispatchOptions) -> None:
        checked.append(options)
        refuse(name, options)

    monkeypatch.setattr(sender_module, "refuse_unsupported", counting)
    for _ in range(3):
        sender.send(TaskMessage(task_name="t.T.m", options=later))
    assert checked == [later]
    labels = _body(broker)["labels"]
    assert labels[ETA_LABEL] == str(later.eta.timestamp())  # type: ignore[union-attr]
    assert labels[EXPIRES_LABEL] == str(datetime(2031, 1, 1, tzinfo=UTC).timestamp())
    times = iter([1000.0, 2000.0])
    monkeypatch.setattr("spakky.dispatch.taskiq.sender.time.time", lambda: next(times))
    soon = DispatchOptions(countdown=5, expires=60)
    sender.send(TaskMessage(task_name="t.T.m", options=soon))
    sender.send(TaskMessage(task_name="t.T.m", options=soon))
    assert [_body(broker, i)["labels"][ETA_LABEL] for i in (-2, -1)] == [
        "1005.0",
        "2005.0",
    ]
    assert _body(broker)["labels"][EXPIRES_LABEL] == "2060.0"
    assert checked == [later, soon]


def test_unsupported_option_expect_refused_every_time(loops: Loops) -> None:
    """Refused options are not remembered as checked."""
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    for _ in range(2):
        with pytest.raises(UnsupportedDispatchOptionError):
            sender.send(
                TaskMessage(task_name="t.T.m", options=DispatchOptions(priority=1))
            )
    assert broker.sent == []


def test_many_tasks_expect_control_cache_starts_over(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """The cache of control labels is bounded."""
    monkeypatch.setattr("spakky.dispatch.taskiq.sender._MAX_CONTROLS", 2)
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    for name in ("a.A.a", "b.B.b", "c.C.c"):
        sender.send(TaskMessage(task_name=name))
    assert len(sender._controls) == 1
    assert _MAX_CONTROLS == 1024
    assert [sent.task_name for sent in broker.sent] == ["a.A.a", "b.B.b", "c.C.c"]


def test_header_not_text_expect_prepared_as_taskiq_does(loops: Loops) -> None:
    """A header value that is not a string (a message built elsewhere) is
    prepared as taskiq prepares labels."""
    broker = RecordingBroker()
    message = TaskMessage(task_name="t.T.m", headers={"n": 3})  # type: ignore[dict-item]
    TaskiqTaskSender(loops(broker)).send(message)
    body = _body(broker)
    assert (body["labels"], body["labels_types"]) == ({"n": "3"}, {"n": 2})


def test_async_send_expect_fast_path(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """send_async takes the same path."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    handle = asyncio.run(TaskiqTaskSender(loops(broker)).send_async(MESSAGE))
    assert handle.task_id == "t-1"
    assert spy.fast[0] is not None
    assert _body(broker)["kwargs"] == {"items": ["tea", {"n": 1.5}]}


def test_middlewares_replaced_expect_hooks_worked_out_again(
    monkeypatch: pytest.MonkeyPatch, loops: Loops
) -> None:
    """A new middleware list (not only an appended one) is looked at again."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    sender.send(MESSAGE)
    broker.middlewares = [Stamp()]
    sender.send(MESSAGE)
    broker.middlewares = [Quiet()]
    sender.send(MESSAGE)
    assert [built is not None for built in spy.fast] == [True, False, True]


def test_fast_send_turned_off_expect_public_path(
    monkeypatch: pytest.MonkeyPatch, loops: Loops, make_config: ConfigFactory
) -> None:
    """``SPAKKY_TASKIQ__FAST_SEND=false``: every message the way kiq sends it."""
    spy = Spy(monkeypatch)
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker), make_config(fast_send="false"))
    sender.send(MESSAGE)
    assert spy.fast == []
    assert _body(broker)["args"] == ["ada", 2]


class Channel:
    """Stands in for aio-pika's channel: only whether it is closed."""

    is_closed = True


def _amqp(*queues: str) -> AioPikaBroker:
    return AioPikaBroker(
        "amqp://guest:guest@127.0.0.1:1//",
        task_queues=[Queue(name=name) for name in queues],
    )


def test_amqp_kick_unusual_message_expect_broker_kick() -> None:
    """Not started, a priority or a delay label: the broker's own kick; a
    closed channel: aio-pika's error."""
    broker = _amqp("q")
    kick = kick_of(broker)
    kicked: list[BrokerMessage] = []

    async def own(message: BrokerMessage) -> None:
        kicked.append(message)

    broker.kick = own  # type: ignore[method-assign]

    def wire(**labels: str) -> BrokerMessage:
        return BrokerMessage(task_id="t", task_name="n", message=b"{}", labels=labels)

    asyncio.run(kick(wire()))
    broker.write_channel = Channel()  # type: ignore[assignment]
    asyncio.run(kick(wire(priority="3")))
    asyncio.run(kick(wire(delay="5")))
    assert [each.labels for each in kicked] == [{}, {"priority": "3"}, {"delay": "5"}]
    with pytest.raises(ChannelInvalidStateError, match="closed"):
        asyncio.run(kick(wire()))


def test_amqp_kick_several_queues_expect_broker_kick() -> None:
    """A broker routing to several queues keeps its own kick."""
    broker = _amqp("a", "b")
    assert kick_of(broker) == broker.kick
