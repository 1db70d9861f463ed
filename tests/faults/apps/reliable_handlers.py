"""Handlers of the fault-injection suite.

Tasks write to the ledger (``tests.faults.ledger``) so a test counts what ran;
``FaultProbePropagator`` is a header propagator of the test's own that reports
what the core pipeline handed it on the worker.
"""

import os
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import override

from spakky.auth import AUTH_CONTEXT_CONTEXT_KEY, AuthContext, protected
from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.task import TaskHandler, task
from spakky.tracing import TraceContext

from spakky.dispatch.core.adapter import IHeaderPropagator, TaskCall
from tests.faults.ledger import HOLD_VARIABLE, append

PROBE_HEADER = "x-spakky-fault-probe"
"""The header ``FaultProbePropagator`` owns."""

PROBE_OUTGOING: dict[str, str] = {}
"""What the probe writes on dispatch (set by a test in the calling process)."""

_SEEN: ContextVar[dict[str, str] | None] = ContextVar("fault_probe_seen", default=None)


@Order(300)
@Pod()
class FaultProbePropagator(IHeaderPropagator):
    """Owns ``x-spakky-fault-probe``; on the worker, remembers what it was given."""

    @override
    def fields(self) -> frozenset[str]:
        return frozenset({PROBE_HEADER})

    @override
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        carrier.update(PROBE_OUTGOING)

    @override
    def restore(
        self, carrier: Mapping[str, str], call: TaskCall
    ) -> AbstractContextManager[None]:
        return _seeing(dict(carrier))


@contextmanager
def _seeing(carrier: dict[str, str]) -> Iterator[None]:
    token = _SEEN.set(carrier)
    try:
        yield
    finally:
        _SEEN.reset(token)


@TaskHandler()
class LedgerHandler:
    """Tasks that record each run in the ledger."""

    @task
    def record(self, job: str) -> str:
        append("done", job)
        return job

    @task
    async def arecord(self, job: str) -> str:
        """``record`` as an async task (dispatched with ``await``)."""
        append("done", job)
        return job

    @task
    def pause(self, job: str, seconds: float) -> str:
        """Take ``seconds``, then record the run."""
        time.sleep(seconds)
        append("done", job)
        return job

    @task
    def hold(self, job: str) -> str:
        """Record the start, wait while the hold file exists, record the end."""
        append("start", job)
        hold = os.environ.get(HOLD_VARIABLE, "")
        deadline = time.monotonic() + 120
        while hold and os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.05)
        append("done", job)
        return job

    @task
    def crash(self, job: str) -> str:
        """Record the start, then end the worker process at once (as an OOM kill would)."""
        append("start", job)
        os._exit(17)


@TaskHandler()
class CrashHandler:
    """A task whose handling kills the process running it, every time."""

    @task
    def crash(self, job: str) -> str:
        append("start", job)
        os._exit(137)  # as an OOM kill or a segfault in a C extension would


@TaskHandler()
class ProbeHandler(IApplicationContextAware):
    """Reports what a task sees of the headers it was sent with."""

    def __init__(self) -> None:
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    def _seen(self, job: str) -> dict[str, object]:
        append("done", job)
        assert self.context is not None
        auth = self.context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY)
        trace = TraceContext.get()
        return {
            "probe": _SEEN.get(),
            "subject": auth.subject.id if isinstance(auth, AuthContext) else None,
            "trace_parent": None if trace is None else trace.parent_span_id,
            "worker_pid": os.getpid(),
        }

    @task
    def probe(self, job: str) -> dict[str, object]:
        return self._seen(job)

    @protected
    @task
    def guarded(self, job: str) -> dict[str, object]:
        """A protected task: runs only for a verified caller."""
        return self._seen(job)
