"""Handlers and pods used by the plugin's tests."""

import asyncio
from datetime import time, timedelta

from spakky.core.pod.annotations.pod import Pod
from spakky.task import Crontab, TaskHandler, Weekday, schedule, task

from spakky.dispatch.core import RetryPolicy, schedule_options, task_options


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
    @schedule_options(kwargs={"days": 30})
    def daily_cleanup(self, days: int) -> None: ...

    @schedule(crontab=Crontab(weekday=Weekday.MONDAY, hour=9))
    def weekly_report(self) -> None: ...

    @task
    @schedule(interval=timedelta(seconds=10))
    def both(self) -> str:
        return "ran"


class FlakyError(Exception):
    """Raised by RetryingHandler until it has failed often enough."""


@Pod()
class Attempts:
    """Counts attempts per key across retries."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def next(self, key: str) -> int:
        self.seen[key] = self.seen.get(key, 0) + 1
        return self.seen[key]


@TaskHandler()
class RetryingHandler:
    """Tasks with declared options and a retry policy."""

    def __init__(self, attempts: Attempts) -> None:
        self.attempts = attempts

    @task_options(
        retry=RetryPolicy(
            max_retries=3, backoff=0.01, jitter=False, retry_on=(FlakyError,)
        )
    )
    @task
    def eventually(self, key: str, failures: int) -> int:
        attempt = self.attempts.next(key)
        if attempt <= failures:
            raise FlakyError(f"attempt {attempt}")
        return attempt

    @task_options(queue="reports", priority=7)
    @task
    def report(self) -> str:
        return "report"
