"""``spakky-celery``: run a worker or beat for a Spakky application, list its tasks.

Usage::

    spakky-celery worker myservice.main:app [celery worker options...]
    spakky-celery beat   myservice.main:app [celery beat options...]
    spakky-celery tasks  myservice.main:app

``myservice.main:app`` names a started (or startable) ``SpakkyApplication``, or a
callable that returns one. Options after it go to Celery's own ``worker`` / ``beat``
commands unchanged, so no ``celery -A`` glue module is needed.
"""

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from celery import Celery
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core import (
    AbstractSpakkyDispatchError,
    TaskRegistry,
    listing_line,
    load_application,
)

USAGE = (
    "usage: spakky-celery {worker,beat,tasks} package.module:attribute [options...]\n"
    "  worker  run a Celery worker for the application (options go to celery worker)\n"
    "  beat    run Celery beat for the application (options go to celery beat)\n"
    "  tasks   list the application's tasks and schedules\n"
)


def list_tasks(application: SpakkyApplication, out: TextIO) -> None:
    """Print every registered task, whether calls dispatch it, and its schedule."""
    registry = application.container.get(TaskRegistry)
    beat = application.container.get(Celery).conf.beat_schedule or {}
    bindings = sorted(registry, key=lambda binding: binding.name)
    out.write(f"{len(bindings)} task(s)\n")
    for binding in bindings:
        entry = beat.get(binding.name)
        schedule = None if entry is None else str(entry["schedule"])
        out.write(listing_line(binding, schedule) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spakky-celery`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2 or args[0] not in ("worker", "beat", "tasks"):
        sys.stderr.write(USAGE)
        return 2
    command, spec, rest = args[0], args[1], args[2:]
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `celery -A`: the project folder
    try:
        application = load_application(spec)
    except AbstractSpakkyDispatchError as error:
        sys.stderr.write(f"spakky-celery: {error}\n")
        return 2
    if command == "tasks":
        list_tasks(application, sys.stdout)
        return 0
    celery = application.container.get(Celery)
    code: int | None = celery.start([command, *rest])
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
