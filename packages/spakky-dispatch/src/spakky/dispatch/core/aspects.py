"""The dispatch aspects: ``@task`` calls go to the broker, or run inline in a worker.

Transport plugins add both pods (``@Order(1)``: inside spakky-auth's
``AuthorizationAspect``); they are thin shells over ``TaskDispatcher``.
"""

from inspect import iscoroutinefunction
from typing import Any, override

from spakky.core.aop.aspect import Aspect, AsyncAspect
from spakky.core.aop.interfaces.aspect import IAspect, IAsyncAspect
from spakky.core.aop.pointcut import Around
from spakky.core.common.types import AsyncFunc, Func
from spakky.core.pod.annotations.order import Order
from spakky.task import TaskRoute

from spakky.dispatch.core.dispatcher import TaskDispatcher


def _is_sync_task(method: Func) -> bool:
    return TaskRoute.exists(method) and not iscoroutinefunction(method)


def _is_async_task(method: Func) -> bool:
    return TaskRoute.exists(method) and iscoroutinefunction(method)


@Order(1)
@Aspect()
class TaskDispatchAspect(IAspect):
    """Sends calls of sync ``@task`` methods to the broker."""

    _dispatcher: TaskDispatcher

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self._dispatcher = dispatcher

    @Around(_is_sync_task)
    @override
    def around(self, joinpoint: Func, *args: Any, **kwargs: Any) -> Any:
        task = self._dispatcher.route(joinpoint)
        if task is None:
            return joinpoint(*args, **kwargs)
        return self._dispatcher.dispatch(task, args, kwargs)


@Order(1)
@AsyncAspect()
class AsyncTaskDispatchAspect(IAsyncAspect):
    """Sends calls of async ``@task`` methods to the broker."""

    _dispatcher: TaskDispatcher

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self._dispatcher = dispatcher

    @Around(_is_async_task)
    @override
    async def around_async(
        self, joinpoint: AsyncFunc, *args: Any, **kwargs: Any
    ) -> Any:
        task = self._dispatcher.route(joinpoint)
        if task is None:
            return await joinpoint(*args, **kwargs)
        return await self._dispatcher.dispatch_async(task, args, kwargs)
