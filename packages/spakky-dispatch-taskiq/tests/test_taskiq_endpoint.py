"""Worker endpoints: received messages run through the invoker, retries, options."""

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from taskiq import InMemoryBroker

from spakky.dispatch.core import (
    DispatchOptions,
    RetryableTaskError,
    TaskDispatchError,
    TaskRefusedError,
    TaskResultTimeoutError,
)
from spakky.dispatch.core.adapter import (
    DuplicateTaskNameError,
    TaskBinding,
    TaskInvoker,
    TaskMessage,
)
from spakky.dispatch.taskiq import (
    ENDPOINT_MARK,
    RETRIES_LABEL,
    BrokerLoop,
    TaskArgumentsMismatchError,
    TaskExpiredError,
    TaskiqEndpointRegistrar,
    TaskiqTaskResult,
    TaskiqTaskSender,
    TaskResultNotSerializableError,
    UnsupportedDispatchOptionError,
)
from spakky.dispatch.taskiq.endpoint import _PlainParameters

from .taskiq_fakes import FakeInvoker

type Loops = Callable[..., BrokerLoop]


class Orders:
    """A handler class the endpoints are named after."""

    def place(self, customer: str) -> str:
        """Places an order."""
        return customer

    async def restock(self, amount: int) -> int:
        return amount


def _binding(method: str = "place", **fields: Any) -> TaskBinding:
    return TaskBinding(
        name=f"shop.Orders.{method}",
        handler_type=Orders,
        method_name=method,
        pod_name="orders",
        is_async=method == "restock",
        **fields,
    )


class Worker:
    """An in-memory broker whose endpoints call a FakeInvoker."""

    def __init__(self, loops: Loops, invoker: FakeInvoker, *bindings: TaskBinding):
        self.broker = InMemoryBroker()
        self.loop = loops(self.broker)
        self.invoker = invoker
        self.registrar = TaskiqEndpointRegistrar(self.loop, cast(TaskInvoker, invoker))
        for binding in bindings:
            self.registrar.register(binding)
        self.sender = TaskiqTaskSender(self.loop)

    def send(
        self, method: str = "place", *args: object, **options: Any
    ) -> TaskiqTaskResult[Any]:
        return self.sender.send(
            TaskMessage(
                task_name=f"shop.Orders.{method}",
                args=args,
                headers={"traceparent": "tp"},
                options=DispatchOptions(**options),
            )
        )

    def settle(self) -> None:
        """Wait until every delivered message has been handled."""

        async def drained(broker: Any) -> None:
            while broker._running_tasks:
                await broker.wait_all()
                await asyncio.sleep(0.01)

        self.loop.run(drained)


@pytest.fixture
def worker(loops: Loops) -> Iterator[Callable[..., Worker]]:
    made: list[Worker] = []

    def build(invoker: FakeInvoker, *bindings: TaskBinding) -> Worker:
        made.append(Worker(loops, invoker, *bindings))
        return made[-1]

    yield build
    for each in made:
        each.invoker.runner.close()


def test_sync_task_expect_invoked_in_a_thread_with_labels_and_id(
    worker: Callable[..., Worker],
) -> None:
    """A sync task runs off the broker's loop, with headers, task id and retries 0."""
    running = worker(FakeInvoker("placed"), _binding())
    handle = running.send("place", "ada")
    assert handle.get(timeout=5) == "placed"
    [call] = running.invoker.calls
    assert call["kind"] == "sync"
    assert (call["task_name"], call["args"]) == ("shop.Orders.place", ("ada",))
    assert call["headers"]["traceparent"] == "tp"
    assert (call["task_id"], call["retries"]) == (handle.task_id, 0)
    assert call["loop"] is None
    assert call["thread"] is not threading.main_thread()


def test_async_task_expect_awaited_on_the_brokers_own_loop(
    worker: Callable[..., Worker],
) -> None:
    """An async task is awaited on the loop that received it (the broker's),
    with no hop to the invoker's loop thread."""
    running = worker(FakeInvoker(7), _binding("restock"))
    assert running.send("restock", 7).get(timeout=5) == 7
    [call] = running.invoker.calls
    assert call["kind"] == "async"
    assert call["loop"] is running.loop.run(_loop_of_broker)
    assert call["thread"] is not threading.current_thread()
    assert call["loop"] is not running.invoker.runner.loop


async def _loop_of_broker(_: Any) -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


class SendingInvoker(FakeInvoker):
    """An async task that makes a sync (blocking) send of ``inner`` first."""

    def __init__(self, inner: str) -> None:
        super().__init__("done")
        self.inner = inner
        self.sender: TaskiqTaskSender | None = None
        self.sent: TaskiqTaskResult[Any] | None = None

    async def invoke_async(self, task_name: str, *rest: Any, **more: Any) -> object:
        if task_name.endswith("restock") and self.sender is not None:
            self.sent = self.sender.send(
                TaskMessage(task_name=self.inner, args=("inner",))
            )
        return await super().invoke_async(task_name, *rest, **more)


