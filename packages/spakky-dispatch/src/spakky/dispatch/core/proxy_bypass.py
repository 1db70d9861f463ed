"""Calling a task handler's own method past its aspect proxy (reads spakky-core's internals).

spakky-core wraps a pod that any aspect matches in a ``ProxyFactory`` proxy;
every method call then goes through ``AspectProxyHandler``, which runs the
aspects whose pointcut matches the method. Inside a worker-side task the
dispatch aspects only call the method, so when they are the only aspects of a
method the worker may call the handler's own method and skip the proxy's
per-call work. That relies on how spakky-core builds a proxy, which is not its
public API: the proxy class's ``__getattribute__`` is bound to its
``ProxyFactory``, a proxied method is a ``functools.wraps`` wrapper whose
``__wrapped__`` is the target's bound method, and the handler runs exactly the
aspects whose ``matches`` accepts that method.

This module is the one place that relies on it. ``proxy_shape_problem``
builds a proxy once and checks all three; when one does not hold,
``passes_through`` logs one warning and always answers False: tasks are called
through the proxy, which is always correct.
"""

import logging
from collections.abc import Callable
from functools import cache
from inspect import ismethod
from typing import Any, override

from spakky.core.aop.aspect import Aspect, AsyncAspect
from spakky.core.aop.interfaces.aspect import IAspect
from spakky.core.aop.pointcut import Around
from spakky.core.aop.post_processor import AspectProxyHandler
from spakky.core.common.proxy import AbstractProxyHandler, ProxyFactory
from spakky.core.common.types import AsyncFunc, Func
from spakky.core.pod.interfaces.application_context import IApplicationContext

from spakky.dispatch.core.fast_path import FallbackWarning, changed_checks

logger = logging.getLogger(__name__)


def proxy_target(handler: object) -> bool:
    """Whether ``handler`` is a spakky-core ``ProxyFactory`` proxy."""
    getter = vars(type(handler)).get("__getattribute__")
    return isinstance(getattr(getter, "__self__", None), ProxyFactory)


def own_method(method: Callable[..., Any]) -> Callable[..., Any] | None:
    """The target's bound method behind a proxy's method wrapper, or None."""
    inner = getattr(method, "__wrapped__", None)
    return inner if ismethod(inner) else None


def passes_through(
    context: IApplicationContext,
    handler: object,
    method: Callable[..., Any],
    skipped: frozenset[type],
) -> bool:
    """Whether the proxied ``handler``'s own method may be called instead of ``method``.

    True only when spakky-core's proxy has the shape checked by
    ``proxy_shape_problem``, ``handler`` is such a proxy and no aspect of the
    container but those in ``skipped`` matches the method; any other aspect
    keeps the proxy.
    """
    problem = proxy_shape_problem()
    if problem is not None:
        _warn(problem)
        return False
    inner = own_method(method)
    if not proxy_target(handler) or inner is None:
        return False
    for pod in context.pods.values():
        kind = pod.target
        if kind in skipped:
            continue
        if (Aspect.exists(kind) and Aspect.get(kind).matches(inner)) or (
            AsyncAspect.exists(kind) and AsyncAspect.get(kind).matches(inner)
        ):
            return False
    return True


class _Target:
    """The object the probe proxies."""

    def ping(self, value: int) -> int:
        return value

    async def ping_async(self, value: int) -> int:
        return value


class _Recorder(AbstractProxyHandler):
    """A proxy handler recording the methods it is asked to call."""

    def __init__(self) -> None:
        self.methods: list[object] = []

    @override
    def call(self, target: object, method: Func, *args: Any, **kwargs: Any) -> Any:
        self.methods.append(method)
        return method(*args, **kwargs)

    @override
    async def call_async(
        self, target: object, method: AsyncFunc, *args: Any, **kwargs: Any
    ) -> Any:
        self.methods.append(method)
        return await method(*args, **kwargs)


def _finish(coroutine: Any) -> object:
    """Run a coroutine that never suspends to its end, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    return None


def _aspect(seen: list[str], pointcut: Callable[[Func], bool]) -> IAspect:
    """An aspect recording its runs, built on demand (never a pod of any scan)."""

    @Aspect()
    class _Probe(IAspect):
        @Around(pointcut)
        @override
        def around(self, joinpoint: Func, *args: Any, **kwargs: Any) -> Any:
            seen.append(str(id(self)))
            return joinpoint(*args, **kwargs)

    return _Probe()


@cache
def proxy_shape_problem() -> str | None:
    """Why spakky-core's proxy is not the shape ``passes_through`` relies on, or None."""
    try:
        target, recorder = _Target(), _Recorder()
        proxy = ProxyFactory(target=target, handler=recorder).create()
        ping, ping_async = proxy.ping, proxy.ping_async
        inner, inner_async = own_method(ping), own_method(ping_async)
        called = ping(7), _finish(ping_async(8))
        seen: list[str] = []
        matching = _aspect(seen, lambda method: method.__name__ == "ping")
        other = _aspect(seen, lambda method: False)
        advised = ProxyFactory(
            target=target, handler=AspectProxyHandler([matching, other])
        ).create()
        checks = {
            "ProxyFactory.create": isinstance(proxy, _Target) and proxy_target(proxy),
            "wrapper.__wrapped__": inner is not None
            and getattr(inner, "__self__", None) is target
            and getattr(inner, "__func__", None) is _Target.ping
            and inner_async is not None
            and getattr(inner_async, "__func__", None) is _Target.ping_async,
            "IProxyHandler.call": called == (7, 8)
            and recorder.methods == [inner, inner_async],
            "AspectProxyHandler": advised.ping(1) == 1
            and seen == [str(id(matching))]
            and Aspect.get(matching).matches(target.ping)
            and not Aspect.get(other).matches(target.ping),
        }
    except Exception as error:  # any failure means the shape is not the known one
        return f"spakky-core's proxy changed ({type(error).__name__}: {error})"
    return changed_checks(checks)


_warn = FallbackWarning(
    logger,
    "spakky-dispatch: spakky-core's aspect proxy differs from the one the "
    "worker's direct call was written for (%s); tasks are called through "
    "their proxy, which is correct but slower. Update spakky-dispatch.",
)
"""Logs the probe's finding once per process."""
