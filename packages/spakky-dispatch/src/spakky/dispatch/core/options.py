"""Dispatch options: declared per task with ``@task_options``, overridden per call.

Example::

    @TaskHandler()
    class EmailTaskHandler:
        @task_options(queue="mail", retry=RetryPolicy(max_retries=5, retry_on=(SMTPError,)))
        @task
        def send_email(self, to: str) -> None: ...

    with dispatch_options(countdown=30, priority=9):
        handler.send_email("a@example.com")
"""

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from datetime import datetime
from types import MappingProxyType
from typing import cast

from spakky.core.common.annotation import FunctionAnnotation

from spakky.dispatch.core.error import InvalidDispatchOptionsError
from spakky.dispatch.core.message import DEFAULT_OPTIONS, DispatchOptions
from spakky.dispatch.core.schedule import NO_ARGUMENTS, ScheduledCall


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How the worker retries a task whose method raises one of ``retry_on``."""

    max_retries: int = 3
    """Retries after the first attempt; then the task fails with the error."""

    backoff: float = 1.0
    """Delay before the first retry, in seconds; doubled for each further one."""

    backoff_max: float = 600.0
    """Upper bound of one delay, in seconds."""

    jitter: bool = True
    """Whether each delay is drawn uniformly from ``[0, delay]`` (full jitter)."""

    retry_on: tuple[type[BaseException], ...] = (Exception,)
    """Exception types that cause a retry; others fail the task at once."""

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff < 0 or self.backoff_max < 0:
            raise InvalidDispatchOptionsError(
                f"RetryPolicy needs non-negative max_retries, backoff and "
                f"backoff_max, got {self.max_retries}, {self.backoff}, "
                f"{self.backoff_max}"
            )
        if not self.retry_on or not all(
            isinstance(kind, type) and issubclass(kind, BaseException)
            for kind in self.retry_on
        ):
            raise InvalidDispatchOptionsError(
                f"RetryPolicy.retry_on must be exception classes, got {self.retry_on!r}"
            )

    def delay(self, retries: int, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retries + 1``."""
        ceiling = min(self.backoff * 2.0**retries, self.backoff_max)
        return ceiling * draw() if self.jitter else ceiling


@dataclass
class TaskOptions(FunctionAnnotation):
    """Options declared on a ``@task`` method, read once at registration."""

    dispatch: DispatchOptions = DEFAULT_OPTIONS
    """Delivery options of every call."""

    retry: RetryPolicy | None = None
    """Worker-side retry policy; None never retries on exceptions."""


def task_options[T: Callable[..., object]](
    *,
    queue: str | None = None,
    routing_key: str | None = None,
    priority: int | None = None,
    countdown: float | None = None,
    expires: float | datetime | None = None,
    time_limit: float | None = None,
    soft_time_limit: float | None = None,
    ignore_result: bool | None = None,
    retry: RetryPolicy | None = None,
) -> Callable[[T], T]:
    """Declare the dispatch options and retry policy of a ``@task`` method.

    Raises:
        InvalidDispatchOptionsError: The options contradict each other.
    """
    dispatch = DispatchOptions(
        queue=queue,
        routing_key=routing_key,
        priority=priority,
        countdown=countdown,
        expires=expires,
        time_limit=time_limit,
        soft_time_limit=soft_time_limit,
        ignore_result=ignore_result,
    )
    validate_options(dispatch, where="@task_options")
    return cast(Callable[[T], T], TaskOptions(dispatch=dispatch, retry=retry))


@dataclass
class ScheduleOptions(FunctionAnnotation):
    """What a ``@schedule`` method's periodic runs send, read once at registration."""

    call: ScheduledCall = NO_ARGUMENTS
    """Arguments and delivery options of every scheduled run."""


