"""``spakky-taskiq``: run a worker or the scheduler for a Spakky application.

Usage::

    spakky-taskiq worker    myservice.main:app [taskiq worker options...]
    spakky-taskiq scheduler myservice.main:app [taskiq scheduler options...]
    spakky-taskiq tasks     myservice.main:app

``myservice.main:app`` names a started (or startable) ``SpakkyApplication``, or a
callable that returns one. Options after it go to taskiq's own ``worker`` /
``scheduler`` commands unchanged (``--workers 1``, ``--log-level DEBUG``, ...).
"""

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from spakky.core.application.application import SpakkyApplication
from taskiq import TaskiqScheduler
from taskiq.cli.scheduler.args import SchedulerArgs
from taskiq.cli.scheduler.run import run_scheduler
from taskiq.cli.worker.args import WorkerArgs
from taskiq.cli.worker.run import run_worker

from spakky.dispatch.core import (
    AbstractSpakkyDispatchError,
    TaskRegistry,
    listing_line,
)
from spakky.dispatch.taskiq import SpakkyScheduleSource
from spakky.plugins.taskiq.loading import load_application
from spakky.plugins.taskiq.target import APPLICATION_VARIABLE, TARGET

USAGE = (
    "usage: spakky-taskiq {worker,scheduler,tasks} package.module:attribute "
    "[options...]\n"
    "  worker     run taskiq workers for the application (options go to taskiq "
    "worker)\n"
    "  scheduler  run taskiq's scheduler for the application's @schedule methods\n"
    "  tasks      list the application's tasks and schedules\n"
)

COMMANDS = ("worker", "scheduler", "tasks")


def list_tasks(application: SpakkyApplication, out: TextIO) -> None:
    """Print every registered task, whether calls dispatch it, and its schedule."""
    registry = application.container.get(TaskRegistry)
    entries = application.container.get(SpakkyScheduleSource).entries
    bindings = sorted(registry, key=lambda binding: binding.name)
    out.write(f"{len(bindings)} task(s)\n")
    for binding in bindings:
        entry = entries.get(binding.name)
        schedule = None
        if entry is not None:
            task = entry.task
            schedule = (
                f"every {task.interval}"
                if task.interval is not None
                else f"cron {task.cron!r} in {task.cron_offset}"
            )
        out.write(listing_line(binding, schedule) + "\n")


RECEIVER = "spakky.dispatch.taskiq.receiver:GuardedReceiver"
"""taskiq receiver used unless ``--receiver`` is given: refuses bad messages into
dead letters, and stops promptly on SIGTERM."""


def run_workers(spec: str, options: Sequence[str]) -> int:
    """Run taskiq's worker command on the application's broker."""
    os.environ[APPLICATION_VARIABLE] = spec
    if not any(
        option == "--receiver" or option.startswith("--receiver=") for option in options
    ):
        options = ["--receiver", RECEIVER, *options]
    return int(run_worker(WorkerArgs.from_cli([TARGET, *options])) or 0)


def run_schedules(scheduler: TaskiqScheduler, options: Sequence[str]) -> int:
    """Run taskiq's scheduler loop until SIGINT or SIGTERM."""
    args = SchedulerArgs.from_cli(["spakky-application", *options])
    args.scheduler = scheduler

    async def serve() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await run_scheduler(args)

    asyncio.run(serve())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spakky-taskiq`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] not in COMMANDS:
        sys.stderr.write(USAGE)
        return 2
    command, spec, rest = args[0], args[1], args[2:]
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `taskiq worker`: the project folder
    try:
        application = load_application(spec)
    except AbstractSpakkyDispatchError as error:
        sys.stderr.write(f"spakky-taskiq: {error}\n")
        return 2
    if command == "tasks":
        list_tasks(application, sys.stdout)
        return 0
    if command == "worker":
        return run_workers(spec, rest)
    return run_schedules(application.container.get(TaskiqScheduler), rest)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
