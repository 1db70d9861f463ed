"""``@schedule_options``: what each scheduled run sends, checked at registration."""

from datetime import timedelta

import pytest
from spakky.task import TaskHandler, schedule, task

from spakky.dispatch.core import (
    DispatchOptions,
    InvalidDispatchOptionsError,
    InvalidTaskDefinitionError,
    schedule_options,
    task_options,
)
from spakky.dispatch.core.adapter import (
    NO_ARGUMENTS,
    ScheduledCall,
    find_unencodable,
    task_name_for,
)
from spakky.dispatch.core.binding import binding_notes

from .dispatch_core_support import running_app


@TaskHandler()
class ReportTasks:
    """Scheduled methods with and without declared calls."""

    @schedule(interval=timedelta(hours=1))
    @schedule_options(args=("eu",), kwargs={"full": True}, priority=9, expires=600)
    @task_options(queue="reports", priority=1, time_limit=30)
    @task
    def build(self, region: str, *, full: bool = False) -> str:
        """Needs a region, which the schedule gives."""
        return region

    @schedule(interval=timedelta(minutes=5))
    def tick(self) -> None:
        """No arguments, no options."""


@TaskHandler()
class MisfitScheduleTasks:
    """A declared call that does not fit the method."""

    @schedule(interval=timedelta(hours=1))
    @schedule_options(kwargs={"regoin": "eu"})
    def build(self, region: str = "all") -> None:
        """Typo in the keyword."""


@TaskHandler()
class UnscheduledOptionsTasks:
    """Schedule options on a method beat never runs."""

    @schedule_options(args=(1,))
    @task
    def build(self, n: int) -> None:
        """Not scheduled."""


@TaskHandler()
class LimitClashTasks:
    """Merged options that contradict each other."""

    @schedule(interval=timedelta(hours=1))
    @schedule_options(soft_time_limit=60)
    @task_options(time_limit=30)
    def build(self) -> None:
        """Soft limit above the hard one once merged."""


def test_schedule_options_expect_call_with_arguments_and_merged_options() -> None:
    """The registrar hands the transport the arguments and the merged options."""
    with running_app(ReportTasks) as app:
        name = task_name_for(ReportTasks, "build")
        call = app.schedules.calls[name]
        assert call.args == ("eu",)
        assert dict(call.kwargs) == {"full": True}
        assert call.options == DispatchOptions(
            queue="reports", priority=9, expires=600, time_limit=30
        )
        assert app.registry.get(name).schedule_call == call
        assert app.schedules.calls[task_name_for(ReportTasks, "tick")] == NO_ARGUMENTS


def test_schedule_options_not_fitting_expect_definition_error_naming_task() -> None:
    """Arguments the method cannot take fail at startup, not on the worker."""
    with running_app(MisfitScheduleTasks, register=False) as app:
        with pytest.raises(InvalidTaskDefinitionError) as caught:
            app.registrar.register_container(app.context)
        assert app.schedules.entries == []
    text = str(caught.value)
    assert task_name_for(MisfitScheduleTasks, "build") in text
    assert "'regoin'" in text


def test_schedule_options_without_schedule_expect_definition_error() -> None:
    """Options for runs that never happen are a mistake, reported as such."""
    with (
        running_app(UnscheduledOptionsTasks, register=False) as app,
        pytest.raises(InvalidTaskDefinitionError, match="no @schedule"),
    ):
        app.registrar.register_container(app.context)


def test_schedule_options_merged_clash_expect_options_error() -> None:
    """Declared and schedule options are validated together."""
    with (
        running_app(LimitClashTasks, register=False) as app,
        pytest.raises(InvalidDispatchOptionsError, match="soft_time_limit"),
    ):
        app.registrar.register_container(app.context)


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"priority": 300}, "priority must be within 0-255"),
        ({"expires": 0}, "expires must be > 0"),
        ({"args": ["eu"]}, "args must be a tuple, got list"),
    ],
)
def test_schedule_options_invalid_expect_error_at_decoration(
    given: dict[str, object], problem: str
) -> None:
    """Bad values fail where the decorator is written."""
    with pytest.raises(InvalidDispatchOptionsError, match=problem):
        schedule_options(**given)  # type: ignore[arg-type]


def test_scheduled_call_defaults_expect_no_arguments() -> None:
    """A schedule without options sends nothing and keeps the defaults."""
    assert ScheduledCall() == NO_ARGUMENTS
    assert (NO_ARGUMENTS.args, dict(NO_ARGUMENTS.kwargs)) == ((), {})


def test_binding_notes_expect_scheduled_arguments_and_retries() -> None:
    """Listings show what each scheduled run sends and the retry budget."""
    with running_app(ReportTasks) as app:
        build = app.registry.get(task_name_for(ReportTasks, "build"))
        tick = app.registry.get(task_name_for(ReportTasks, "tick"))
    assert binding_notes(build) == ["scheduled as ('eu', full=True)"]
    assert binding_notes(tick) == []


def test_find_unencodable_expect_first_refused_argument_named() -> None:
    """Positional arguments are named by index, keywords by name; first wins."""

    def encode(value: object) -> object:
        if isinstance(value, set):
            raise TypeError("set is not encodable")
        return value

    assert find_unencodable((1, "a"), {"k": 2}, encode) is None
    label, value, error = find_unencodable((1, {2}), {"k": {3}}, encode) or (
        "",
        0,
        None,
    )
    assert (label, value) == ("argument 1", {2})
    assert isinstance(error, TypeError)
    found = find_unencodable((), {"k": {3}}, encode)
    assert found is not None
    assert found[0] == "argument 'k'"
