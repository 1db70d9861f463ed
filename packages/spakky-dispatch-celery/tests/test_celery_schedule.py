"""Neutral schedules as Celery beat entries."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery import Celery
from celery.schedules import crontab, schedule
from kombu import Queue
from spakky.task import Month, Weekday

from spakky.dispatch.celery import (
    CeleryScheduleRegistrar,
    UnknownQueueError,
    to_celery_schedule,
)
from spakky.dispatch.core import DispatchOptions, TaskArgumentSerializationError
from spakky.dispatch.core.adapter import (
    NO_ARGUMENTS,
    CrontabSchedule,
    DailySchedule,
    IntervalSchedule,
    ScheduledCall,
)


def _app(timezone: str = "UTC") -> Celery:
    app = Celery("t", broker="memory://", set_as_current=False)
    app.conf.timezone = timezone
    return app


def test_interval_expect_celery_schedule_with_same_period() -> None:
    """An interval becomes a fixed-frequency schedule."""
    result = to_celery_schedule(IntervalSchedule(every=timedelta(minutes=30)), _app())
    assert isinstance(result, schedule)
    assert not isinstance(result, crontab)
    assert result.run_every == timedelta(minutes=30)


def test_daily_expect_crontab_at_hour_and_minute() -> None:
    """A daily time becomes a crontab at that hour and minute, every day."""
    result = to_celery_schedule(DailySchedule(hour=3, minute=15), _app())
    assert isinstance(result, crontab)
    assert result.hour == {3}
    assert result.minute == {15}
    assert result.day_of_week == set(range(7))


def test_crontab_monday_nine_expect_celery_day_one() -> None:
    """The seed's weekly report (Monday 09:00) runs on Celery's day 1."""
    spec = CrontabSchedule(minute=0, hour=9, weekday=(Weekday.MONDAY,))
    result = to_celery_schedule(spec, _app())
    assert isinstance(result, crontab)
    assert result.day_of_week == {1}
    assert result.hour == {9}
    assert result.minute == {0}
    assert result.day_of_month == set(range(1, 32))


def test_crontab_days_months_weekend_expect_all_fields() -> None:
    """Tuples of days, months and weekdays are all carried."""
    spec = CrontabSchedule(
        minute=5,
        hour=0,
        day_of_month=(1, 15),
        month=(Month.JANUARY, Month.JULY),
        weekday=(Weekday.SATURDAY, Weekday.SUNDAY),
    )
    result = to_celery_schedule(spec, _app())
    assert isinstance(result, crontab)
    assert result.day_of_month == {1, 15}
    assert result.month_of_year == {1, 7}
    assert result.day_of_week == {6, 0}


def test_crontab_monday_in_seoul_expect_next_run_monday_nine_local() -> None:
    """Schedules follow the configured timezone: Monday 09:00 in Asia/Seoul."""
    app = _app("Asia/Seoul")
    seoul = ZoneInfo("Asia/Seoul")
    spec = CrontabSchedule(minute=0, hour=9, weekday=(Weekday.MONDAY,))
    result = to_celery_schedule(spec, app)
    # Sunday 2026-11-29 23:00 UTC is Monday 08:00 in Seoul: due in one hour.
    now = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    result.nowfun = lambda: now.astimezone(seoul)
    remaining = result.remaining_estimate(now.astimezone(seoul) - timedelta(days=1))
    next_run = (now + remaining).astimezone(seoul)
    assert remaining == timedelta(hours=1)
    assert next_run.weekday() == 0
    assert (next_run.hour, next_run.minute) == (9, 0)


def test_registrar_adds_entry_per_task_expect_beat_schedule() -> None:
    """Each registration adds one beat entry named after the task."""
    app = _app()
    registrar = CeleryScheduleRegistrar(app)
    registrar.register(
        "m.C.a", IntervalSchedule(every=timedelta(seconds=5)), NO_ARGUMENTS
    )
    registrar.register("m.C.b", DailySchedule(hour=1, minute=2), NO_ARGUMENTS)
    entries = app.conf.beat_schedule
    assert set(entries) == {"m.C.a", "m.C.b"}
    assert entries["m.C.a"]["task"] == "m.C.a"
    assert (entries["m.C.a"]["args"], entries["m.C.a"]["kwargs"]) == ((), {})
    assert "options" not in entries["m.C.a"]
    assert entries["m.C.b"]["schedule"].hour == {1}


def test_registrar_call_expect_args_kwargs_and_send_options_in_entry() -> None:
    """Beat sends the call's arguments with Celery's own send options."""
    app = _app()
    call = ScheduledCall(
        args=(1, "eu"),
        kwargs={"full": True},
        options=DispatchOptions(
            queue="reports",
            routing_key="reports.nightly",
            priority=7,
            expires=3600.0,
            time_limit=60.0,
            ignore_result=True,
        ),
    )
    CeleryScheduleRegistrar(app).register(
        "m.C.report", DailySchedule(hour=2, minute=0), call
    )
    entry = app.conf.beat_schedule["m.C.report"]
    assert entry["args"] == (1, "eu")
    assert entry["kwargs"] == {"full": True}
    assert entry["options"] == {
        "queue": "reports",
        "routing_key": "reports.nightly",
        "exchange": app.conf.task_default_queue,
        "priority": 7,
        "expires": 3600.0,
        "time_limit": 60.0,
        "ignore_result": True,
    }


class Opaque:
    """A value no serializer knows."""


def test_registrar_unencodable_argument_expect_startup_error_naming_it() -> None:
    """An argument JSON cannot carry fails registration, naming task and argument."""
    app = _app()
    call = ScheduledCall(kwargs={"since": Opaque()})
    with pytest.raises(TaskArgumentSerializationError) as caught:
        CeleryScheduleRegistrar(app).register(
            "m.C.report", DailySchedule(hour=2, minute=0), call
        )
    assert "m.C.report: argument 'since' of type Opaque" in str(caught.value)
    assert "@schedule_options" in str(caught.value)
    assert "m.C.report" not in (app.conf.beat_schedule or {})


def test_registrar_undeclared_queue_expect_startup_error() -> None:
    """With queues declared, a beat entry for another queue is refused."""
    app = _app()
    app.conf.task_queues = [Queue("default"), Queue("mail")]
    call = ScheduledCall(options=DispatchOptions(queue="reports"))
    with pytest.raises(UnknownQueueError, match="'reports' is not among"):
        CeleryScheduleRegistrar(app).register(
            "m.C.report", DailySchedule(hour=2, minute=0), call
        )


def test_registrar_two_apps_expect_separate_beat_schedules() -> None:
    """Entries never leak from one Celery app into another."""
    first, second = _app(), _app()
    CeleryScheduleRegistrar(first).register(
        "m.C.a", IntervalSchedule(every=timedelta(seconds=5)), NO_ARGUMENTS
    )
    assert "m.C.a" in first.conf.beat_schedule
    assert "m.C.a" not in (second.conf.beat_schedule or {})
