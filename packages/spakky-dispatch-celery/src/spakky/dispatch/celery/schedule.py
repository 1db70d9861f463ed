"""``CeleryScheduleRegistrar``: neutral schedules as Celery beat entries."""

from typing import override

from celery import Celery
from celery.schedules import BaseSchedule, crontab, schedule
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.core import (
    CrontabSchedule,
    DailySchedule,
    IntervalSchedule,
    IScheduleRegistrar,
    ScheduleSpec,
)


def celery_weekday(iso_weekday: int) -> int:
    """Map an ISO weekday (Monday = 0) to Celery's ``day_of_week`` (Sunday = 0)."""
    return (iso_weekday + 1) % 7


def _field(values: tuple[int, ...] | None) -> str:
    return "*" if values is None else ",".join(str(int(v)) for v in values)


def to_celery_schedule(spec: ScheduleSpec, app: Celery) -> BaseSchedule:
    """Translate a neutral schedule into a Celery schedule bound to ``app``.

    Crontab and daily schedules follow the application's configured timezone.
    """
    if isinstance(spec, IntervalSchedule):
        return schedule(run_every=spec.every, app=app)
    if isinstance(spec, DailySchedule):
        return crontab(minute=spec.minute, hour=spec.hour, app=app)
    weekdays = (
        None
        if spec.weekday is None
        else tuple(sorted(celery_weekday(day) for day in spec.weekday))
    )
    return crontab(
        minute=spec.minute,
        hour=spec.hour,
        day_of_week=_field(weekdays),
        day_of_month=_field(spec.day_of_month),
        month_of_year=_field(spec.month),
        app=app,
    )


@Pod()
class CeleryScheduleRegistrar(IScheduleRegistrar):
    """Adds one ``beat_schedule`` entry per scheduled task, named after the task."""

    _app: Celery

    def __init__(self, app: Celery) -> None:
        self._app = app

    @override
    def register(self, task_name: str, spec: ScheduleSpec) -> None:
        entries = dict(self._app.conf.beat_schedule or {})
        entries[task_name] = {
            "task": task_name,
            "schedule": to_celery_schedule(spec, self._app),
        }
        self._app.conf.beat_schedule = entries


__all__ = [
    "CeleryScheduleRegistrar",
    "CrontabSchedule",
    "celery_weekday",
    "to_celery_schedule",
]
