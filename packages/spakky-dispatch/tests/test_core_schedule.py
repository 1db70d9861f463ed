"""``schedule_spec_from_route``: ``@schedule`` routes become neutral, validated specs."""

from datetime import UTC, time, timedelta
from typing import Any

import pytest
from spakky.task import Crontab, Month, ScheduleRoute, Weekday

from spakky.dispatch.core import AbstractSpakkyDispatchError, InvalidScheduleRouteError
from spakky.dispatch.core.adapter import (
    CrontabSchedule,
    DailySchedule,
    IntervalSchedule,
    cron_fields,
    cron_weekday,
)
from spakky.dispatch.core.schedule import schedule_spec_from_route

TASK = "reports.tasks.ReportTasks.nightly"


def _crontab(**fields: Any) -> ScheduleRoute:
    """A route around a Crontab built without its type checks."""
    return ScheduleRoute(crontab=Crontab(**fields))


def test_schedule_interval_expect_interval_spec_with_same_period() -> None:
    """A positive interval is kept as it is."""
    spec = schedule_spec_from_route(
        ScheduleRoute(interval=timedelta(minutes=30)), task_name=TASK
    )
    assert spec == IntervalSchedule(every=timedelta(minutes=30))


def test_schedule_sub_second_interval_expect_interval_spec() -> None:
    """Any strictly positive interval is accepted, even below one second."""
    spec = schedule_spec_from_route(
        ScheduleRoute(interval=timedelta(microseconds=1)), task_name=TASK
    )
    assert spec == IntervalSchedule(every=timedelta(microseconds=1))


@pytest.mark.parametrize(
    "interval", [timedelta(0), timedelta(seconds=-1)], ids=["zero", "negative"]
)
def test_schedule_non_positive_interval_expect_error_naming_task(
    interval: timedelta,
) -> None:
    """A zero or negative interval is refused, quoting the task and the value."""
    with pytest.raises(InvalidScheduleRouteError) as caught:
        schedule_spec_from_route(ScheduleRoute(interval=interval), task_name=TASK)
    assert TASK in str(caught.value)
    assert "interval must be positive" in str(caught.value)


def test_schedule_at_expect_daily_spec_at_hour_and_minute() -> None:
    """A naive ``at`` becomes a daily run at that hour and minute."""
    spec = schedule_spec_from_route(ScheduleRoute(at=time(3, 15)), task_name=TASK)
    assert spec == DailySchedule(hour=3, minute=15)


def test_schedule_at_midnight_expect_daily_spec_at_zero() -> None:
    """Midnight (all-zero, falsy components) is a valid daily time."""
    spec = schedule_spec_from_route(ScheduleRoute(at=time(0, 0)), task_name=TASK)
    assert spec == DailySchedule(hour=0, minute=0)


def test_schedule_tz_aware_at_expect_error_naming_task() -> None:
    """A time carrying a timezone is refused: the scheduler's timezone applies."""
    with pytest.raises(InvalidScheduleRouteError) as caught:
        schedule_spec_from_route(
            ScheduleRoute(at=time(3, 0, tzinfo=UTC)), task_name=TASK
        )
    assert TASK in str(caught.value)
    assert "timezone" in str(caught.value)


@pytest.mark.parametrize(
    "at", [time(3, 0, 1), time(3, 0, 0, 1)], ids=["second", "microsecond"]
)
def test_schedule_at_below_minute_precision_expect_error_naming_task(
    at: time,
) -> None:
    """Seconds or microseconds would be silently dropped, so they are refused."""
    with pytest.raises(InvalidScheduleRouteError) as caught:
        schedule_spec_from_route(ScheduleRoute(at=at), task_name=TASK)
    assert TASK in str(caught.value)
    assert "seconds" in str(caught.value)


def test_schedule_crontab_defaults_expect_every_day_at_midnight() -> None:
    """Crontab defaults: hour 0, minute 0, every day of every month."""
    spec = schedule_spec_from_route(_crontab(), task_name=TASK)
    assert spec == CrontabSchedule(minute=0, hour=0)
    assert isinstance(spec, CrontabSchedule)
    assert (spec.day_of_month, spec.month, spec.weekday) == (None, None, None)


def test_schedule_crontab_single_values_expect_one_element_tuples() -> None:
    """Single values become one-element tuples of the right enum type."""
    spec = schedule_spec_from_route(
        _crontab(minute=30, hour=9, day=15, month=Month.MARCH, weekday=Weekday.FRIDAY),
        task_name=TASK,
    )
    assert spec == CrontabSchedule(
        minute=30,
        hour=9,
        day_of_month=(15,),
        month=(Month.MARCH,),
        weekday=(Weekday.FRIDAY,),
    )


def test_schedule_crontab_tuples_expect_values_kept_in_order() -> None:
    """Tuples are kept as given, in the given order."""
    spec = schedule_spec_from_route(
        _crontab(
            hour=23,
            minute=59,
            day=(1, 15, 31),
            month=(Month.DECEMBER, Month.JANUARY),
            weekday=(Weekday.WEDNESDAY, Weekday.MONDAY),
        ),
        task_name=TASK,
    )
    assert spec == CrontabSchedule(
        minute=59,
        hour=23,
        day_of_month=(1, 15, 31),
        month=(Month.DECEMBER, Month.JANUARY),
        weekday=(Weekday.WEDNESDAY, Weekday.MONDAY),
    )


