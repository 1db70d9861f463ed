"""What every transport's worker endpoint needs: its name, and a free task name."""

from collections.abc import Callable

from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.error import DuplicateTaskNameError


def named_after[F: Callable[..., object]](binding: TaskBinding, endpoint: F) -> F:
    """``endpoint`` named and documented as the handler method it runs.

    Worker logs, tracebacks and the transport's own task listings then show
    ``Handler.method`` of the handler's module instead of a wrapper's name.
    """
    endpoint.__name__ = binding.method_name
    endpoint.__qualname__ = f"{binding.handler_type.__qualname__}.{binding.method_name}"
    endpoint.__module__ = binding.handler_type.__module__
    endpoint.__doc__ = getattr(binding.handler_type, binding.method_name).__doc__
    return endpoint


def refuse_foreign_task(
    binding: TaskBinding, existing: object, *, ours: bool, registry: str
) -> None:
    """Refuse to register ``binding`` over a task that no endpoint registrar made.

    Args:
        binding: The task about to be registered.
        existing: What the transport's task registry holds under its name
            (None: nothing).
        ours: Whether ``existing`` is an endpoint registered for a binding
            (then it is replaced: the same broker serves a newer application).
        registry: What holds the tasks, for the message: ``"broker"``.

    Raises:
        DuplicateTaskNameError: ``existing`` is someone else's task.
    """
    if existing is not None and not ours:
        raise DuplicateTaskNameError(
            f"{binding.name} is already a task of this {registry} that was not "
            "registered from a @TaskHandler; rename that task or the handler method"
        )
