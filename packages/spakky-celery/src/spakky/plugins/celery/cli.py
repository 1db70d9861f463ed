"""``spakky-celery``: Celery's worker and beat on a Spakky application, and its tasks.

``spakky-celery worker myservice.main:app -P solo`` runs ``celery worker -P
solo`` on the application's own Celery app (no ``celery -A`` glue module);
``beat`` runs Celery beat on its ``@schedule`` entries; ``tasks`` lists them.
Parsing, ``--help``, ``--version`` and error reports are the core's
``CommandLine`` (``spakky.dispatch.core.cli``).
"""

from collections.abc import Callable

from celery import Celery
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core.adapter import TaskBinding
from spakky.dispatch.core.cli import (
    Command,
    CommandLine,
    Invocation,
    ScheduleText,
    tool_help,
)


def beat_schedules(application: SpakkyApplication) -> ScheduleText:
    """A task's beat entry as Celery prints its schedule, if it has one."""
    beat = application.container.get(Celery).conf.beat_schedule or {}

    def schedule(binding: TaskBinding) -> str | None:
        entry = beat.get(binding.name)
        return None if entry is None else str(entry["schedule"])

    return schedule


def _start(command: str) -> Callable[[Invocation], int]:
    def run(call: Invocation) -> int:
        celery = call.application.container.get(Celery)
        code: int | None = celery.start([command, *call.options])
        return int(code or 0)

    return run


def _celery_help(command: str) -> Callable[[], int]:
    """Print ``celery <command> --help`` from a bare Celery app (no application)."""

    def show() -> int | None:
        return Celery("spakky-celery", set_as_current=False).start([command, "--help"])

    return tool_help("celery", show)


COMMAND_LINE = CommandLine(
    prog="spakky-celery",
    summary=(
        "Run Celery's worker or beat on a Spakky application's own Celery app, "
        "or list the application's tasks."
    ),
    distributions=(
        "spakky-celery",
        "spakky-dispatch",
        "spakky-dispatch-celery",
        "celery",
        "kombu",
        "spakky",
    ),
    commands=(
        Command(
            name="worker",
            summary="run a Celery worker for the application",
            tool="celery worker",
            run=_start("worker"),
            show_help=_celery_help("worker"),
        ),
        Command(
            name="beat",
            summary="run Celery beat for the application's @schedule methods",
            tool="celery beat",
            run=_start("beat"),
            show_help=_celery_help("beat"),
        ),
    ),
    schedules=beat_schedules,
)
"""The ``spakky-celery`` command line."""

main = COMMAND_LINE.main
"""Entry point of the ``spakky-celery`` command: ``main(argv=None) -> int``."""


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
