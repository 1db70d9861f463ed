"""Neutral schedules as taskiq scheduler entries, with our semantics kept."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from spakky.task import Month, Weekday
from taskiq.cli.scheduler.run import is_cron_task_now
from taskiq.exceptions import ScheduledTaskCancelledError

from spakky.dispatch.core import (
    DispatchOptions,
    InvalidScheduleRouteError,
    TaskArgumentSerializationError,
)
from spakky.dispatch.core.adapter import (
    NO_ARGUMENTS,
    CrontabSchedule,
    DailySchedule,
    IntervalSchedule,
    ScheduledCall,
)
from spakky.dispatch.taskiq import (
    ScheduleEntry,
    SpakkyScheduleSource,
    TaskiqScheduleRegistrar,
    UnsupportedDispatchOptionError,
    to_scheduled_task,
)
from spakky.dispatch.taskiq.message import Control

from .conftest import ConfigFactory


def test_interval_expect_whole_seconds_entry_named_after_task() -> None:
    """An interval becomes an interval entry whose id is the task name."""
    task = to_scheduled_task(
        "m.C.tick", IntervalSchedule(every=timedelta(minutes=30)), "UTC"
    )
    assert (task.task_name, task.schedule_id) == ("m.C.tick", "m.C.tick")
    assert task.interval == timedelta(seconds=1800)
    assert (task.cron, task.args, task.kwargs) == (None, [], {})


@pytest.mark.parametrize("every", [timedelta(milliseconds=500), timedelta(seconds=1.5)])
def test_interval_not_whole_seconds_expect_refused(every: timedelta) -> None:
    """taskiq's scheduler ticks once a second: other intervals are refused."""
    with pytest.raises(InvalidScheduleRouteError, match="whole seconds"):
        to_scheduled_task("m.C.tick", IntervalSchedule(every=every), "UTC")


def test_daily_expect_cron_in_configured_timezone() -> None:
    """A daily time is a cron entry evaluated in the scheduler's timezone."""
    task = to_scheduled_task(
        "m.C.nightly", DailySchedule(hour=3, minute=5), "Asia/Seoul"
    )
    assert (task.cron, task.cron_offset) == ("5 3 * * *", "Asia/Seoul")


def test_crontab_expect_every_field_translated() -> None:
    """Days, months and ISO weekdays land in the right cron fields."""
    spec = CrontabSchedule(
        minute=0,
        hour=9,
        day_of_month=(15, 1),
        month=(Month.JANUARY, Month.JULY),
        weekday=(Weekday.SUNDAY, Weekday.MONDAY),
    )
    task = to_scheduled_task("m.C.report", spec, "UTC")
    assert task.cron == "0 9 1,15 1,7 0,1"
    plain = to_scheduled_task("m.C.report", CrontabSchedule(minute=30, hour=6), "UTC")
    assert plain.cron == "30 6 * * *"


