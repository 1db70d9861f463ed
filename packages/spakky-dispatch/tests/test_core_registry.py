"""``TaskBinding`` / ``task_name_for`` and the ``TaskRegistry`` lookups."""

from datetime import timedelta

import pytest
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskAuthMetadata, TaskHandler, task

from spakky.dispatch.core import TaskNotRegisteredError
from spakky.dispatch.core.adapter import (
    DuplicateTaskNameError,
    IntervalSchedule,
    TaskBinding,
    TaskRegistry,
    task_name_for,
)


@TaskHandler()
class InvoiceTasks:
    """A singleton handler with a sync and an async task."""

    @task
    def issue(self, invoice_id: str) -> str:
        """Issue one invoice."""
        return invoice_id

    @task
    async def archive(self, invoice_id: str) -> str:
        """Archive one invoice."""
        return invoice_id


@TaskHandler(name="scoped_invoice_tasks", scope=Pod.Scope.CONTEXT)
class ScopedInvoiceTasks:
    """A context-scoped handler registered under an explicit pod name."""

    @task
    def issue(self, invoice_id: str) -> str:
        """Issue one invoice."""
        return invoice_id


def _binding(**overrides: object) -> TaskBinding:
    binding = TaskBinding.of(Pod.get(InvoiceTasks), "issue")
    return TaskBinding(
        name=str(overrides.get("name", binding.name)),
        handler_type=InvoiceTasks,
        method_name="issue",
        pod_name=binding.pod_name,
        is_async=False,
        schedule=overrides.get("schedule"),  # type: ignore[arg-type]
    )


def test_task_name_for_expect_module_qualname_method() -> None:
    """The wire name is ``module.Class.method`` of the registered handler class."""
    assert (
        task_name_for(InvoiceTasks, "issue")
        == f"{InvoiceTasks.__module__}.InvoiceTasks.issue"
    )


def test_binding_of_sync_singleton_expect_static_facts() -> None:
    """A binding records handler, pod, scope, sync-ness and its wire name."""
    pod = Pod.get(InvoiceTasks)
    binding = TaskBinding.of(pod, "issue")
    assert binding.name == task_name_for(InvoiceTasks, "issue")
    assert binding.handler_type is InvoiceTasks
    assert binding.method_name == "issue"
    assert binding.pod_name == pod.name
    assert binding.singleton is True
    assert binding.is_async is False
    assert binding.dispatchable is True
    assert binding.schedule is None
    assert binding.auth == TaskAuthMetadata()


def test_binding_of_async_method_expect_is_async() -> None:
    """A coroutine method is recognised as async."""
    binding = TaskBinding.of(Pod.get(InvoiceTasks), "archive")
    assert binding.is_async is True


def test_binding_of_context_scoped_pod_expect_not_singleton_and_pod_name() -> None:
    """A non-singleton pod is flagged, so its handler is resolved per task."""
    binding = TaskBinding.of(Pod.get(ScopedInvoiceTasks), "issue")
    assert binding.singleton is False
    assert binding.pod_name == "scoped_invoice_tasks"


def test_binding_of_options_expect_passed_through() -> None:
    """Dispatchability, schedule and auth given at registration are kept."""
    auth = TaskAuthMetadata(public_access=True)
    spec = IntervalSchedule(every=timedelta(seconds=5))
    binding = TaskBinding.of(
        Pod.get(InvoiceTasks), "issue", dispatchable=False, schedule=spec, auth=auth
    )
    assert (binding.dispatchable, binding.schedule, binding.auth) == (
        False,
        spec,
        auth,
    )


def test_registry_add_expect_found_by_name_and_method() -> None:
    """A registered binding is found by wire name and by (class, method)."""
    registry = TaskRegistry()
    binding = TaskBinding.of(Pod.get(InvoiceTasks), "issue")
    registry.add(binding)
    assert registry.get(binding.name) is binding
    assert registry.find(binding.name) is binding
    assert registry.for_method(InvoiceTasks, "issue") is binding
    assert list(registry) == [binding]
    assert len(registry) == 1


def test_registry_unknown_expect_none_or_not_registered_error() -> None:
    """Unknown names: ``find`` / ``for_method`` give None, ``get`` raises naming it."""
    registry = TaskRegistry()
    registry.add(TaskBinding.of(Pod.get(InvoiceTasks), "issue"))
    assert registry.find("nope.Task.run") is None
    assert registry.for_method(InvoiceTasks, "archive") is None
    assert registry.for_method(ScopedInvoiceTasks, "issue") is None
    with pytest.raises(TaskNotRegisteredError) as caught:
        registry.get("nope.Task.run")
    assert caught.value.detail == "nope.Task.run"


def test_registry_same_binding_twice_expect_idempotent() -> None:
    """Adding an equal binding again is harmless."""
    registry = TaskRegistry()
    registry.add(TaskBinding.of(Pod.get(InvoiceTasks), "issue"))
    registry.add(TaskBinding.of(Pod.get(InvoiceTasks), "issue"))
    assert len(registry) == 1


def test_registry_different_binding_same_name_expect_duplicate_error() -> None:
    """Two different tasks under one name are refused, naming the task."""
    registry = TaskRegistry()
    first = _binding()
    registry.add(first)
    clash = _binding(schedule=IntervalSchedule(every=timedelta(seconds=1)))
    with pytest.raises(DuplicateTaskNameError) as caught:
        registry.add(clash)
    assert caught.value.detail == first.name
    assert registry.get(first.name) is first


def test_registry_iteration_expect_snapshot_in_registration_order() -> None:
    """Iteration lists tasks in registration order and tolerates later adds."""
    registry = TaskRegistry()
    issue = TaskBinding.of(Pod.get(InvoiceTasks), "issue")
    archive = TaskBinding.of(Pod.get(InvoiceTasks), "archive")
    registry.add(issue)
    iterator = iter(registry)
    registry.add(archive)
    assert list(iterator) == [issue]
    assert list(registry) == [issue, archive]
