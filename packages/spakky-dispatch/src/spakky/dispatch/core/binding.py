"""Task bindings: what a registered task is, computed once at registration."""

from dataclasses import dataclass, field
from inspect import iscoroutinefunction

from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskAuthMetadata

from spakky.dispatch.core.arguments import TaskSignature
from spakky.dispatch.core.message import DEFAULT_OPTIONS, DispatchOptions
from spakky.dispatch.core.options import RetryPolicy
from spakky.dispatch.core.schedule import ScheduledCall, ScheduleSpec


def task_name_for(handler_type: type[object], method_name: str) -> str:
    """Return the wire name of a task: ``module.Class.method``.

    Args:
        handler_type: The registered ``@TaskHandler`` class that owns the task.
        method_name: The method's attribute name on that class.

    Returns:
        The task name used on the broker.
    """
    return f"{handler_type.__module__}.{handler_type.__qualname__}.{method_name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskBinding:
    """A registered task: the handler it runs on and everything known statically."""

    name: str
    """Wire name of the task."""

    handler_type: type[object]
    """The registered handler class resolved from the container on the worker."""

    method_name: str
    """Attribute name of the task method on the handler."""

    pod_name: str
    """Name of the handler's pod, so subclasses registered beside it never clash."""

    singleton: bool = True
    """Whether the handler pod is a singleton, so its method can be cached."""

    is_async: bool
    """Whether the method is a coroutine function."""

    dispatchable: bool = True
    """Whether calls to the method are sent to the broker (it carries ``@task``)."""

    schedule: ScheduleSpec | None = None
    """Beat schedule of the task, when it carries ``@schedule``."""

    schedule_call: ScheduledCall | None = None
    """What each scheduled run sends (``@schedule_options`` over the declared
    options), when the task carries ``@schedule``."""

    auth: TaskAuthMetadata = field(default_factory=TaskAuthMetadata)
    """Auth requirements of the task, collected once at registration."""

    options: DispatchOptions = DEFAULT_OPTIONS
    """Declared delivery options (``@task_options``)."""

    retry: RetryPolicy | None = None
    """Declared worker-side retry policy (``@task_options(retry=...)``)."""

    signature: TaskSignature | None = None
    """What callers must pass, resolved once; None skips the call-site check."""

    @classmethod
    def of(
        cls,
        pod: Pod,
        method_name: str,
        *,
        dispatchable: bool = True,
        schedule: ScheduleSpec | None = None,
        schedule_call: ScheduledCall | None = None,
        auth: TaskAuthMetadata | None = None,
        options: DispatchOptions = DEFAULT_OPTIONS,
        retry: RetryPolicy | None = None,
    ) -> "TaskBinding":
        """Build the binding of ``method_name`` on the handler registered as ``pod``."""
        handler_type = pod.type_
        method = getattr(handler_type, method_name)
        return cls(
            name=task_name_for(handler_type, method_name),
            handler_type=handler_type,
            method_name=method_name,
            pod_name=pod.name,
            singleton=pod.scope is Pod.Scope.SINGLETON,
            is_async=iscoroutinefunction(method),
            dispatchable=dispatchable,
            schedule=schedule,
            schedule_call=schedule_call,
            auth=auth if auth is not None else TaskAuthMetadata(),
            options=options,
            retry=retry,
            signature=TaskSignature.of(handler_type, method_name),
        )


def binding_notes(binding: TaskBinding) -> list[str]:
    """Short notes on a task for listings: its scheduled call and retry policy."""
    notes: list[str] = []
    call = binding.schedule_call
    if call is not None and (call.args or call.kwargs):
        arguments = [repr(value) for value in call.args]
        arguments += [f"{name}={value!r}" for name, value in call.kwargs.items()]
        notes.append(f"scheduled as ({', '.join(arguments)})")
    if binding.retry is not None:
        notes.append(f"retries up to {binding.retry.max_retries}")
    return notes


def listing_line(binding: TaskBinding, schedule: str | None) -> str:
    """One line of a ``tasks`` listing: name, kinds, the transport's ``schedule``
    text (when the task has an entry) and the notes of ``binding_notes``."""
    kinds = [
        kind
        for kind, present in (
            ("task", binding.dispatchable),
            ("async", binding.is_async),
            ("schedule", binding.schedule is not None),
        )
        if present
    ]
    when = "" if schedule is None else f"  {schedule}"
    notes = binding_notes(binding)
    more = f"  ({'; '.join(notes)})" if notes else ""
    return f"  {binding.name}  [{', '.join(kinds)}]{when}{more}"
