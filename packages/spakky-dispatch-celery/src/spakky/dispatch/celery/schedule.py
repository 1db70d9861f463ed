"""``CeleryScheduleRegistrar``: neutral schedules as Celery beat entries."""

from typing import override

from celery import Celery
from celery.schedules import BaseSchedule, crontab, schedule
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.celery.sender import (
    check_queue,
    send_options,
    unserializable_argument,
)
from spakky.dispatch.core.adapter import (
    IntervalSchedule,
    IScheduleRegistrar,
    ScheduledCall,
    ScheduleSpec,
    TaskArgumentSerializationError,
    cron_fields,
)


def to_celery_schedule(spec: ScheduleSpec, app: Celery) -> BaseSchedule:
    """Translate a neutral schedule into a Celery schedule bound to ``app``.

    Crontab and daily schedules follow the application's configured timezone.
    """
    if isinstance(spec, IntervalSchedule):
        return schedule(run_every=spec.every, app=app)
    minute, hour, day_of_month, month, weekday = cron_fields(spec)
    return crontab(
        minute=minute,
        hour=hour,
        day_of_week=weekday,
        day_of_month=day_of_month,
        month_of_year=month,
        app=app,
    )


@Pod()
class CeleryScheduleRegistrar(IScheduleRegistrar):
    """Adds one ``beat_schedule`` entry per scheduled task, named after the task.

    The entry carries the scheduled call's arguments and its delivery options
    (the task's ``@task_options`` with ``@schedule_options`` on top), so beat
    sends it where, and how, a call from code would go.
    """

    _app: Celery

    def __init__(self, app: Celery) -> None:
        self._app = app

    @override
    def register(self, task_name: str, spec: ScheduleSpec, call: ScheduledCall) -> None:
        """Add the beat entry of ``task_name``.

        Raises:
            TaskArgumentSerializationError: The task serializer cannot encode
                one of the call's arguments.
            UnknownQueueError: The call's queue is not declared.
        """
        serializer = str(self._app.conf.task_serializer)
        problem = unserializable_argument(task_name, call.args, call.kwargs, serializer)
        if problem is not None:
            raise TaskArgumentSerializationError(
                f"{problem}; fix @schedule_options of the beat entry"
            )
        if call.options.queue is not None:
            check_queue(self._app, task_name, call.options.queue)
        entry: dict[str, object] = {
            "task": task_name,
            "schedule": to_celery_schedule(spec, self._app),
            "args": call.args,
            "kwargs": dict(call.kwargs),
        }
        options = send_options(self._app, call.options)
        if options:
            entry["options"] = options
        entries = dict(self._app.conf.beat_schedule or {})
        entries[task_name] = entry
        self._app.conf.beat_schedule = entries
