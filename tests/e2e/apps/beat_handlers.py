"""Scheduled handlers for the beat end-to-end test."""

import json
import os
from datetime import timedelta
from pathlib import Path

from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, schedule, task

TICKS_VARIABLE = "SPAKKY_TEST_TICKS_FILE"


@Pod()
class TickLog:
    """Injected into the handler: appends ticks to a file shared with the test."""

    def write(self, name: str) -> None:
        line = json.dumps({"name": name, "pid": os.getpid()})
        with Path(os.environ[TICKS_VARIABLE]).open("a") as file:
            file.write(line + "\n")


@TaskHandler()
class TickHandler:
    """One schedule-only method and one that is also a @task."""

    def __init__(self, log: TickLog) -> None:
        self.log = log

    @schedule(interval=timedelta(seconds=1))
    def tick(self) -> None:
        self.log.write("tick")

    @task
    @schedule(interval=timedelta(seconds=1))
    def tock(self) -> str:
        self.log.write("tock")
        return "tock"