def test_async_task_sync_send_expect_published_before_the_task_is_done(
    worker: Callable[..., Worker],
) -> None:
    """A blocking send from an async task runs on the broker's loop and is
    awaited before the task's value is stored."""
    invoker = SendingInvoker("shop.Orders.place")
    running = worker(invoker, _binding("restock"), _binding())
    invoker.sender = running.sender
    assert running.send("restock", 7).get(timeout=5) == "done"
    assert invoker.sent is not None
    assert invoker.sent.get(timeout=5) == "done"
    assert [call["kind"] for call in invoker.calls] == ["async", "sync"]


def test_async_task_sync_send_fails_expect_the_task_fails(
    worker: Callable[..., Worker],
) -> None:
    """A publish the async task started and that failed fails the task."""
    invoker = SendingInvoker("shop.Orders.unknown")  # the broker refuses it
    running = worker(invoker, _binding("restock"))
    invoker.sender = running.sender
    with pytest.raises(TaskDispatchError):
        running.send("restock", 7).get(timeout=5)


def test_retryable_error_expect_requeued_with_count_then_value(
    worker: Callable[..., Worker],
) -> None:
    """RetryableTaskError queues the message again, counted; the value comes once."""
    retry = RetryableTaskError("busy", delay=0.05, max_retries=3)
    running = worker(FakeInvoker(retry, retry, "finally"), _binding())
    handle = running.send("place", "ada")
    assert handle.get(timeout=5) == "finally"
    calls = running.invoker.calls
    assert [call["retries"] for call in calls] == [0, 1, 2]
    assert {call["task_id"] for call in calls} == {handle.task_id}
    assert all(call["headers"]["traceparent"] == "tp" for call in calls)
    assert calls[-1]["headers"][RETRIES_LABEL] == 2


def test_retries_used_up_expect_final_error_or_the_retry_error(
    worker: Callable[..., Worker],
) -> None:
    """After max_retries the task fails with final_error, or with the error itself."""
    with_final = RetryableTaskError(
        "x", delay=0.01, max_retries=1, final_error=KeyError("gone")
    )
    running = worker(FakeInvoker(with_final), _binding())
    with pytest.raises(KeyError, match="gone"):
        running.send("place", "ada").get(timeout=5)
    assert len(running.invoker.calls) == 2

    bare = RetryableTaskError("auth down", delay=0.01, max_retries=0)
    running = worker(FakeInvoker(bare), _binding())
    with pytest.raises(RetryableTaskError, match="auth down"):
        running.send("place", "ada").get(timeout=5)
    assert len(running.invoker.calls) == 1


