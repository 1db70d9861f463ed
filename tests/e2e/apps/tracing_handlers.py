"""Handlers of the trace end-to-end tests: each reports the trace it runs in."""

import asyncio
import json
import os
import threading
from datetime import timedelta

from celery import current_task
from spakky.task import TaskHandler, schedule, task
from spakky.tracing import TraceContext

from spakky.dispatch.core import TaskDispatcher

BEAT_SINK_VARIABLE = "SPAKKY_E2E_TRACE_BEAT_SINK"
"""Environment variable naming the file the scheduled task appends its trace to."""


def observed() -> dict[str, object]:
    """The trace context current in the task, and where the task runs.

    ``received`` holds the trace headers of the Celery message; it is None in
    async tasks, whose body runs on the event loop thread without Celery's
    ``current_task``.
    """
    context = TraceContext.get()
    request = current_task.request if current_task else None
    headers = getattr(request, "headers", None) or {}
    return {
        "trace_id": None if context is None else context.trace_id,
        "span_id": None if context is None else context.span_id,
        "parent_span_id": None if context is None else context.parent_span_id,
        "trace_flags": None if context is None else context.trace_flags,
        "received": None
        if request is None
        else {name: headers[name] for name in ("traceparent", "b3") if name in headers},
        "pid": os.getpid(),
        "thread": threading.get_ident(),
    }


def _failure() -> ValueError:
    context = TraceContext.get()
    return ValueError(
        f"failed in trace {None if context is None else context.trace_id}"
    )


@TaskHandler()
class TraceProbeHandler:
    """Tasks that report, disturb or pass on the trace context."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self._dispatcher = dispatcher

    @task
    def observe(self) -> dict[str, object]:
        return observed()

    @task
    async def observe_async(self) -> dict[str, object]:
        await asyncio.sleep(0)
        return observed()

    @task
    def leak(self) -> dict[str, object]:
        """Replace the current context, as careless user code might."""
        TraceContext.set(TraceContext.new_root())
        return observed()

    @task
    async def leak_async(self) -> dict[str, object]:
        TraceContext.set(TraceContext.new_root())
        await asyncio.sleep(0)
        return observed()

    @task
    def fail(self) -> None:
        raise _failure()

    @task
    async def fail_async(self) -> None:
        await asyncio.sleep(0)
        raise _failure()

    @task
    def fan_out(self) -> dict[str, object]:
        """Send ``observe`` through the broker from inside the worker."""
        sent = self._dispatcher.send(self.observe)
        return {**observed(), "sent_task_id": sent.task_id}

    @task
    async def fan_out_async(self) -> dict[str, object]:
        sent = self._dispatcher.send(self.observe_async)
        return {**observed(), "sent_task_id": sent.task_id}

    @schedule(interval=timedelta(seconds=1))
    def heartbeat(self) -> None:
        """Run by beat: append the trace it runs in to the sink file, if any."""
        sink = os.environ.get(BEAT_SINK_VARIABLE)
        if sink:
            with open(sink, "a", encoding="utf-8") as file:
                file.write(json.dumps(observed()) + "\n")
