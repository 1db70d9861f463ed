"""``TaskCall``: one call of a task, as header propagators see it on both sides."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.message import DispatchOptions

_NO_KWARGS: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCall:
    """One call of a task: what a propagator may bind its headers to.

    The dispatcher builds it with the id it assigns to the message before
    asking the propagators for headers; the worker builds it from the received
    message (id and arguments as the transport decoded them, so a serializer
    may have turned tuples into lists) before restoring their context.
    """

    task: TaskBinding
    """The registered task."""

    task_id: str | None
    """The message's id; a redelivery or a transport retry keeps it. None only
    when a worker-side caller ran the task without one."""

    args: tuple[object, ...] = ()
    """Positional arguments of the call."""

    kwargs: Mapping[str, object] = field(default=_NO_KWARGS)
    """Keyword arguments of the call."""

    options: DispatchOptions | None = None
    """Delivery options of the call on the dispatching side (countdown, eta,
    ...); None on the worker, where the transport has applied them."""