def test_schedule_crontab_weekdays_expect_iso_numbering_preserved() -> None:
    """Weekdays stay ISO (Monday=0, Sunday=6); translation is the adapter's job."""
    spec = schedule_spec_from_route(
        _crontab(weekday=(Weekday.MONDAY, Weekday.SUNDAY)), task_name=TASK
    )
    assert isinstance(spec, CrontabSchedule)
    assert spec.weekday == (Weekday.MONDAY, Weekday.SUNDAY)
    assert spec.weekday is not None
    assert [int(day) for day in spec.weekday] == [0, 6]


def test_schedule_crontab_plain_ints_expect_enum_members() -> None:
    """Plain ints for month and weekday are normalised to ``Month`` / ``Weekday``."""
    spec = schedule_spec_from_route(_crontab(month=2, weekday=(0, 6)), task_name=TASK)
    assert isinstance(spec, CrontabSchedule)
    assert spec.month == (Month.FEBRUARY,)
    assert spec.month is not None
    assert type(spec.month[0]) is Month
    assert spec.weekday is not None
    assert all(type(day) is Weekday for day in spec.weekday)
    assert spec.weekday == (Weekday.MONDAY, Weekday.SUNDAY)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"hour": 24}, "hour=24 is outside 0-23"),
        ({"hour": -1}, "hour=-1 is outside 0-23"),
        ({"minute": 60}, "minute=60 is outside 0-59"),
        ({"minute": -1}, "minute=-1 is outside 0-59"),
        ({"day": 0}, "day=0 is outside 1-31"),
        ({"day": (1, 32)}, "day=32 is outside 1-31"),
        ({"month": 0}, "month=0 is outside 1-12"),
        ({"month": (1, 13)}, "month=13 is outside 1-12"),
        ({"weekday": 7}, "weekday=7 is outside 0-6"),
        ({"weekday": (0, -1)}, "weekday=-1 is outside 0-6"),
    ],
    ids=lambda value: str(value),
)
def test_schedule_crontab_out_of_range_expect_error_naming_task_and_field(
    fields: dict[str, Any], expected: str
) -> None:
    """Every out-of-range crontab field is refused with the field and its range."""
    with pytest.raises(InvalidScheduleRouteError) as caught:
        schedule_spec_from_route(_crontab(**fields), task_name=TASK)
    assert TASK in str(caught.value)
    assert expected in str(caught.value)


@pytest.mark.parametrize("field", ["day", "month", "weekday"])
def test_schedule_crontab_empty_tuple_expect_error_suggesting_none(
    field: str,
) -> None:
    """An empty tuple matches nothing; the error points to None for 'every'."""
    with pytest.raises(InvalidScheduleRouteError) as caught:
        schedule_spec_from_route(_crontab(**{field: ()}), task_name=TASK)
    assert TASK in str(caught.value)
    assert f"crontab {field} is an empty tuple" in str(caught.value)
    assert "None" in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"hour": 3.0}, "hour=3.0 is not an integer"),
        ({"minute": "5"}, "minute='5' is not an integer"),
        ({"hour": True}, "hour=True is not an integer"),
        ({"day": (1, "2")}, "day='2' is not an integer"),
        ({"day": [1, 2]}, "day=[1, 2] is not an integer"),
        ({"month": (False,)}, "month=False is not an integer"),
        ({"weekday": 1.5}, "weekday=1.5 is not an integer"),
    ],
    ids=lambda value: str(value),
)
def test_schedule_crontab_non_int_expect_error_naming_task_and_field(
    fields: dict[str, Any], expected: str
) -> None:
    """Floats, strings, bools and lists are refused rather than coerced."""
    with pytest.raises(InvalidScheduleRouteError) as caught:
        schedule_spec_from_route(_crontab(**fields), task_name=TASK)
    assert TASK in str(caught.value)
    assert expected in str(caught.value)


def test_schedule_route_without_spec_expect_error_naming_task() -> None:
    """A route whose spec was removed after construction is refused, not ignored."""
    route = ScheduleRoute(interval=timedelta(minutes=1))
    route.interval = None
    with pytest.raises(InvalidScheduleRouteError) as caught:
        schedule_spec_from_route(route, task_name=TASK)
    assert TASK in str(caught.value)
    assert "interval=, at= or crontab=" in str(caught.value)


def test_schedule_error_expect_dispatch_error_root() -> None:
    """Schedule errors are the project's own, under its error root."""
    with pytest.raises(AbstractSpakkyDispatchError):
        schedule_spec_from_route(ScheduleRoute(interval=timedelta(0)), task_name=TASK)


def test_cron_weekday_expect_iso_monday_zero_to_cron_sunday_zero() -> None:
    """ISO Monday (0) is cron's 1, ISO Sunday (6) cron's 0."""
    assert [cron_weekday(day) for day in Weekday] == [1, 2, 3, 4, 5, 6, 0]


def test_cron_fields_expect_five_cron_fields() -> None:
    """Daily specs and crontabs as cron's five fields, values sorted, weekdays converted."""
    assert cron_fields(DailySchedule(hour=3, minute=5)) == ("5", "3", "*", "*", "*")
    spec = CrontabSchedule(
        minute=0,
        hour=9,
        day_of_month=(15, 1),
        month=(Month.DECEMBER, Month.JANUARY),
        weekday=(Weekday.SUNDAY, Weekday.MONDAY),
    )
    assert cron_fields(spec) == ("0", "9", "1,15", "1,12", "0,1")
    assert cron_fields(CrontabSchedule(minute=1, hour=2)) == ("1", "2", "*", "*", "*")
