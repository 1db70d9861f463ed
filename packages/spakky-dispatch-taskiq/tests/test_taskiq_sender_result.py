"""TaskiqTaskSender and TaskiqTaskResult over a recording broker and a real backend."""

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from taskiq import AsyncBroker, InMemoryBroker, TaskiqResult
from taskiq.brokers.inmemory_broker import InmemoryResultBackend

from spakky.dispatch.core import (
    BrokerConfigurationError,
    BrokerRejectedError,
    BrokerUnavailableError,
    DispatchOptions,
    ResultBackendNotConfiguredError,
    ResultBackendUnavailableError,
    TaskResultTimeoutError,
)
from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.taskiq import (
    ETA_LABEL,
    BrokerLoop,
    TaskiqTaskResult,
    TaskiqTaskSender,
    UnsupportedDispatchOptionError,
    build_broker,
)
from spakky.dispatch.taskiq.message import publish_error
from spakky.dispatch.taskiq.result import queue_of

from .conftest import ConfigFactory
from .taskiq_fakes import RecordingBroker

type Loops = Callable[..., BrokerLoop]

MESSAGE = TaskMessage(
    task_name="shop.Orders.place",
    args=("ada",),
    kwargs={"items": ["tea"]},
    headers={"traceparent": "00-abc-def-01"},
)


def _loaded(sent: Any) -> dict[str, Any]:
    return RecordingBroker().formatter.loads(sent.message).model_dump()


def test_send_expect_one_message_with_headers_as_labels(loops: Loops) -> None:
    """The message carries name, arguments and headers as labels; the id is new."""
    broker = RecordingBroker()
    handle = TaskiqTaskSender(loops(broker)).send(MESSAGE)
    [sent] = broker.sent
    body = _loaded(sent)
    assert isinstance(handle, TaskiqTaskResult)
    assert re.fullmatch(r"[0-9a-f]{32}", handle.task_id)
    assert (sent.task_id, sent.task_name) == (handle.task_id, "shop.Orders.place")
    assert (body["args"], body["kwargs"]) == (["ada"], {"items": ["tea"]})
    assert body["labels"] == {"traceparent": "00-abc-def-01"}
    assert repr(handle) == f"<TaskiqTaskResult {handle.task_id}>"


def test_send_async_with_task_id_and_countdown_expect_id_kept_and_eta(
    loops: Loops,
) -> None:
    """send_async publishes the same way; a chosen task id and a countdown travel."""
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    message = TaskMessage(
        task_name="shop.Orders.place",
        options=DispatchOptions(countdown=30),
        task_id="chosen",
    )
    handle = asyncio.run(sender.send_async(message))
    [sent] = broker.sent
    assert handle.task_id == sent.task_id == "chosen"
    assert ETA_LABEL in _loaded(sent)["labels"]


def test_send_refused_message_expect_error_and_nothing_sent(loops: Loops) -> None:
    """Unsupported options are refused before any I/O."""
    broker = RecordingBroker()
    sender = TaskiqTaskSender(loops(broker))
    with pytest.raises(UnsupportedDispatchOptionError):
        sender.send(TaskMessage(task_name="t.T.m", options=DispatchOptions(queue="q")))
    assert broker.sent == []
    assert broker.startups == 0


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (
            "redis://127.0.0.1:1/0",
            "cannot start the taskiq broker redis://127.0.0.1:1/0",
        ),
        ("amqp://guest:secret@127.0.0.1:1//", "cannot start the taskiq broker amqp"),
    ],
)
def test_send_to_unreachable_broker_expect_unavailable_with_masked_url(
    loops: Loops, make_config: ConfigFactory, url: str, where: str
) -> None:
    """A closed port fails the dispatch with BrokerUnavailableError, no password."""
    broker = build_broker(make_config(broker_url=url))
    sender = TaskiqTaskSender(loops(broker, connect_timeout="2"))
    with pytest.raises(BrokerUnavailableError, match=where) as caught:
        sender.send(MESSAGE)
    assert "secret" not in str(caught.value)


def _stored(loops: Loops, results: dict[str, TaskiqResult[Any]]) -> BrokerLoop:
    broker = RecordingBroker()
    backend: InmemoryResultBackend[Any] = InmemoryResultBackend()
    backend.results.update(results)
    broker.with_result_backend(backend)
    return loops(broker)


def _result(value: object = None, error: BaseException | None = None) -> Any:
    return TaskiqResult(
        is_err=error is not None, return_value=value, execution_time=0.1, error=error
    )