def schedule_options[T: Callable[..., object]](
    *,
    args: tuple[object, ...] = (),
    kwargs: Mapping[str, object] | None = None,
    queue: str | None = None,
    routing_key: str | None = None,
    priority: int | None = None,
    expires: float | None = None,
    time_limit: float | None = None,
    soft_time_limit: float | None = None,
    ignore_result: bool | None = None,
) -> Callable[[T], T]:
    """Declare the arguments and delivery options of a ``@schedule`` method's runs.

    The options apply on top of the task's ``@task_options``; ``expires``
    counts from each run. At startup the registrar checks that the arguments
    fit the method and that the transport can carry them.

    Example::

        @schedule(at=time(2, 0))
        @schedule_options(kwargs={"region": "eu"}, queue="reports", expires=3600)
        @task
        def nightly_report(self, region: str = "all") -> None: ...

    Raises:
        InvalidDispatchOptionsError: The options contradict each other.
    """
    if not isinstance(args, tuple):
        raise InvalidDispatchOptionsError(
            f"@schedule_options: args must be a tuple, got {type(args).__name__}"
        )
    options = DispatchOptions(
        queue=queue,
        routing_key=routing_key,
        priority=priority,
        expires=expires,
        time_limit=time_limit,
        soft_time_limit=soft_time_limit,
        ignore_result=ignore_result,
    )
    validate_options(options, where="@schedule_options")
    call = ScheduledCall(
        args=args,
        kwargs=MappingProxyType(dict(kwargs or {})),
        options=options,
    )
    return cast(Callable[[T], T], ScheduleOptions(call=call))


_CALL_OPTIONS: ContextVar[DispatchOptions | None] = ContextVar(
    "spakky.dispatch.call_options", default=None
)


@contextmanager
def dispatch_options(
    *,
    queue: str | None = None,
    routing_key: str | None = None,
    priority: int | None = None,
    countdown: float | None = None,
    eta: datetime | None = None,
    expires: float | datetime | None = None,
    time_limit: float | None = None,
    soft_time_limit: float | None = None,
    ignore_result: bool | None = None,
) -> Iterator[DispatchOptions]:
    """Override the declared options of every dispatch inside the block.

    Blocks nest; an inner block's values win. Options left ``None`` keep the
    declared (or outer) value.
    """
    override = DispatchOptions(
        queue=queue,
        routing_key=routing_key,
        priority=priority,
        countdown=countdown,
        eta=eta,
        expires=expires,
        time_limit=time_limit,
        soft_time_limit=soft_time_limit,
        ignore_result=ignore_result,
    )
    outer = _CALL_OPTIONS.get()
    merged = override if outer is None else merge_options(outer, override)
    token = _CALL_OPTIONS.set(merged)
    try:
        yield merged
    finally:
        _CALL_OPTIONS.reset(token)


def call_options() -> DispatchOptions | None:
    """The per-call override active in this context, if any."""
    return _CALL_OPTIONS.get()


_FIELDS = tuple(f.name for f in fields(DispatchOptions))


def merge_options(base: DispatchOptions, override: DispatchOptions) -> DispatchOptions:
    """``base`` with every non-None field of ``override`` applied.

    An ``eta`` in the override replaces a declared ``countdown`` and vice versa,
    since they say the same thing two ways.
    """
    changes = {
        name: value
        for name in _FIELDS
        if (value := getattr(override, name)) is not None
    }
    if not changes:
        return base
    if "eta" in changes and "countdown" not in changes:
        changes["countdown"] = None
    if "countdown" in changes and "eta" not in changes:
        changes["eta"] = None
    return replace(base, **changes)


def validate_options(options: DispatchOptions, *, where: str) -> None:
    """Refuse contradictory or out-of-range options.

    Raises:
        InvalidDispatchOptionsError: Says which option is wrong and why.
    """
    problem = _problem(options)
    if problem is not None:
        raise InvalidDispatchOptionsError(f"{where}: {problem}")


def _problem(options: DispatchOptions) -> str | None:
    if options.eta is not None and options.countdown is not None:
        return "give either eta or countdown, not both"
    if options.countdown is not None and options.countdown < 0:
        return f"countdown must be >= 0, got {options.countdown}"
    if options.eta is not None and options.eta.tzinfo is None:
        return f"eta must be timezone-aware, got naive {options.eta.isoformat()}"
    if isinstance(options.expires, (int, float)) and options.expires <= 0:
        return f"expires must be > 0 seconds, got {options.expires}"
    if options.priority is not None and not 0 <= options.priority <= 255:
        return f"priority must be within 0-255, got {options.priority}"
    for name in ("time_limit", "soft_time_limit"):
        value = getattr(options, name)
        if value is not None and value <= 0:
            return f"{name} must be > 0 seconds, got {value}"
    if (
        options.time_limit is not None
        and options.soft_time_limit is not None
        and options.soft_time_limit >= options.time_limit
    ):
        return "soft_time_limit must be below time_limit"
    if options.queue is not None and not options.queue:
        return "queue must not be empty"
    return None
