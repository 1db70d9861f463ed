"""``spakky-taskiq``: taskiq's workers and scheduler on a Spakky application.

``spakky-taskiq worker myservice.main:app --workers 1`` runs ``taskiq worker
--workers 1`` with every worker process serving the application's broker
(through ``spakky.plugins.taskiq.target``) and ``GuardedReceiver``;
``scheduler`` runs taskiq's scheduler on its ``@schedule`` entries; ``tasks``
lists them. Parsing, ``--help``, ``--version`` and error reports are the
core's ``CommandLine`` (``spakky.dispatch.core.cli``).
"""

import asyncio
import os
import signal
from collections.abc import Sequence

from spakky.core.application.application import SpakkyApplication
from taskiq import TaskiqScheduler
from taskiq.cli.scheduler.args import SchedulerArgs
from taskiq.cli.scheduler.run import run_scheduler
from taskiq.cli.worker.args import WorkerArgs
from taskiq.cli.worker.run import run_worker

from spakky.dispatch.core.adapter import TaskBinding
from spakky.dispatch.core.cli import Command, CommandLine, ScheduleText, tool_help
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
            show_help=tool_help(
                "taskiq worker", lambda: WorkerArgs.from_cli(["--help"])
            ),
        ),
        Command(
            name="scheduler",
            summary="run taskiq's scheduler for the application's @schedule methods",
            tool="taskiq scheduler",
            run=lambda call: run_schedules(
                call.application.container.get(TaskiqScheduler), call.options
            ),
            show_help=tool_help(
                "taskiq scheduler", lambda: SchedulerArgs.from_cli(["--help"])
            ),
        ),
    ),
    schedules=source_schedules,
)
"""The ``spakky-taskiq`` command line."""

main = COMMAND_LINE.main
"""Entry point of the ``spakky-taskiq`` command: ``main(argv=None) -> int``."""


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
