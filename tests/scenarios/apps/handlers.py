"""Handlers of the shared scenarios: the same code runs on Celery and on taskiq.

Nothing here imports a transport. Bodies that must be observed from the test
process append JSON lines to files named by environment variables (set for the
worker by the test): ``SCENARIO_RECORDS`` (what a task saw, by task id),
``SCENARIO_ATTEMPTS_DIR`` (one file per retried key) and ``SCENARIO_AUTH_RUNS``
(names of protected bodies that ran, and auth checker attempts).
"""

import asyncio
import json
import os
import threading
import time as clock
from datetime import time, timedelta
from pathlib import Path
from typing import override

from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthContext,
    AuthorizationDecision,
    AuthorizationReasonCode,
    IPermissionChecker,
    IRoleChecker,
    PermissionCheckRequest,
    RoleCheckRequest,
    protected,
    require_permission,
    require_role,
)
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.task import Crontab, TaskHandler, Weekday, schedule, task
from spakky.tracing import TraceContext

from spakky.dispatch.core import (
    RetryPolicy,
    TaskDispatcher,
    current_task_execution,
    schedule_options,
    task_options,
)

RECORDS_VARIABLE = "SCENARIO_RECORDS"
ATTEMPTS_VARIABLE = "SCENARIO_ATTEMPTS_DIR"
AUTH_RUNS_VARIABLE = "SCENARIO_AUTH_RUNS"


def append(variable: str, record: dict[str, object]) -> None:
    """Append ``record`` as a JSON line to the file named by ``variable``."""
    path = os.environ.get(variable)
    if path:
        with Path(path).open("a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")


def observed_trace() -> dict[str, object]:
    """The trace context current in the running task, and where the task runs."""
    context = TraceContext.get()
    return {
        "trace_id": None if context is None else context.trace_id,
        "span_id": None if context is None else context.span_id,
        "parent_span_id": None if context is None else context.parent_span_id,
        "trace_flags": None if context is None else context.trace_flags,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
    }


def _failure() -> ValueError:
    context = TraceContext.get()
    return ValueError(
        f"failed in trace {None if context is None else context.trace_id}"
    )


@Pod()
class Journal:
    """Injected into scheduled handlers: appends what ran to ``SCENARIO_RECORDS``."""

    def write(self, name: str, **fields: object) -> None:
        append(RECORDS_VARIABLE, {"tick": name, **fields})


@Pod()
class Greeter:
    """Injected into handlers: proves DI ran in the worker process."""

    def __init__(self) -> None:
        self.pid = os.getpid()

    def greet(self, name: str) -> str:
        return f"hello {name} from greeter@{self.pid}"


@Pod()
class LoopBoundPool:
    """Stands for an async connection pool: usable only on the loop that made it."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.uses = 0

    async def use(self) -> int:
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        if self.loop is not loop:
            raise RuntimeError("pool used from another event loop")
        self.uses += 1
        await asyncio.sleep(0)
        return self.uses


@TaskHandler()
class OrderHandler(IApplicationContextAware):
    """Sync and async tasks with DI, inline calls, failures and a retry policy."""

    def __init__(self, greeter: Greeter, pool: LoopBoundPool) -> None:
        self.greeter = greeter
        self.pool = pool
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    @task
    def place(self, customer: str, items: list[str]) -> dict[str, object]:
        assert self.context is not None
        execution = current_task_execution(self.context)
        return {
            "greeting": self.greeter.greet(customer),
            "label": self.label(f"{len(items)} items"),  # inline: a str
            "task": None if execution is None else execution.task.name,
            "task_id": None if execution is None else execution.task_id,
            "pid": os.getpid(),
        }

    @task
    def label(self, text: str) -> str:
        return text.upper()

    @task
    async def restock(self, amount: int) -> dict[str, object]:
        uses = await self.pool.use()
        half = await self.halve(amount)  # inline: a float
        return {
            "uses": uses,
            "half": half,
            "loop": id(asyncio.get_running_loop()),
            "pid": os.getpid(),
        }

    @task
    async def halve(self, amount: int) -> float:
        return amount / 2

    @task
    def reject(self, reason: str) -> None:
        raise ValueError(reason)

    @task_options(
        retry=RetryPolicy(
            max_retries=2, backoff=0.2, jitter=False, retry_on=(ConnectionError,)
        )
    )
    @task
    def charge(self, key: str, failures: int) -> int:
        """Fail with ConnectionError ``failures`` times, counting attempts by key."""
        directory = os.environ[ATTEMPTS_VARIABLE]
        path = Path(directory) / key
        with path.open("a", encoding="utf-8") as file:
            file.write(f"{os.getpid()}\n")
        attempts = len(path.read_text().splitlines())
        if attempts <= failures:
            raise ConnectionError(f"payment service down (attempt {attempts})")
        return attempts


@TaskHandler()
class TraceProbe(IApplicationContextAware):
    """Tasks that report the trace they run in, or pass it on."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self._dispatcher = dispatcher
        self._context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self._context = application_context

    @task
    def observe(self, record: bool = False) -> dict[str, object]:
        seen = observed_trace()
        if record:
            self._record(seen)
        return seen

    @task
    async def observe_async(self, record: bool = False) -> dict[str, object]:
        await asyncio.sleep(0)
        seen = observed_trace()
        if record:
            self._record(seen)
        return seen

    @task
    def leak(self) -> dict[str, object]:
        """Replace the current context, as careless user code might."""
        TraceContext.set(TraceContext.new_root())
        return observed_trace()

    @task
    async def leak_async(self) -> dict[str, object]:
        TraceContext.set(TraceContext.new_root())
        await asyncio.sleep(0)
        return observed_trace()

    @task
    def fail(self) -> None:
        raise _failure()

    @task
    async def fail_async(self) -> None:
        await asyncio.sleep(0)
        raise _failure()

    @task
    def fan_out(self) -> dict[str, object]:
        """Send ``observe`` through the broker from inside a sync task."""
        sent = self._dispatcher.send(self.observe, record=True)
        return {**observed_trace(), "sent_task_id": sent.task_id}

    @task
    async def fan_out_async(self) -> dict[str, object]:
        """Send ``observe_async`` from inside an async task (a blocking send)."""
        sent = self._dispatcher.send(self.observe_async, record=True)
        return {**observed_trace(), "sent_task_id": sent.task_id}

    def _record(self, seen: dict[str, object]) -> None:
        context = self._context
        execution = None if context is None else current_task_execution(context)
        task_id = None if execution is None else execution.task_id
        append(RECORDS_VARIABLE, {"task_id": task_id, **seen})


