"""The plugin composes core, taskiq adapter, tracing and auth into an application."""

import asyncio
import os
from typing import Any, override
from uuid import UUID

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from taskiq import AsyncBroker, InMemoryBroker, TaskiqScheduler

import spakky.plugins.taskiq
from spakky.dispatch.auth import AuthSnapshotPropagator, ProtectedScheduleError
from spakky.dispatch.core.adapter import (
    HeaderPropagation,
    ITaskSender,
    TaskMessage,
    TaskRegistrationPostProcessor,
    TaskRegistry,
    TransportConflictError,
)
from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect
from spakky.dispatch.taskiq import BrokerLoop, SpakkyScheduleSource, TaskiqTaskResult
from spakky.dispatch.tracing import TraceHeaderPropagator
from spakky.plugins.taskiq import InvalidSettingsError
from spakky.plugins.taskiq.main import initialize

from . import plugin_handlers, plugin_loop, plugin_protected, plugin_user_broker
from .conftest import AppFactory
from .plugin_handlers import Mailer
from .plugin_loop import Stock


def test_plugin_sync_task_expect_sent_and_run_with_di(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """A sync @task call goes through the broker and runs with DI and inline calls."""
    app = make_app(plugin_handlers)
    mailer: Any = app.container.get(Mailer)
    handle = mailer.send("ada")
    assert isinstance(handle, TaskiqTaskResult)
    value = handle.get(timeout=5)
    assert value["text"] == "hello ada"
    assert value["shout"] == "ADA"
    assert value["task_id"] == handle.task_id


def test_plugin_async_task_expect_awaited_dispatch_and_inline_await(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """An async @task call is sent when awaited; inside, @task calls run inline."""
    app = make_app(plugin_handlers)
    mailer: Any = app.container.get(Mailer)

    async def scenario() -> tuple[str, str]:
        sent = await (await mailer.send_async("ADA")).get_async(timeout=5)
        forwarded = await (await mailer.forward("bo")).get_async(timeout=5)
        return sent, forwarded

    sent, forwarded_id = asyncio.run(scenario())
    assert sent == "ada"
    assert str(UUID(forwarded_id)) == forwarded_id  # the dispatcher's id, kept


def test_plugin_awaited_dispatch_expect_broker_and_async_tasks_on_callers_loop(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """The first awaited dispatch starts the broker on the caller's loop; the
    async tasks memory:// runs there reuse a loop-bound resource, no hop."""
    app = make_app(plugin_handlers, plugin_loop)
    mailer: Any = app.container.get(Mailer)
    stock: Any = app.container.get(Stock)
    broker_loop = app.container.get(BrokerLoop)

    async def where(_: AsyncBroker) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def scenario() -> tuple[bool, list[dict[str, int]]]:
        here = asyncio.get_running_loop()
        first = await (await stock.count()).get_async(timeout=5)
        second = await (await stock.count()).get_async(timeout=5)
        return await broker_loop.call(where) is here, [first, second]

    on_callers_loop, runs = asyncio.run(scenario())
    assert on_callers_loop
    assert [run["uses"] for run in runs] == [1, 2]
    assert runs[0]["loop"] == runs[1]["loop"]
    assert broker_loop.broker.is_worker_process is False
    assert mailer.shout("after").get(timeout=5) == "AFTER"  # sync path after the loop


def test_plugin_schedules_expect_entries_on_the_scheduler_pod(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """@schedule methods become entries of the scheduler's source."""
    app = make_app(plugin_handlers)
    scheduler = app.container.get(TaskiqScheduler)
    source = app.container.get(SpakkyScheduleSource)
    assert scheduler.sources == [source]
    assert scheduler.broker is app.container.get(AsyncBroker)  # type: ignore[type-abstract]
    entry = source.entries[f"{Mailer.__module__}.Mailer.digest"]
    assert entry.task.interval is not None
    assert entry.task.interval.total_seconds() == 300


def test_plugin_composition_expect_tracing_and_auth_propagators(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """The same context adapters as spakky-celery: auth before tracing."""
    app = make_app(plugin_handlers)
    kinds = [type(p) for p in app.container.get(HeaderPropagation).propagators]
    assert kinds == [AuthSnapshotPropagator, TraceHeaderPropagator]
    for aspect in (TaskDispatchAspect, AsyncTaskDispatchAspect):
        assert app.container.contains(aspect)
        assert Order.get(aspect).order == 1


def test_plugin_user_broker_expect_used_without_broker_url(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """A user's AsyncBroker pod wins; the default one (and its URL) is never needed."""
    memory_env.delenv("SPAKKY_TASKIQ__BROKER_URL")
    app = make_app(plugin_handlers, plugin_user_broker)
    broker = app.container.get(AsyncBroker)  # type: ignore[type-abstract]
    assert isinstance(broker, plugin_user_broker.OwnBroker)
    mailer: Any = app.container.get(Mailer)
    assert mailer.shout("x").get(timeout=5) == "X"


def test_plugin_user_broker_added_first_expect_default_never_built(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """A broker pod added before the plugin wins too; the default is never built."""
    memory_env.delenv("SPAKKY_TASKIQ__BROKER_URL")
    app = make_app(plugin_handlers, before=(plugin_user_broker.own_broker,))
    assert isinstance(
        app.container.get(AsyncBroker),  # type: ignore[type-abstract]
        plugin_user_broker.OwnBroker,
    )
    assert app.container.contains(
        AsyncBroker, spakky.plugins.taskiq.DEFAULT_BROKER_POD_NAME
    )
    mailer: Any = app.container.get(Mailer)
    assert mailer.shout("x").get(timeout=5) == "X"


def test_plugin_without_broker_url_expect_configuration_error(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """No broker URL and no broker pod: starting names the variable to set."""
    memory_env.delenv("SPAKKY_TASKIQ__BROKER_URL")
    with pytest.raises(InvalidSettingsError, match="SPAKKY_TASKIQ__BROKER_URL"):
        make_app(plugin_handlers)


def test_plugin_stop_expect_broker_shut_down(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Stopping the application shuts down the broker the plugin started."""
    app = make_app(plugin_handlers)
    mailer: Any = app.container.get(Mailer)
    mailer.shout("x").get(timeout=5)
    loop = app.container.get(BrokerLoop)
    events: list[str] = []
    broker = loop.broker
    assert isinstance(broker, InMemoryBroker)
    original = broker.shutdown

    async def shutdown() -> None:
        events.append("shutdown")
        await original()

    broker.shutdown = shutdown  # type: ignore[method-assign]
    app.stop()
    assert events == ["shutdown"]


def test_plugin_protected_schedule_expect_refused_at_startup(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Fail-closed auth works on this transport too: protected schedules are refused."""
    with pytest.raises(ProtectedScheduleError, match=r"Ledger\.reconcile"):
        make_app(plugin_protected)


@Pod()
class OtherSender(ITaskSender):
    """Stands for another transport's sender."""

    @override
    def send(self, message: TaskMessage) -> Any:
        raise NotImplementedError


def test_plugin_second_transport_expect_conflict_error(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """Another transport's sender, before or after the plugin, is refused clearly."""
    before = SpakkyApplication(ApplicationContext()).add(OtherSender)
    with pytest.raises(TransportConflictError, match="ITaskSender"):
        initialize(before)
    after = SpakkyApplication(ApplicationContext())
    initialize(after)
    after.add(OtherSender).scan(plugin_handlers)
    with pytest.raises(TransportConflictError, match="OtherSender"):
        after.start()


def test_plugin_worker_process_expect_tasks_run_in_this_process(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """memory:// runs tasks in the dispatching process (for tests and demos)."""
    app = make_app(plugin_handlers)
    mailer: Any = app.container.get(Mailer)
    assert mailer.send("x").get(timeout=5)["pid"] == os.getpid()


def test_plugin_post_processor_attached_again_expect_registered_once(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Registration runs once, however often the context is attached."""
    app = make_app(plugin_handlers)
    registry = app.container.get(TaskRegistry)
    count = len(registry)
    app.container.get(TaskRegistrationPostProcessor).set_application_context(
        app.application_context
    )
    assert len(registry) == count
