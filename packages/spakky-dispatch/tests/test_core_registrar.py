"""``TaskRegistrar``: handler pods of a real application become bindings, once."""

from dataclasses import dataclass
from datetime import time, timedelta

import pytest
from spakky.core.common.annotation import Annotation
from spakky.core.pod.annotations.pod import Pod
from spakky.task import (
    Crontab,
    TaskAuthMetadata,
    TaskAuthRequirementMetadata,
    TaskHandler,
    Weekday,
    collect_task_auth_metadata,
    schedule,
    task,
)

from spakky.dispatch.core import InvalidScheduleRouteError, InvalidTaskDefinitionError
from spakky.dispatch.core.adapter import (
    CrontabSchedule,
    DailySchedule,
    DuplicateTaskNameError,
    IntervalSchedule,
    TaskBinding,
    task_name_for,
)

from .dispatch_core_support import running_app

# --- stand-ins for spakky-auth's decorators (same module/qualname contract) ---


@dataclass(frozen=True)
class Requirement:
    """The shape spakky-task reads from an auth requirement."""

    kind: str
    ref: str


@dataclass
class ProtectedRequirement(Annotation):
    """Stand-in for ``spakky.auth.metadata.ProtectedRequirement``."""

    requirement: Requirement


@dataclass
class PublicAccess(Annotation):
    """Stand-in for ``spakky.auth.metadata.PublicAccess``."""


ProtectedRequirement.__module__ = "spakky.auth.metadata"
PublicAccess.__module__ = "spakky.auth.metadata"

# --- pods of the applications under test ---


@Pod()
class Clock:
    """A dependency injected into a handler."""

    def today(self) -> str:
        """A fixed day."""
        return "2024-05-01"


@TaskHandler()
class ReportTasks:
    """Dispatchable, scheduled and schedule-only methods side by side."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @task
    def build(self, day: str) -> str:
        """A plain task."""
        return day

    @task
    @schedule(interval=timedelta(minutes=5))
    def refresh(self) -> str:
        """A task that is also scheduled."""
        return self.clock.today()

    @schedule(crontab=Crontab(hour=3, weekday=Weekday.SUNDAY))
    def weekly(self, limit: int = 10, *extra: int, **options: str) -> int:
        """Schedule-only; every parameter is optional."""
        return limit

    @schedule(at=time(6, 30))
    async def morning(self) -> None:
        """An async schedule-only method."""

    def helper(self) -> None:
        """Neither a task nor scheduled."""


@Pod(name="second_report_tasks")
def second_report_tasks(clock: Clock) -> ReportTasks:
    """A second pod of the same handler class: its tasks' names clash."""
    return ReportTasks(clock)


@Pod()
class MisplacedTasks:
    """A plain pod that declares a task: a definition error."""

    @task
    def run(self) -> None:
        """Never registered."""

    @schedule(interval=timedelta(seconds=1))
    def tick(self) -> None:
        """Never registered."""


@TaskHandler()
class NeedyScheduleTasks:
    """A scheduled method the scheduler cannot call."""

    @schedule(interval=timedelta(minutes=1))
    def sync_accounts(self, account: str, *, since: str, limit: int = 5) -> None:
        """Needs arguments."""


@TaskHandler()
class BadScheduleTasks:
    """A scheduled method whose spec is invalid."""

    @schedule(interval=timedelta(0))
    def spin(self) -> None:
        """Would run continuously."""


@ProtectedRequirement(Requirement(kind="ROLE", ref="auditor"))
@TaskHandler()
class AuditTasks:
    """Auth requirements on the class and on the methods."""

    @ProtectedRequirement(Requirement(kind="PERMISSION", ref="audit:write"))
    @ProtectedRequirement(Requirement(kind="ROLE", ref="auditor"))
    @task
    def record(self, entry: str) -> str:
        """Protected by the class role and its own permission."""
        return entry

    @PublicAccess()
    @task
    def ping(self) -> str:
        """Explicitly public."""
        return "pong"


@TaskHandler()
class PlainTasks:
    """A handler without auth metadata."""

    @task
    def noop(self) -> None:
        """Nothing to do."""


@Pod()
def settings_map() -> dict[str, int]:
    """A function pod whose type is a generic alias, not a class."""
    return {"retries": 3}


def _by_method(bindings: tuple[TaskBinding, ...]) -> dict[str, TaskBinding]:
    return {binding.method_name: binding for binding in bindings}


