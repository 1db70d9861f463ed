"""Neutral schedules as entries of taskiq's scheduler.

``SpakkyScheduleSource`` is a taskiq ``ScheduleSource`` holding the
application's ``@schedule`` entries; ``TaskiqScheduler(broker, [source])``
(what ``spakky-taskiq scheduler`` runs) sends them. The source also makes
taskiq's scheduler keep our semantics where taskiq's differ: an interval's
first run comes one interval after the scheduler starts (taskiq sends at
once), and a crontab with both days of the month and weekdays runs when both
match (cron, and so taskiq, runs when either does).
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import override
from zoneinfo import ZoneInfo

from spakky.core.pod.annotations.pod import Pod
from taskiq import ScheduledTask, ScheduleSource
from taskiq.exceptions import ScheduledTaskCancelledError
from taskiq.serializers import JSONSerializer

from spakky.dispatch.core.adapter import (
    NO_ARGUMENTS,
    CrontabSchedule,
    IntervalSchedule,
    InvalidScheduleRouteError,
    IScheduleRegistrar,
    ScheduledCall,
    ScheduleSpec,
    TaskArgumentSerializationError,
    cron_fields,
    find_unencodable,
)
from spakky.dispatch.taskiq.config import TaskiqConfig
from spakky.dispatch.taskiq.message import control_labels, refuse_unsupported


def to_scheduled_task(
    task_name: str,
    spec: ScheduleSpec,
    timezone: str,
    call: ScheduledCall = NO_ARGUMENTS,
) -> ScheduledTask:
    """Translate a neutral schedule into a taskiq ``ScheduledTask``.

    The schedule id is the task name; daily and crontab entries are evaluated
    in ``timezone``; every run sends ``call``'s arguments (its options become
    labels when it is sent, see ``SpakkyScheduleSource.pre_send``).

    Raises:
        InvalidScheduleRouteError: An interval that is not a whole number of
            seconds (taskiq's scheduler ticks once a second).
    """
    if isinstance(spec, IntervalSchedule):
        seconds = spec.every.total_seconds()
        if seconds < 1 or seconds != int(seconds):
            raise InvalidScheduleRouteError(
                f"{task_name}: taskiq's scheduler runs intervals of whole seconds "
                f"(at least 1), got {spec.every!r}; round the interval"
            )
        return _task(task_name, call, interval=timedelta(seconds=seconds))
    cron = " ".join(cron_fields(spec))
    return _task(task_name, call, cron=cron, cron_offset=timezone)


def _task(
    task_name: str,
    call: ScheduledCall,
    *,
    interval: timedelta | None = None,
    cron: str | None = None,
    cron_offset: str | None = None,
) -> ScheduledTask:
    return ScheduledTask(
        task_name=task_name,
        labels={},
        args=list(call.args),
        kwargs=dict(call.kwargs),
        schedule_id=task_name,
        interval=interval,
        cron=cron,
        cron_offset=cron_offset,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleEntry:
    """One scheduled task: the neutral spec and its taskiq translation."""

    spec: ScheduleSpec
    """What was asked for."""

    task: ScheduledTask
    """What taskiq's scheduler runs."""

    timezone: str
    """Timezone of daily and crontab specs."""

    call: ScheduledCall = NO_ARGUMENTS
    """Arguments and delivery options of every run."""


@Pod()
class SpakkyScheduleSource(ScheduleSource):
    """The application's ``@schedule`` entries, for taskiq's scheduler."""

    _entries: dict[str, ScheduleEntry]
    _started: set[str]

    def __init__(self) -> None:
        self._entries = {}
        self._started = set()

    @property
    def entries(self) -> dict[str, ScheduleEntry]:
        """Entries by task name."""
        return dict(self._entries)

    def add(self, entry: ScheduleEntry) -> None:
        """Add (or replace) the entry of ``entry.task.task_name``."""
        self._entries[entry.task.schedule_id] = entry

    @override
    async def startup(self) -> None:
        self._started.clear()

    @override
    async def get_schedules(self) -> list[ScheduledTask]:
        return [entry.task for entry in self._entries.values()]

    @override
    def pre_send(self, task: ScheduledTask) -> None:
        """Hold back sends that our semantics do not make.

        Raises:
            ScheduledTaskCancelledError: The first tick of an interval, or a
                crontab day on which only one of day-of-month and weekday matches.
        """
        entry = self._entries.get(task.schedule_id)
        if entry is None:
            return
        spec = entry.spec
        if isinstance(spec, IntervalSchedule):
            if task.schedule_id not in self._started:
                self._started.add(task.schedule_id)
                raise ScheduledTaskCancelledError()
        elif isinstance(spec, CrontabSchedule) and not _both_days_match(
            spec, datetime.now(ZoneInfo(entry.timezone))
        ):
            raise ScheduledTaskCancelledError()
        # Options such as expires count from this run, so they are set now.
        task.labels.update(
            control_labels(task.task_name, entry.call.options, time.time())
        )


def _both_days_match(spec: CrontabSchedule, now: datetime) -> bool:
    """Whether day of month and weekday both match (always, unless both are set)."""
    if spec.day_of_month is None or spec.weekday is None:
        return True
    return now.day in spec.day_of_month and now.weekday() in spec.weekday


@Pod()
class TaskiqScheduleRegistrar(IScheduleRegistrar):
    """Adds one entry per scheduled task to the application's schedule source."""

    _source: SpakkyScheduleSource
    _timezone: str

    def __init__(self, source: SpakkyScheduleSource, config: TaskiqConfig) -> None:
        self._source = source
        self._timezone = config.timezone

    @override
    def register(self, task_name: str, spec: ScheduleSpec, call: ScheduledCall) -> None:
        """Add the entry of ``task_name``.

        Raises:
            UnsupportedDispatchOptionError: The call has an option taskiq
                cannot honour.
            TaskArgumentSerializationError: An argument cannot be encoded as JSON.
            InvalidScheduleRouteError: The interval is not whole seconds.
        """
        refuse_unsupported(task_name, call.options)
        _require_encodable(task_name, call)
        task = to_scheduled_task(task_name, spec, self._timezone, call)
        self._source.add(
            ScheduleEntry(spec=spec, task=task, timezone=self._timezone, call=call)
        )


def _require_encodable(task_name: str, call: ScheduledCall) -> None:
    found = find_unencodable(call.args, call.kwargs, JSONSerializer().dumpb)
    if found is not None:
        label, value, error = found
        raise TaskArgumentSerializationError(
            f"{task_name}: {label} of type {type(value).__name__} cannot be "
            f"encoded as JSON ({error}); fix @schedule_options of the schedule"
        ) from error
