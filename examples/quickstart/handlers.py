"""The seed's task handlers, as its README writes them, plus two to show results."""

import os
from datetime import time, timedelta

from spakky.core.pod.annotations.pod import Pod
from spakky.task import Crontab, TaskHandler, Weekday, schedule, task

from quickstart.mail import send_smtp


@TaskHandler()
class EmailTaskHandler:
    @task
    def send_email(self, to: str, subject: str, body: str) -> None:
        send_smtp(to, subject, body)


@TaskHandler()
class MaintenanceHandler:
    @schedule(interval=timedelta(minutes=30))
    def health_check(self) -> None: ...
    @schedule(at=time(3, 0))
    def daily_cleanup(self) -> None: ...
    @schedule(crontab=Crontab(weekday=Weekday.MONDAY, hour=9))
    def weekly_report(self) -> None: ...


@Pod()
class Arithmetic:
    """A dependency the worker injects into ``ReportHandler``."""

    def total(self, values: list[int]) -> int:
        return sum(values)


@TaskHandler()
class ReportHandler:
    """Tasks that return values, sync and async, and a short beat schedule."""

    def __init__(self, arithmetic: Arithmetic) -> None:
        self.arithmetic = arithmetic

    @task
    def summarize(self, values: list[int]) -> str:
        return f"{len(values)} values, total {self.arithmetic.total(values)}"

    @task
    async def worker_pid(self) -> int:
        return os.getpid()

    @schedule(interval=timedelta(seconds=2))
    def heartbeat(self) -> None:
        send_smtp("ops@example.com", "heartbeat", "beat is running")