def test_result_stored_value_expect_get_and_get_async(loops: Loops) -> None:
    """A stored value is returned by get() and get_async(); ready() says so."""
    loop = _stored(loops, {"t1": _result({"a": 1})})
    handle = TaskiqTaskResult[dict[str, int]]("t1", loop)
    assert handle.ready() is True
    assert handle.get(timeout=1) == {"a": 1}
    assert asyncio.run(handle.get_async(timeout=1)) == {"a": 1}


def test_result_stored_error_expect_task_exception_raised(loops: Loops) -> None:
    """A failed task's own exception is raised to the caller."""
    loop = _stored(loops, {"t1": _result(error=KeyError("gone"))})
    with pytest.raises(KeyError, match="gone"):
        TaskiqTaskResult[None]("t1", loop).get(timeout=1)


def test_result_not_finished_expect_timeout_and_not_ready(loops: Loops) -> None:
    """A task without a result times out; the handle stays usable."""
    handle = TaskiqTaskResult[None]("missing", _stored(loops, {}))
    assert handle.ready() is False
    with pytest.raises(TaskResultTimeoutError, match=r"did not finish within 0\.05s"):
        handle.get(timeout=0.05)
    with pytest.raises(TaskResultTimeoutError):
        asyncio.run(handle.get_async(timeout=0.05))


def test_result_without_backend_expect_not_configured(loops: Loops) -> None:
    """No result backend: reading says how to configure one."""
    handle = TaskiqTaskResult[None]("t1", loops(RecordingBroker()))
    for read in (handle.ready, handle.get, lambda: asyncio.run(handle.get_async())):
        with pytest.raises(
            ResultBackendNotConfiguredError, match="SPAKKY_TASKIQ__RESULT_BACKEND"
        ):
            read()


class BrokenBackend(InmemoryResultBackend[Any]):
    """A backend that answers "ready" and then cannot be read, or cannot answer."""

    def __init__(self, *, ready_fails: bool) -> None:
        super().__init__()
        self.ready_fails = ready_fails

    async def is_result_ready(self, task_id: str) -> bool:
        if self.ready_fails:
            raise ConnectionRefusedError("backend down")
        return True

    async def get_result(
        self, task_id: str, with_logs: bool = False
    ) -> TaskiqResult[Any]:
        raise ConnectionRefusedError("backend down")


@pytest.mark.parametrize("ready_fails", [True, False])
def test_result_backend_down_expect_unavailable(
    loops: Loops, ready_fails: bool
) -> None:
    """A backend that cannot be read gives ResultBackendUnavailableError."""
    broker: AsyncBroker = InMemoryBroker()
    broker.with_result_backend(BrokenBackend(ready_fails=ready_fails))
    handle = TaskiqTaskResult[None]("t1", loops(broker))
    with pytest.raises(ResultBackendUnavailableError, match="backend down"):
        handle.get(timeout=1)


def test_send_handle_expect_queue_of_broker_or_setting(
    loops: Loops, make_config: ConfigFactory
) -> None:
    """The handle knows its queue: a Redis broker's list, else SPAKKY_TASKIQ__QUEUE."""
    config = make_config
    settings = config(queue="orders")
    recorded = TaskiqTaskSender(loops(RecordingBroker()), settings).send(MESSAGE)
    redis = build_broker(config(broker_url="redis://127.0.0.1:1/0", queue="lists"))
    assert queue_of(redis, "orders") == "lists"
    assert queue_of(RecordingBroker(), "orders") == "orders"
    assert queue_of(RecordingBroker(), None) is None
    loop = _stored(loops, {})
    handle = TaskiqTaskResult[None](
        recorded.task_id, loop, task_name=MESSAGE.task_name, queue="orders"
    )
    with pytest.raises(TimeoutError) as caught:
        handle.get(timeout=0.01)
    assert str(caught.value).endswith(
        f"shop.Orders.place ({recorded.task_id}) did not finish within 0.01s; is a "
        "worker consuming queue 'orders'?"
    )


def test_publish_error_expect_configuration_unreachable_or_refused() -> None:
    """A failed kick is a configuration error, an unreachable broker, or a refusal."""
    where = "redis://127.0.0.1:6379/99"
    config_error = publish_error("t", where, RuntimeError("DB index is out of range"))
    unreachable = publish_error("t", where, ConnectionRefusedError("refused"))
    refused = publish_error("t", where, ValueError("too large"))
    assert isinstance(config_error, BrokerConfigurationError)
    assert "fix SPAKKY_TASKIQ__BROKER_URL" in str(config_error)
    assert isinstance(unreachable, BrokerUnavailableError)
    assert isinstance(refused, BrokerRejectedError)
    assert "ValueError: too large" in str(refused)