def test_arguments_not_fitting_expect_refused_naming_counts_not_names(
    worker: Callable[..., Worker],
) -> None:
    """Arguments the method cannot take fail the task before the invoker runs.

    The error names how many arguments came, never a keyword name from the
    message, which Python's own TypeError would quote into the worker's log.
    """
    running = worker(FakeInvoker(), _binding())
    with pytest.raises(TaskArgumentsMismatchError) as caught:
        running.send("place").get(timeout=5)
    assert "shop.Orders.place got 0 positional and 0 keyword argument(s)" in str(
        caught.value
    )
    handle = running.sender.send(
        TaskMessage(task_name="shop.Orders.place", kwargs={"who\nforged": "x"})
    )
    with pytest.raises(TaskArgumentsMismatchError) as caught:
        handle.get(timeout=5)
    assert "got 0 positional and 1 keyword argument(s)" in str(caught.value)
    assert "forged" not in str(caught.value)
    assert running.invoker.calls == []
    assert isinstance(caught.value, TaskRefusedError)  # logged as expected


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("a",), {}),
        (("a", 1, 2, 3), {}),
        ((), {"sku": "a"}),
        (("a",), {"count": 2}),
        (("a",), {"sku": "b"}),
        ((), {"count": 2}),
        (("a",), {"other": 1}),
        ((), {"sku": "a", "count": 1, "note": "x"}),
    ],
)
def test_plain_parameters_quick_check_expect_same_answer_as_bind(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """The quick yes for plain parameters agrees with Signature.bind."""

    def method(self: object, sku: str, count: int = 1, note: str = "") -> None: ...

    signature = inspect.signature(method)
    plain = _PlainParameters.of(signature, 1)
    assert plain is not None
    try:
        signature.bind(None, *args, **kwargs)
        binds = True
    except TypeError:
        binds = False
    assert plain.fit(args, kwargs) is binds


def test_plain_parameters_other_kinds_expect_no_quick_check() -> None:
    """*args, **kwargs or keyword-only parameters always go through bind."""

    def starred(self: object, *items: str) -> None: ...

    def keyword_only(self: object, *, sku: str) -> None: ...

    for method in (starred, keyword_only):
        assert _PlainParameters.of(inspect.signature(method), 1) is None


def test_classmethod_task_expect_arguments_checked_without_self(
    worker: Callable[..., Worker],
) -> None:
    """A task bound at class level (a classmethod) takes no self placeholder."""

    class Catalog:
        @classmethod
        def lookup(cls, sku: str) -> str:
            return sku

    binding = TaskBinding(
        name="shop.Catalog.lookup",
        handler_type=Catalog,
        method_name="lookup",
        pod_name="catalog",
        is_async=False,
    )
    running = worker(FakeInvoker("found"), binding)
    handle = running.sender.send(
        TaskMessage(task_name="shop.Catalog.lookup", args=("a",))
    )
    assert handle.get(timeout=5) == "found"


def test_countdown_expect_task_run_after_waiting(worker: Callable[..., Worker]) -> None:
    """A countdown delays the run on the worker; the task still runs."""
    running = worker(FakeInvoker("later"), _binding())
    handle = running.send("place", "ada", countdown=0.1)
    assert handle.get(timeout=5) == "later"
    assert len(running.invoker.calls) == 1


@pytest.mark.parametrize(
    "options",
    [
        {"expires": datetime.now(UTC) - timedelta(seconds=1)},
        {"countdown": 0.2, "expires": 0.05},
    ],
    ids=["expired-on-arrival", "expired-while-waiting"],
)
def test_expired_task_expect_not_run_and_expired_error(
    worker: Callable[..., Worker], options: dict[str, Any]
) -> None:
    """A task past its expiry time never runs; the caller gets TaskExpiredError."""
    running = worker(FakeInvoker("never"), _binding())
    with pytest.raises(TaskExpiredError, match=r"shop.Orders.place\["):
        running.send("place", "ada", **options).get(timeout=5)
    assert running.invoker.calls == []


def test_ignore_result_expect_task_run_and_nothing_stored(
    worker: Callable[..., Worker],
) -> None:
    """ignore_result runs the task but stores no result."""
    running = worker(FakeInvoker("done"), _binding())
    handle = running.send("place", "ada", ignore_result=True)
    assert running.invoker.ran.wait(timeout=5)
    running.settle()
    assert handle.ready() is False
    with pytest.raises(TaskResultTimeoutError):
        handle.get(timeout=0.05)


def test_unstorable_return_value_expect_clear_error(
    worker: Callable[..., Worker],
) -> None:
    """A return value JSON cannot carry fails the task with a clear error."""
    running = worker(FakeInvoker(object()), _binding())
    with pytest.raises(TaskResultNotSerializableError, match="returned object"):
        running.send("place", "ada").get(timeout=5)


def test_register_expect_endpoint_named_like_the_method(
    worker: Callable[..., Worker],
) -> None:
    """The broker's task is named module.Class.method and carries our mark."""
    running = worker(FakeInvoker(), _binding())
    task = running.broker.find_task("shop.Orders.place")
    assert task is not None
    function = task.original_func
    assert getattr(function, ENDPOINT_MARK) is True
    assert function.__qualname__.startswith("Orders.place")
    assert function.__doc__ == "Places an order."


def test_register_again_expect_replaced(worker: Callable[..., Worker]) -> None:
    """Registering a task again (a new application on the broker) replaces ours."""
    running = worker(FakeInvoker(), _binding())
    first = running.broker.find_task("shop.Orders.place")
    running.registrar.register(_binding())
    assert running.broker.find_task("shop.Orders.place") is not first


def test_register_over_foreign_task_expect_duplicate_error(
    worker: Callable[..., Worker],
) -> None:
    """A taskiq task we did not register is never overwritten."""
    running = worker(FakeInvoker())
    running.broker.register_task(lambda: None, task_name="shop.Orders.place")
    with pytest.raises(
        DuplicateTaskNameError, match="was not registered from a @TaskHandler"
    ):
        running.registrar.register(_binding())


def test_register_declared_unsupported_option_expect_refused_at_startup(
    worker: Callable[..., Worker],
) -> None:
    """@task_options this transport cannot honour fail registration, not each call."""
    running = worker(FakeInvoker())
    with pytest.raises(UnsupportedDispatchOptionError, match="priority"):
        running.registrar.register(_binding(options=DispatchOptions(priority=5)))


def test_stored_result_expect_our_labels_dropped_others_kept(
    worker: Callable[..., Worker],
) -> None:
    """Our tasks' headers (auth snapshot included) are not stored with results."""
    running = worker(FakeInvoker("done"), _binding())
    TaskiqEndpointRegistrar(running.loop, cast(TaskInvoker, running.invoker))

    async def native() -> str:
        return "native"

    running.broker.register_task(native, task_name="native.task")
    handle = running.send("place", "ada")
    assert handle.get(timeout=5) == "done"

    async def kick_native(broker: Any) -> Any:
        task = broker.find_task("native.task")
        sent = await task.kicker().with_labels(tenant="acme").kiq()
        return await sent.wait_result(timeout=5)

    native_result = running.loop.run(kick_native)
    backend = running.broker.result_backend
    assert backend.results[handle.task_id].labels == {}
    assert native_result.labels == {"tenant": "acme"}
    middlewares = [type(m).__name__ for m in running.broker.middlewares]
    assert middlewares == ["StoredLabelsMiddleware"]
