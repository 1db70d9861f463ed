"""The worker's direct call past the aspect proxy is guarded by a shape check.

``proxy_bypass`` relies on how spakky-core builds an aspect proxy. When the
check finds another shape, every task is called through its proxy (always
correct), with one warning.
"""

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from spakky.core.common.proxy import ProxyFactory

from spakky.dispatch.core import proxy_bypass
from spakky.dispatch.core.adapter import task_name_for
from spakky.dispatch.core.proxy_bypass import proxy_shape_problem

from .dispatch_core_support import running_app
from .test_core_invoker_aspects import DISPATCH_ASPECTS, Tasks, _routed


@pytest.fixture
def probe() -> Iterator[None]:
    """A fresh probe and warning for the test, and again after it."""
    proxy_shape_problem.cache_clear()
    proxy_bypass._warn.cache_clear()
    yield
    proxy_shape_problem.cache_clear()
    proxy_bypass._warn.cache_clear()


def test_proxy_shape_installed_spakky_core_expect_no_problem() -> None:
    """The installed spakky-core builds proxies the way the bypass expects.

    Fails after a spakky-core update that changed its proxy: re-read
    ``spakky.core.common.proxy`` and ``spakky.core.aop`` and adapt the bypass.
    """
    assert proxy_shape_problem() is None


def _unwrapped_getattribute(self: ProxyFactory[Any], name: str) -> Any:
    """A proxy that hands out wrappers without ``__wrapped__``."""
    value = object.__getattribute__(self._target, name)
    if callable(value):

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self.__proxy_call__(value, *args, **kwargs)

        return wrapper
    return value


async def _suspending_call_async(
    self: ProxyFactory[Any], method: Any, *args: Any, **kwargs: Any
) -> Any:
    """An async call that waits for the event loop before calling the method."""
    await asyncio.sleep(0)
    return await method(*args, **kwargs)


def _raising_create(self: ProxyFactory[Any]) -> Any:
    raise RuntimeError("no proxies today")


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize(
    ("name", "replacement", "problem"),
    [
        (
            "__proxy_getattribute__",
            _unwrapped_getattribute,
            "changed: wrapper.__wrapped__, IProxyHandler.call",
        ),
        (
            "__proxy_call_async__",
            _suspending_call_async,
            "changed: IProxyHandler.call",
        ),
        (
            "create",
            _raising_create,
            "spakky-core's proxy changed (RuntimeError: no proxies today)",
        ),
    ],
)
def test_proxy_shape_changed_expect_problem(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    replacement: Callable[..., Any],
    problem: str,
) -> None:
    """A proxy without ``__wrapped__``, or one that cannot be built, fails the check."""
    monkeypatch.setattr(ProxyFactory, name, replacement)
    assert proxy_shape_problem() == problem


@pytest.mark.usefixtures("probe")
def test_proxy_shape_changed_expect_tasks_called_through_proxy_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When the check fails, tasks still run, through the proxy and its aspects."""
    monkeypatch.setattr(proxy_bypass, "proxy_shape_problem", lambda: "changed: x")
    with running_app(Tasks, *DISPATCH_ASPECTS) as app:
        routed = _routed(app, monkeypatch)
        with caplog.at_level(logging.WARNING, logger=proxy_bypass.__name__):
            results = [
                app.invoker.invoke(task_name_for(Tasks, "add"), (1, 2)),
                app.invoker.invoke(task_name_for(Tasks, "add"), (5,)),
                app.invoker.invoke(task_name_for(Tasks, "add_async"), (3, 4)),
            ]
        handler = app.get(Tasks)
    assert results == [3, 5, 7]
    assert routed == ["add", "add", "add_async"]  # every run passed the aspects
    assert handler.ran == ["add", "add", "add_async"]
    assert caplog.text.count("called through their proxy") == 1


def test_proxy_bypass_not_a_proxy_expect_kept() -> None:
    """A plain object, or a method without a wrapped bound method, is not bypassed."""
    with running_app(Tasks, *DISPATCH_ASPECTS) as app:
        plain = Tasks()
        handler = app.get(Tasks)
        assert not proxy_bypass.passes_through(
            app.context, plain, plain.add, frozenset()
        )
        assert not proxy_bypass.passes_through(
            app.context, handler, lambda: None, frozenset()
        )
        assert proxy_bypass.passes_through(
            app.context, handler, handler.add, frozenset(DISPATCH_ASPECTS)
        )
        assert not proxy_bypass.passes_through(
            app.context, handler, handler.add, frozenset()
        )
