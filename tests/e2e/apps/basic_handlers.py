"""Handlers used by the end-to-end tests: DI, inline calls, async, worker context."""

import asyncio
import os

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.task import TaskHandler, task

from spakky.dispatch.core import current_task_execution


@Pod()
class Greeter:
    """A dependency injected into the handler; proves DI ran on the worker."""

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
class EmailTaskHandler(IApplicationContextAware):
    """Sync tasks."""

    def __init__(self, greeter: Greeter) -> None:
        self.greeter = greeter
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    @task
    def send_email(self, to: str, subject: str, body: str) -> dict[str, object]:
        return {
            "greeting": self.greeter.greet(to),
            "subject": self.shout(subject),
            "body": body,
            "worker_pid": os.getpid(),
        }

    @task
    def shout(self, text: str) -> str:
        return text.upper()

    @task
    def where_am_i(self) -> dict[str, object]:
        assert self.context is not None
        execution = current_task_execution(self.context)
        return {
            "task": None if execution is None else execution.task.name,
            "task_id": None if execution is None else execution.task_id,
        }

    @task
    def fail(self, reason: str) -> None:
        raise ValueError(reason)


@TaskHandler()
class AsyncReportHandler:
    """Async tasks."""

    def __init__(self, pool: LoopBoundPool) -> None:
        self.pool = pool

    @task
    async def use_pool(self) -> dict[str, object]:
        uses = await self.pool.use()
        return {"uses": uses, "loop_id": id(asyncio.get_running_loop())}

    @task
    async def double(self, value: int) -> int:
        inline = await self.halve(value * 4)
        return int(inline)

    @task
    async def halve(self, value: int) -> float:
        return value / 2
