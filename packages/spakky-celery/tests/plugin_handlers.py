"""Handlers and pods used by the plugin's tests."""

import asyncio
from datetime import time, timedelta

from spakky.core.pod.annotations.pod import Pod
from spakky.task import Crontab, TaskHandler, Weekday, schedule, task


@Pod()
class Counter:
    """An injected dependency with state, to prove DI on the worker side."""

    def __init__(self) -> None:
        self.count = 0

    def bump(self) -> int:
        self.count += 1
        return self.count


@TaskHandler()
class SyncHandler:
    """Sync tasks."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    @task
    def add(self, left: int, right: int) -> int:
        return left + right + 0 * self.counter.bump()

    @task
    def outer(self, text: str) -> str:
        inner = self.inner(text)
        assert isinstance(inner, str), "inner @task call must run inline in a worker"
        return f"outer({inner})"

    @task
    def inner(self, text: str) -> str:
        return text.upper()

    def plain(self) -> str:
        return "not a task"


@TaskHandler()
class AsyncHandler:
    """Async tasks."""

    @task
    async def mul(self, left: int, right: int) -> int:
        await asyncio.sleep(0)
        return left * right

    @task
    async def chain(self, value: int) -> int:
        return int(await self.mul(value, 10))


@TaskHandler()
class MaintenanceHandler:
    """The seed's schedules."""

    @schedule(interval=timedelta(minutes=30))
    def health_check(self) -> None: ...

    @schedule(at=time(3, 0))
    def daily_cleanup(self) -> None: ...

    @schedule(crontab=Crontab(weekday=Weekday.MONDAY, hour=9))
    def weekly_report(self) -> None: ...

    @task
    @schedule(interval=timedelta(seconds=10))
    def both(self) -> str:
        return "ran"