def test_registrar_names_expect_module_class_method() -> None:
    """Every routed method gets ``module.Class.method`` of the handler class."""
    with running_app(Clock, ReportTasks) as app:
        names = {binding.name for binding in app.registry}
    module = ReportTasks.__module__
    assert names == {
        f"{module}.ReportTasks.build",
        f"{module}.ReportTasks.refresh",
        f"{module}.ReportTasks.weekly",
        f"{module}.ReportTasks.morning",
    }


def test_registrar_unrouted_method_expect_not_registered() -> None:
    """Methods without ``@task`` or ``@schedule`` are left alone."""
    with running_app(Clock, ReportTasks) as app:
        assert app.registry.for_method(ReportTasks, "helper") is None
        assert app.registry.find(task_name_for(ReportTasks, "helper")) is None


def test_registrar_task_and_schedule_expect_dispatchable_and_scheduled() -> None:
    """``@task`` + ``@schedule``: sent on call and registered with the scheduler."""
    with running_app(Clock, ReportTasks) as app:
        refresh = app.registry.get(task_name_for(ReportTasks, "refresh"))
        scheduled = dict(app.schedules.entries)
    assert refresh.dispatchable is True
    assert refresh.schedule == IntervalSchedule(every=timedelta(minutes=5))
    assert scheduled[refresh.name] == refresh.schedule


def test_registrar_schedule_only_expect_scheduled_not_dispatchable() -> None:
    """``@schedule`` alone: scheduled and exposed to workers, never dispatched."""
    with running_app(Clock, ReportTasks) as app:
        weekly = app.registry.get(task_name_for(ReportTasks, "weekly"))
        morning = app.registry.get(task_name_for(ReportTasks, "morning"))
        scheduled = dict(app.schedules.entries)
        exposed = {binding.name for binding in app.endpoints.bindings}
    assert weekly.dispatchable is False
    assert weekly.schedule == CrontabSchedule(
        minute=0, hour=3, weekday=(Weekday.SUNDAY,)
    )
    assert morning.dispatchable is False
    assert morning.is_async is True
    assert morning.schedule == DailySchedule(hour=6, minute=30)
    assert scheduled == {
        weekly.name: weekly.schedule,
        morning.name: morning.schedule,
        task_name_for(ReportTasks, "refresh"): IntervalSchedule(
            every=timedelta(minutes=5)
        ),
    }
    assert {weekly.name, morning.name} <= exposed


def test_registrar_plain_task_expect_endpoint_without_schedule() -> None:
    """A plain ``@task`` gets an endpoint but no periodic entry."""
    with running_app(Clock, ReportTasks) as app:
        build = app.registry.get(task_name_for(ReportTasks, "build"))
        scheduled = {name for name, _ in app.schedules.entries}
        exposed = list(app.endpoints.bindings)
    assert build.dispatchable is True
    assert build.schedule is None
    assert build.name not in scheduled
    assert build in exposed


def test_registrar_endpoints_expect_every_binding_exposed_once() -> None:
    """The transport sees each registered binding exactly once."""
    with running_app(Clock, ReportTasks, PlainTasks) as app:
        exposed = list(app.endpoints.bindings)
        registered = list(app.registry)
    assert sorted(b.name for b in exposed) == sorted(b.name for b in registered)
    assert len(exposed) == len({b.name for b in exposed}) == 5


def test_registrar_register_container_twice_expect_idempotent() -> None:
    """A second registration of the same container changes nothing."""
    with running_app(Clock, ReportTasks) as app:
        before = (list(app.registry), list(app.endpoints.bindings))
        entries = list(app.schedules.entries)
        again = app.registrar.register_container(app.context)
        pod_again = app.registrar.register_pod(Pod.get(ReportTasks))
        assert again == ()
        assert pod_again == ()
        assert (list(app.registry), list(app.endpoints.bindings)) == before
        assert app.schedules.entries == entries


def test_registrar_register_container_expect_bindings_returned_in_order() -> None:
    """The bindings are returned sorted by pod name, then method name."""
    with running_app(Clock, ReportTasks, PlainTasks, register=False) as app:
        bindings = app.registrar.register_container(app.context)
        assert app.registrar.registry is app.registry
    assert [(b.pod_name, b.method_name) for b in bindings] == [
        ("plain_tasks", "noop"),
        ("report_tasks", "build"),
        ("report_tasks", "morning"),
        ("report_tasks", "refresh"),
        ("report_tasks", "weekly"),
    ]


