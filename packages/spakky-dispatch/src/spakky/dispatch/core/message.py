"""The task message: what crosses the broker, independent of any transport."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

_EMPTY: Mapping[str, object] = MappingProxyType({})
_EMPTY_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchOptions:
    """Transport-neutral delivery options for one task message."""

    queue: str | None = None
    """Queue to deliver to; None lets the transport route the task."""

    routing_key: str | None = None
    """Routing key for exchange-based routing; None uses the transport's default."""

    priority: int | None = None
    """Message priority, where the transport supports it."""

    countdown: float | None = None
    """Seconds to wait before the task may run."""

    eta: datetime | None = None
    """Earliest time the task may run."""

    expires: float | datetime | None = None
    """Seconds from now, or a time, after which the task is discarded."""

    time_limit: float | None = None
    """Hard limit in seconds: the worker kills the task after it."""

    soft_time_limit: float | None = None
    """Soft limit in seconds: the task is interrupted with an exception."""

    ignore_result: bool | None = None
    """Whether the result is not stored; None keeps the transport's default."""


DEFAULT_OPTIONS = DispatchOptions()
"""Options used when a task declares none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskMessage:
    """One task call, ready to be handed to a transport."""

    task_name: str
    """Registered name of the task (``module.Class.method``)."""

    args: tuple[object, ...] = ()
    """Positional arguments of the call."""

    kwargs: Mapping[str, object] = field(default=_EMPTY)
    """Keyword arguments of the call."""

    headers: Mapping[str, str] = field(default=_EMPTY_HEADERS)
    """Propagation headers written by the header propagators."""

    options: DispatchOptions = DEFAULT_OPTIONS
    """Delivery options."""

    task_id: str | None = None
    """Identifier of the message. The dispatcher always sets one, and header
    propagators may have bound their headers to it, so a sender must publish
    the message under this id; None (a message built elsewhere, such as a
    scheduled run) lets the transport assign one."""


def find_unencodable(
    args: tuple[object, ...] | list[object],
    kwargs: Mapping[str, object],
    encode: Callable[[object], object],
) -> tuple[str, object, Exception] | None:
    """The first argument ``encode`` refuses, as (label, value, error).

    Labels read ``argument 0`` for positional and ``argument 'name'`` for
    keyword arguments, so a transport's error can name the culprit. None when
    every argument encodes on its own.
    """
    named: list[tuple[str, object]] = [
        (f"argument {index}", value) for index, value in enumerate(args)
    ]
    named += [(f"argument {name!r}", value) for name, value in kwargs.items()]
    for label, value in named:
        try:
            encode(value)
        except Exception as error:
            return label, value, error
    return None
