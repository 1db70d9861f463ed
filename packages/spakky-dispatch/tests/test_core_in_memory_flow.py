"""The whole core over the in-memory transport, behind test-side dispatch aspects.

The aspects here are the smallest possible shells over ``TaskDispatcher`` (the
plugin's are the same shape), proving a transport plus two aspects is all the
core needs: no Celery anywhere.
"""

import asyncio
from inspect import iscoroutinefunction
from typing import Any, override

from spakky.core.aop.aspect import Aspect, AsyncAspect
from spakky.core.aop.interfaces.aspect import IAspect, IAsyncAspect
from spakky.core.aop.pointcut import Around
from spakky.core.common.types import AsyncFunc, Func
from spakky.core.pod.annotations.order import Order
from spakky.task import TaskHandler, TaskRoute, task

from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import task_name_for
from spakky.dispatch.core.testing import InMemoryTaskResult

from .dispatch_core_support import running_app


def _is_sync_task(method: Func) -> bool:
    return TaskRoute.exists(method) and not iscoroutinefunction(method)


def _is_async_task(method: Func) -> bool:
    return TaskRoute.exists(method) and iscoroutinefunction(method)


@Order(0)
@Aspect()
class InMemoryDispatchAspect(IAspect):
    """Sends sync ``@task`` calls through the dispatcher, or runs them inline."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self.dispatcher = dispatcher

    @Around(_is_sync_task)
    @override
    def around(self, joinpoint: Func, *args: Any, **kwargs: Any) -> Any:
        task = self.dispatcher.route(joinpoint)
        if task is None:
            return joinpoint(*args, **kwargs)
        return self.dispatcher.dispatch(task, args, kwargs)


@Order(0)
@AsyncAspect()
class AsyncInMemoryDispatchAspect(IAsyncAspect):
    """Sends async ``@task`` calls through the dispatcher, or awaits them inline."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self.dispatcher = dispatcher

    @Around(_is_async_task)
    @override
    async def around_async(
        self, joinpoint: AsyncFunc, *args: Any, **kwargs: Any
    ) -> Any:
        task = self.dispatcher.route(joinpoint)
        if task is None:
            return await joinpoint(*args, **kwargs)
        return await self.dispatcher.dispatch_async(task, args, kwargs)


@TaskHandler()
class OrderTasks:
    """Tasks calling tasks."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @task
    def place(self, order_id: str) -> str:
        """Places an order, then calls another task (inline on the worker)."""
        self.calls.append(f"place:{order_id}")
        receipt = self.notify(order_id)
        return f"placed:{order_id}:{receipt}"

    @task
    def notify(self, order_id: str) -> str:
        """Notify; returns a receipt."""
        self.calls.append(f"notify:{order_id}")
        return f"receipt-{order_id}"

    @task
    async def ship(self, order_id: str) -> str:
        """Ships; awaits another async task (inline on the worker)."""
        self.calls.append(f"ship:{order_id}")
        label = await self.label(order_id)
        return f"shipped:{order_id}:{label}"

    @task
    async def label(self, order_id: str) -> str:
        """Print a label."""
        self.calls.append(f"label:{order_id}")
        return f"label-{order_id}"


APP_PODS = (InMemoryDispatchAspect, AsyncInMemoryDispatchAspect, OrderTasks)


def test_flow_sync_call_outside_worker_expect_captured_not_run() -> None:
    """Calling a ``@task`` method sends it; the method body does not run."""
    with running_app(*APP_PODS) as app:
        handler = app.get(OrderTasks)
        handle = handler.place("o-1")
        assert isinstance(handle, InMemoryTaskResult)
        assert handle.message.task_name == task_name_for(OrderTasks, "place")
        assert handle.message.args == ("o-1",)
        assert app.get(OrderTasks).calls == []


def test_flow_sync_worker_run_expect_nested_task_call_inline() -> None:
    """On the worker, the task runs and its nested ``@task`` call runs inline."""
    with running_app(*APP_PODS) as app:
        handler = app.get(OrderTasks)
        handle = handler.place("o-1")
        assert isinstance(handle, InMemoryTaskResult)
        assert app.sender.run_pending(app.invoker.invoke_message) == 1
        assert handle.get() == "placed:o-1:receipt-o-1"
        assert handler.calls == ["place:o-1", "notify:o-1"]
        assert len(app.sender.messages) == 1


def test_flow_async_call_and_worker_run_expect_nested_await_inline() -> None:
    """Async ``@task`` calls are sent from async code and run on the worker loop."""
    with running_app(*APP_PODS) as app:
        handler = app.get(OrderTasks)

        async def call() -> object:
            handle = await handler.ship("o-2")
            assert isinstance(handle, InMemoryTaskResult)
            assert handler.calls == []
            app.sender.run_pending(app.invoker.invoke_message)
            return await handle.get_async(timeout=5)

        assert asyncio.run(call()) == "shipped:o-2:label-o-2"
        assert handler.calls == ["ship:o-2", "label:o-2"]
        assert [m.task_name for m in app.sender.messages] == [
            task_name_for(OrderTasks, "ship")
        ]


def test_flow_send_on_proxied_handler_expect_message_sent() -> None:
    """``send(handler.method)`` works on the container's handler, an aspect proxy."""
    with running_app(*APP_PODS) as app:
        handler = app.get(OrderTasks)
        assert getattr(handler.notify, "__self__", None) is None  # a proxy wrapper
        handle = app.dispatcher.send(handler.notify, "o-3")
        assert handle.task_id == app.sender.messages[0].task_id
        assert app.sender.messages[0].task_name == task_name_for(OrderTasks, "notify")
