"""Handlers for the plugin tests."""

import asyncio
import os
from datetime import time, timedelta

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.task import TaskHandler, schedule, task

from spakky.dispatch.core import (
    TaskDispatcher,
    current_task_execution,
    schedule_options,
)


@Pod()
class Greeter:
    """A dependency of the handler."""

    def greet(self, name: str) -> str:
        return f"hello {name}"


@TaskHandler()
class Mailer(IApplicationContextAware):
    """Sync and async tasks, an inline call, a send from inside a task."""

    def __init__(self, greeter: Greeter, dispatcher: TaskDispatcher) -> None:
        self.greeter = greeter
        self.dispatcher = dispatcher
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    @task
    def send(self, to: str) -> dict[str, object]:
        assert self.context is not None
        execution = current_task_execution(self.context)
        return {
            "text": self.greeter.greet(to),
            "shout": self.shout(to),
            "task_id": None if execution is None else execution.task_id,
            "pid": os.getpid(),
        }

    @task
    def shout(self, text: str) -> str:
        return text.upper()

    @task
    async def send_async(self, to: str) -> str:
        await asyncio.sleep(0)
        return await self.whisper(to)

    @task
    async def whisper(self, text: str) -> str:
        return text.lower()

    @task
    async def forward(self, to: str) -> str:
        """Sends ``shout`` through the broker from inside an async task."""
        handle = await self.dispatcher.dispatch_async(
            self.dispatcher.binding_of(self.shout), (to,), {}
        )
        return str(handle.task_id)

    @schedule(interval=timedelta(minutes=5))
    def digest(self) -> None: ...

    @schedule(at=time(3, 0))
    @schedule_options(args=("eu",))
    def nightly(self, region: str) -> None: ...