@TaskHandler()
class Waiter:
    """Tasks that wait for another task's result, as Celery users sometimes do."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self._dispatcher = dispatcher

    @task
    def nap(self, seconds: float) -> float:
        clock.sleep(seconds)
        return seconds

    @task
    def wait_inside(self, allow: bool) -> dict[str, object]:
        """Send ``nap`` and wait for it here, opted in to waiting or not."""
        child = self._dispatcher.send(self.nap, 0.0)
        try:
            return {"value": child.get(timeout=3, allow_inside_task=allow)}
        except Exception as error:
            return _outcome(error)

    @task
    async def wait_inside_async(self, allow: bool) -> dict[str, object]:
        """The same from an async task, with ``get_async``."""
        child = await self._dispatcher.send_async(self.nap, 0.0)
        try:
            return {"value": await child.get_async(timeout=3, allow_inside_task=allow)}
        except Exception as error:
            return _outcome(error)


def _outcome(error: Exception) -> dict[str, object]:
    return {
        "error": type(error).__name__,
        "message": str(error),
        "timeout": isinstance(error, TimeoutError),
        "runtime": isinstance(error, RuntimeError),
    }


@TaskHandler()
class Ticker:
    """Scheduled methods; one is also a task. Runs are recorded with their trace.

    The records go through an injected ``Journal``: a run proves DI ran too.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    @schedule(interval=timedelta(seconds=1))
    def tick(self) -> None:
        self.journal.write("tick", **observed_trace())

    @task
    @schedule(interval=timedelta(seconds=1))
    async def tock(self) -> str:
        self.journal.write("tock", **observed_trace())
        return "tock"

    @schedule(interval=timedelta(seconds=1))
    @schedule_options(args=("eu",), kwargs={"full": True}, expires=30)
    def report(self, region: str, *, full: bool = False) -> None:
        self.journal.write("report", region=region, full=full, pid=os.getpid())

    @schedule(at=time(3, 0))
    def nightly(self) -> None:
        self.journal.write("nightly")

    @schedule(crontab=Crontab(weekday=Weekday.MONDAY, hour=9))
    def weekly(self) -> None:
        self.journal.write("weekly")


@Pod()
class RoleClaims(IRoleChecker):
    """Allows the roles the verified identity holds; denies others."""

    @override
    def check_role(self, request: RoleCheckRequest) -> AuthorizationDecision:
        if request.role in request.auth_context.roles:
            return AuthorizationDecision.allow()
        return AuthorizationDecision.deny(AuthorizationReasonCode.INSUFFICIENT_ROLE)


@Pod()
class PermissionServiceDown(IPermissionChecker):
    """A permission checker whose backing service cannot be reached."""

    @override
    def check_permission(
        self, request: PermissionCheckRequest
    ) -> AuthorizationDecision:
        append(AUTH_RUNS_VARIABLE, {"attempt": "statement", "at": clock.time()})
        raise ConnectionError("permission service unreachable")


@TaskHandler()
class AccountHandler(IApplicationContextAware):
    """Protected and unprotected tasks reporting the identity they run as."""

    def __init__(self) -> None:
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    def _seen(self, name: str) -> dict[str, object]:
        append(AUTH_RUNS_VARIABLE, {"ran": name})
        assert self.context is not None
        value = self.context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY)
        if not isinstance(value, AuthContext):
            return {"subject": None, "pid": os.getpid()}
        return {
            "subject": value.subject.id,
            "roles": list(value.roles),
            "carrier": value.credential_carrier is not None,
            "pid": os.getpid(),
        }

    @protected
    @task
    def whoami(self) -> dict[str, object]:
        return self._seen("whoami")

    @protected
    @task
    async def whoami_async(self) -> dict[str, object]:
        await asyncio.sleep(0)
        return self._seen("whoami_async")

    @require_role("admin")
    @task
    def close_account(self, account_id: str) -> str:
        self._seen("close_account")
        return f"closed {account_id}"

    @require_permission("accounts.statement")
    @task
    def statement(self) -> dict[str, object]:
        return self._seen("statement")

    @task
    def ping(self) -> dict[str, object]:
        return self._seen("ping")