def test_registrar_non_class_pod_expect_skipped() -> None:
    """Function pods whose type is not a class are not scanned for tasks."""
    with running_app(settings_map, PlainTasks, register=False) as app:
        bindings = app.registrar.register_container(app.context)
        assert app.registrar.register_pod(Pod.get(settings_map)) == ()
    assert [b.method_name for b in bindings] == ["noop"]


def test_registrar_non_handler_pod_with_task_expect_definition_error() -> None:
    """A pod declaring ``@task`` without ``@TaskHandler`` is an error, naming both."""
    with running_app(MisplacedTasks, register=False) as app:
        with pytest.raises(InvalidTaskDefinitionError) as caught:
            app.registrar.register_container(app.context)
        assert len(app.registry) == 0
        assert app.endpoints.bindings == []
    text = str(caught.value)
    assert f"{MisplacedTasks.__module__}.MisplacedTasks" in text
    assert "(run, tick)" in text
    assert "@TaskHandler()" in text


def test_registrar_schedule_needing_arguments_expect_definition_error() -> None:
    """A ``@schedule`` method with required arguments is refused, listing them."""
    with running_app(NeedyScheduleTasks, register=False) as app:
        with pytest.raises(InvalidTaskDefinitionError) as caught:
            app.registrar.register_container(app.context)
        assert app.schedules.entries == []
    text = str(caught.value)
    assert task_name_for(NeedyScheduleTasks, "sync_accounts") in text
    assert "['account', 'since']" in text
    assert "limit" not in text


def test_registrar_invalid_schedule_spec_expect_route_error_naming_task() -> None:
    """An invalid spec fails registration, naming the task it belongs to."""
    with (
        running_app(BadScheduleTasks, register=False) as app,
        pytest.raises(InvalidScheduleRouteError) as caught,
    ):
        app.registrar.register_container(app.context)
    assert task_name_for(BadScheduleTasks, "spin") in str(caught.value)


def test_registrar_two_pods_same_task_names_expect_duplicate_error() -> None:
    """Two pods whose tasks resolve to the same names are refused."""
    with running_app(Clock, ReportTasks, second_report_tasks, register=False) as app:
        with pytest.raises(DuplicateTaskNameError) as caught:
            app.registrar.register_container(app.context)
        kept = app.registry.get(task_name_for(ReportTasks, "build"))
    assert caught.value.detail == task_name_for(ReportTasks, "build")
    assert kept.pod_name == "report_tasks"


def test_registrar_auth_metadata_expect_class_and_method_requirements() -> None:
    """Auth requirements of class and method are collected, in order, deduplicated."""
    with running_app(AuditTasks, PlainTasks) as app:
        record = app.registry.get(task_name_for(AuditTasks, "record"))
        ping = app.registry.get(task_name_for(AuditTasks, "ping"))
        noop = app.registry.get(task_name_for(PlainTasks, "noop"))
    auditor = TaskAuthRequirementMetadata(kind="ROLE", ref="auditor")
    assert record.auth == TaskAuthMetadata(
        public_access=False,
        requirements=(
            auditor,
            TaskAuthRequirementMetadata(kind="PERMISSION", ref="audit:write"),
        ),
    )
    assert ping.auth == TaskAuthMetadata(public_access=True, requirements=(auditor,))
    assert noop.auth == TaskAuthMetadata()


def test_registrar_auth_metadata_expect_collected_once_per_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Auth metadata is read at registration only, not again on later use."""
    calls: list[str] = []

    def counting(method: object, *, owner_type: type[object]) -> TaskAuthMetadata:
        calls.append(getattr(method, "__name__", "?"))
        return collect_task_auth_metadata(method, owner_type=owner_type)

    monkeypatch.setattr(
        "spakky.dispatch.core.registrar.collect_task_auth_metadata", counting
    )
    with running_app(AuditTasks) as app:
        app.registrar.register_container(app.context)
        handler = app.get(AuditTasks)
        binding = app.dispatcher.binding_of(handler.record)
        app.dispatcher.dispatch(binding, ("entry",), {})
        app.sender.run_pending(app.invoker.invoke_message)
        assert app.sender.results[0].get() == "entry"
    assert sorted(calls) == ["ping", "record"]
