"""Pods for the pipeline tests: a handler, a sender pod, an auth-like propagator."""

import asyncio
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from typing import override

from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task
from spakky.tracing import TraceContext

from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import IHeaderPropagator, ITaskSender, TaskCall
from spakky.dispatch.core.testing import InMemoryTaskSender

from .tracing_fakes import ids

type Ids = tuple[object, ...] | None


@Pod()
def in_memory_sender() -> ITaskSender:
    """The transport of the pipeline tests: captures messages."""
    return InMemoryTaskSender()


@TaskHandler()
class TracedHandler:
    """Tasks that report the trace context they run in."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self._dispatcher = dispatcher

    @task
    def observe(self) -> Ids:
        return ids(TraceContext.get())

    @task
    async def observe_async(self) -> Ids:
        await asyncio.sleep(0)
        return ids(TraceContext.get())

    @task
    def leak(self) -> Ids:
        TraceContext.set(TraceContext.new_root())
        return ids(TraceContext.get())

    @task
    async def leak_async(self) -> Ids:
        TraceContext.set(TraceContext.new_root())
        return ids(TraceContext.get())

    @task
    def fail(self) -> None:
        raise ValueError(f"failed in {TraceContext.get()!r}")

    @task
    def fan_out(self) -> Ids:
        self._dispatcher.send(self.observe)
        return ids(TraceContext.get())


@Order(100)
@Pod()
class AuthLikePropagator(IHeaderPropagator):
    """Stands for the auth adapter: records the trace context around it."""

    def __init__(self) -> None:
        self.seen_on_enter: list[TraceContext | None] = []

    @override
    def fields(self) -> frozenset[str]:
        return frozenset({"x-auth"})

    @override
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        carrier["x-auth"] = "signed"

    @override
    def restore(
        self, carrier: Mapping[str, str], call: TaskCall
    ) -> AbstractContextManager[None]:
        return self._restore()

    @contextmanager
    def _restore(self) -> Iterator[None]:
        self.seen_on_enter.append(TraceContext.get())
        yield