def test_weekly_crontab_in_seoul_expect_due_at_local_monday_nine() -> None:
    """Monday 09:00 in Asia/Seoul is Monday 00:00 UTC, as taskiq evaluates it."""
    spec = CrontabSchedule(minute=0, hour=9, weekday=(Weekday.MONDAY,))
    task = to_scheduled_task("m.C.weekly", spec, "Asia/Seoul")
    assert task.cron is not None
    monday_midnight_utc = datetime(2024, 1, 1, 0, 0, tzinfo=UTC)  # a Monday
    assert is_cron_task_now(task.cron, monday_midnight_utc, task.cron_offset)
    assert not is_cron_task_now(
        task.cron, monday_midnight_utc + timedelta(hours=9), task.cron_offset
    )
    sunday_local = datetime(2024, 1, 7, 9, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    assert not is_cron_task_now(
        task.cron, sunday_local.astimezone(UTC), task.cron_offset
    )


def _source(*entries: tuple[str, object]) -> SpakkyScheduleSource:
    source = SpakkyScheduleSource()
    for name, spec in entries:
        source.add(
            ScheduleEntry(
                spec=spec,  # type: ignore[arg-type]
                task=to_scheduled_task(name, spec, "UTC"),  # type: ignore[arg-type]
                timezone="UTC",
            )
        )
    return source


def test_source_interval_expect_first_tick_held_back_until_restart() -> None:
    """An interval's first tick is cancelled (it runs one interval later)."""
    source = _source(("m.C.tick", IntervalSchedule(every=timedelta(seconds=5))))
    asyncio.run(source.startup())
    [task] = asyncio.run(source.get_schedules())
    with pytest.raises(ScheduledTaskCancelledError):
        source.pre_send(task)
    source.pre_send(task)  # the next tick is sent
    asyncio.run(source.startup())  # a restarted scheduler waits again
    with pytest.raises(ScheduledTaskCancelledError):
        source.pre_send(task)


def test_source_crontab_both_days_expect_sent_only_when_both_match() -> None:
    """Day of month AND weekday must match (cron would send on either)."""
    today = datetime.now(UTC)
    other_day = today.day % 28 + 1
    either = CrontabSchedule(
        minute=0, hour=0, day_of_month=(other_day,), weekday=(Weekday(today.weekday()),)
    )
    both = CrontabSchedule(
        minute=0,
        hour=0,
        day_of_month=(today.day,),
        weekday=(Weekday(today.weekday()),),
    )
    source = _source(("m.C.either", either), ("m.C.both", both))
    tasks = {task.task_name: task for task in asyncio.run(source.get_schedules())}
    with pytest.raises(ScheduledTaskCancelledError):
        source.pre_send(tasks["m.C.either"])
    source.pre_send(tasks["m.C.both"])


def test_source_other_entries_expect_sent() -> None:
    """Daily, single-day crontabs and unknown schedule ids are never held back."""
    source = _source(
        ("m.C.daily", DailySchedule(hour=3, minute=0)),
        ("m.C.weekly", CrontabSchedule(minute=0, hour=9, weekday=(Weekday.MONDAY,))),
    )
    for task in asyncio.run(source.get_schedules()):
        source.pre_send(task)
    foreign = to_scheduled_task("x.Y.z", DailySchedule(hour=1, minute=0), "UTC")
    source.pre_send(foreign.model_copy(update={"schedule_id": "foreign"}))


def test_registrar_expect_entry_in_configured_timezone(
    make_config: ConfigFactory,
) -> None:
    """The registrar adds one entry per task, in SPAKKY_TASKIQ__TIMEZONE."""
    source = SpakkyScheduleSource()
    registrar = TaskiqScheduleRegistrar(source, make_config(timezone="Europe/Berlin"))
    registrar.register("m.C.nightly", DailySchedule(hour=2, minute=30), NO_ARGUMENTS)
    entry = source.entries["m.C.nightly"]
    assert entry.timezone == "Europe/Berlin"
    assert (entry.task.cron, entry.task.cron_offset) == ("30 2 * * *", "Europe/Berlin")
    assert (entry.task.args, entry.task.kwargs) == ([], {})


def test_registrar_call_expect_arguments_and_labels_set_per_run(
    make_config: ConfigFactory,
) -> None:
    """Arguments are in the entry; expires counts from each run, as a label."""
    source = SpakkyScheduleSource()
    call = ScheduledCall(
        args=("eu",),
        kwargs={"full": True},
        options=DispatchOptions(expires=60.0, ignore_result=True),
    )
    TaskiqScheduleRegistrar(source, make_config()).register(
        "m.C.report", DailySchedule(hour=2, minute=0), call
    )
    task = source.entries["m.C.report"].task
    assert (task.args, task.kwargs) == (["eu"], {"full": True})
    assert task.labels == {}
    before = time.time()
    source.pre_send(task)
    control = Control.of(task.labels)
    assert control.ignore_result
    assert control.expires is not None
    assert before + 60 <= control.expires <= time.time() + 60


def test_registrar_unsupported_option_expect_startup_error(
    make_config: ConfigFactory,
) -> None:
    """An option taskiq cannot honour fails registration, not the first run."""
    source = SpakkyScheduleSource()
    call = ScheduledCall(options=DispatchOptions(priority=5))
    with pytest.raises(UnsupportedDispatchOptionError, match=r"m\.C\.report: priority"):
        TaskiqScheduleRegistrar(source, make_config()).register(
            "m.C.report", DailySchedule(hour=2, minute=0), call
        )
    assert source.entries == {}


def test_registrar_unencodable_argument_expect_startup_error(
    make_config: ConfigFactory,
) -> None:
    """An argument JSON cannot carry fails registration, naming it."""
    source = SpakkyScheduleSource()
    call = ScheduledCall(args=(object(),))
    with pytest.raises(TaskArgumentSerializationError, match="argument 0 of type"):
        TaskiqScheduleRegistrar(source, make_config()).register(
            "m.C.report", DailySchedule(hour=2, minute=0), call
        )
    assert source.entries == {}
