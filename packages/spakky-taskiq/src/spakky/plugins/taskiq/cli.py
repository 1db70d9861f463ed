"""``spakky-taskiq``: run a worker or the scheduler for a Spakky application.

Usage::

    spakky-taskiq worker    myservice.main:app [taskiq worker options...]
    spakky-taskiq -A myservice.main:app scheduler [taskiq scheduler options...]
    spakky-taskiq tasks     myservice.main:app
    spakky-taskiq worker --help      # taskiq's own worker options
    spakky-taskiq --version

``myservice.main:app`` names a started (or startable) ``SpakkyApplication``, or a
callable that returns one. Options after it go to taskiq's own ``worker`` /
``scheduler`` commands unchanged (``--workers 1``, ``--log-level DEBUG``, ...).
The parsing, help and error reports are the core's ``CommandLine``.
"""

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from spakky.core.application.application import SpakkyApplication
from taskiq import TaskiqScheduler
from taskiq.cli.scheduler.args import SchedulerArgs
from taskiq.cli.scheduler.run import run_scheduler
from taskiq.cli.worker.args import WorkerArgs
from taskiq.cli.worker.run import run_worker

from spakky.dispatch.core import TaskBinding
from spakky.dispatch.core.cli import Command, CommandLine, ScheduleText
from spakky.dispatch.taskiq import SpakkyScheduleSource
from spakky.plugins.taskiq.target import APPLICATION_VARIABLE, TARGET

RECEIVER = "spakky.dispatch.taskiq.receiver:GuardedReceiver"
"""taskiq receiver used unless ``--receiver`` is given: refuses bad messages into
dead letters, and stops promptly on SIGTERM."""


def source_schedules(application: SpakkyApplication) -> ScheduleText:
    """A task's entry in the application's schedule source, as a short text."""
    entries = application.container.get(SpakkyScheduleSource).entries

    def schedule(binding: TaskBinding) -> str | None:
        entry = entries.get(binding.name)
        if entry is None:
            return None
        task = entry.task
        if task.interval is not None:
            return f"every {task.interval}"
        return f"cron {task.cron!r} in {task.cron_offset}"

    return schedule


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


def _taskiq_help(tool: str, parse: Callable[[list[str]], object]) -> Callable[[], int]:
    """Print ``taskiq <command> --help`` (needs no application)."""

    def show() -> int:
        program, sys.argv[0] = sys.argv[0], tool
        try:
            parse(["--help"])
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else 0
        finally:
            sys.argv[0] = program
        return 0

    return show


COMMAND_LINE = CommandLine(
    prog="spakky-taskiq",
    summary=(
        "Run taskiq's workers or scheduler on a Spakky application's broker, "
        "or list the application's tasks."
    ),
    distributions=(
        "spakky-taskiq",
        "spakky-dispatch",
        "spakky-dispatch-taskiq",
        "taskiq",
        "taskiq-redis",
        "taskiq-aio-pika",
        "spakky",
    ),
    commands=(
        Command(
            name="worker",
            summary="run taskiq workers for the application",
            tool="taskiq worker",
            run=lambda call: run_workers(call.spec, call.options),
            show_help=_taskiq_help("taskiq worker", WorkerArgs.from_cli),
        ),
        Command(
            name="scheduler",
            summary="run taskiq's scheduler for the application's @schedule methods",
            tool="taskiq scheduler",
            run=lambda call: run_schedules(
                call.application.container.get(TaskiqScheduler), call.options
            ),
            show_help=_taskiq_help("taskiq scheduler", SchedulerArgs.from_cli),
        ),
    ),
    schedules=source_schedules,
)
"""The ``spakky-taskiq`` command line."""


def list_tasks(application: SpakkyApplication, out: TextIO) -> None:
    """Print every registered task, whether calls dispatch it, and its schedule."""
    COMMAND_LINE.list_tasks(application, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spakky-taskiq`` command."""
    return COMMAND_LINE.main(argv)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
