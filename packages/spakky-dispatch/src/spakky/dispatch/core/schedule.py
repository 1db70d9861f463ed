"""Neutral schedule specifications, translated by each transport's registrar."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from types import MappingProxyType

from spakky.task import Crontab, Month, ScheduleRoute, Weekday

from spakky.dispatch.core.error import InvalidScheduleRouteError
from spakky.dispatch.core.message import DEFAULT_OPTIONS, DispatchOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class IntervalSchedule:
    """Run every ``every``, starting one interval after the scheduler starts."""

    every: timedelta
    """Time between two runs; strictly positive."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DailySchedule:
    """Run once a day at ``hour:minute`` in the scheduler's timezone."""

    hour: int
    """Hour of the day, 0-23."""

    minute: int
    """Minute of the hour, 0-59."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CrontabSchedule:
    """Run whenever every field matches; ``None`` fields match everything."""

    minute: int
    """Minute of the hour, 0-59."""

    hour: int
    """Hour of the day, 0-23."""

    day_of_month: tuple[int, ...] | None = None
    """Days of the month, 1-31."""

    month: tuple[Month, ...] | None = None
    """Months of the year."""

    weekday: tuple[Weekday, ...] | None = None
    """Days of the week, ISO numbering (Monday = 0)."""


type ScheduleSpec = IntervalSchedule | DailySchedule | CrontabSchedule
"""Any schedule a registrar must translate."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledCall:
    """What each run of a schedule sends: the arguments and delivery options."""

    args: tuple[object, ...] = ()
    """Positional arguments of every scheduled call."""

    kwargs: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    """Keyword arguments of every scheduled call."""

    options: DispatchOptions = DEFAULT_OPTIONS
    """Delivery options: the task's declared ones with ``@schedule_options``
    applied on top."""


NO_ARGUMENTS = ScheduledCall()
"""The call of a schedule that declares no ``@schedule_options``."""


def cron_weekday(iso_weekday: int) -> int:
    """Map an ISO weekday (Monday = 0) to cron's day of week (Sunday = 0).

    Task queues' schedulers count weekdays as cron does.
    """
    return (iso_weekday + 1) % 7


def cron_fields(
    spec: DailySchedule | CrontabSchedule,
) -> tuple[str, str, str, str, str]:
    """The five fields of a cron line for ``spec``: minute, hour, day of month,
    month and day of week (cron's numbering, Sunday = 0); ``*`` where any
    value matches, sorted comma-separated values otherwise."""
    if isinstance(spec, DailySchedule):
        return str(spec.minute), str(spec.hour), "*", "*", "*"
    weekdays = None if spec.weekday is None else map(cron_weekday, spec.weekday)
    return (
        str(spec.minute),
        str(spec.hour),
        _cron_field(spec.day_of_month),
        _cron_field(spec.month),
        _cron_field(weekdays),
    )


def _cron_field(values: Iterable[int] | None) -> str:
    return "*" if values is None else ",".join(str(v) for v in sorted(map(int, values)))


def schedule_spec_from_route(route: ScheduleRoute, *, task_name: str) -> ScheduleSpec:
    """Translate a ``@schedule`` route into a neutral, validated specification.

    Args:
        route: The route attached by ``@schedule``.
        task_name: Name of the task, quoted in error messages.

    Returns:
        The schedule specification.

    Raises:
        InvalidScheduleRouteError: The route has no specification, or an invalid one.
    """
    if route.interval is not None:
        if route.interval <= timedelta(0):
            raise InvalidScheduleRouteError(
                f"{task_name}: interval must be positive, got {route.interval!r}"
            )
        return IntervalSchedule(every=route.interval)
    if route.at is not None:
        return _daily(route.at, task_name)
    if route.crontab is not None:
        return _crontab(route.crontab, task_name)
    raise InvalidScheduleRouteError(
        f"{task_name}: give one of interval=, at= or crontab= to @schedule"
    )


def _daily(at: time, task_name: str) -> DailySchedule:
    if at.tzinfo is not None:
        raise InvalidScheduleRouteError(
            f"{task_name}: at={at!r} carries a timezone; give a naive time, it runs "
            "in the configured scheduler timezone"
        )
    if at.second or at.microsecond:
        raise InvalidScheduleRouteError(
            f"{task_name}: at={at!r} has seconds; daily schedules run at minute "
            "precision, use time(hour, minute)"
        )
    return DailySchedule(hour=at.hour, minute=at.minute)


def _crontab(crontab: Crontab, task_name: str) -> CrontabSchedule:
    _check_range(task_name, "hour", (crontab.hour,), 0, 23)
    _check_range(task_name, "minute", (crontab.minute,), 0, 59)
    days = _as_tuple(crontab.day)
    if days is not None:
        _check_range(task_name, "day", days, 1, 31)
    months = _as_tuple(crontab.month)
    if months is not None:
        months = tuple(Month(m) for m in _checked(task_name, "month", months, 1, 12))
    weekdays = _as_tuple(crontab.weekday)
    if weekdays is not None:
        weekdays = tuple(
            Weekday(d) for d in _checked(task_name, "weekday", weekdays, 0, 6)
        )
    return CrontabSchedule(
        minute=crontab.minute,
        hour=crontab.hour,
        day_of_month=days,
        month=months,
        weekday=weekdays,
    )


def _as_tuple[T: int](value: T | tuple[T, ...] | None) -> tuple[T, ...] | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return value
    return (value,)


def _checked[T: int](
    task_name: str, field: str, values: tuple[T, ...], low: int, high: int
) -> tuple[T, ...]:
    _check_range(task_name, field, values, low, high)
    return values


def _check_range(
    task_name: str, field: str, values: tuple[int, ...], low: int, high: int
) -> None:
    if not values:
        raise InvalidScheduleRouteError(
            f"{task_name}: crontab {field} is an empty tuple; use None for 'every'"
        )
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidScheduleRouteError(
                f"{task_name}: crontab {field}={value!r} is not an integer"
            )
        if not low <= value <= high:
            raise InvalidScheduleRouteError(
                f"{task_name}: crontab {field}={value} is outside {low}-{high}"
            )
