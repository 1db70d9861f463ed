"""Errors raised by the dispatch core.

Every error carries a class-level ``message`` saying what went wrong and what to
do; instances may add detail through ``str(error)``.
"""

from abc import ABC
from typing import ClassVar

from spakky.core.common.error import AbstractSpakkyFrameworkError


class AbstractSpakkyDispatchError(AbstractSpakkyFrameworkError, ABC):
    """Root of every error raised by spakky-dispatch and its adapters."""

    message: ClassVar[str] = "Task dispatch failed"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        # args hold only the detail, so ``type(e)(*e.args)`` (pickle, result
        # backends that store an error as its class and args) rebuilds it.
        super().__init__(*(() if detail is None else (detail,)))

    def __str__(self) -> str:
        if self.detail is None:
            return self.message
        return f"{self.message}: {self.detail}"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.detail,))


class InvalidScheduleRouteError(AbstractSpakkyDispatchError):
    """A ``@schedule`` route carries no usable schedule specification."""

    message = "ScheduleRoute has no valid schedule specification"


class InvalidTaskDefinitionError(AbstractSpakkyDispatchError):
    """A ``@TaskHandler`` method cannot be registered as a task."""

    message = "Task definition is invalid"


class DuplicateTaskNameError(AbstractSpakkyDispatchError):
    """Two registrations resolve to the same task name."""

    message = "Two tasks resolve to the same task name; rename one handler or method"


class TaskNotRegisteredError(AbstractSpakkyDispatchError):
    """A task name or method is not known to this application."""

    message = (
        "Task is not registered in this application; make sure its handler is a "
        "@TaskHandler that the application scanned"
    )


class HeaderPropagationError(AbstractSpakkyDispatchError):
    """A header propagator wrote a header it does not own, or a reserved one."""

    message = "Header propagation failed"


class TaskDispatchError(AbstractSpakkyDispatchError):
    """Base for errors raised while handing a task to a transport."""

    message = "Task could not be dispatched"


class TaskArgumentSerializationError(TaskDispatchError):
    """An argument of the call cannot be carried by the configured serializer."""

    message = (
        "Task arguments cannot be serialized; pass plain data (str, int, float, "
        "bool, None, list, dict) or configure a serializer that carries this type"
    )


class TaskArgumentsError(TaskDispatchError, TypeError):
    """A ``@task`` call does not bind to its method's signature.

    Raised where the call is made, before anything is sent; it is a
    ``TypeError``, as the same call of a plain method would raise.
    """

    message = (
        "The call does not match the task method's signature, so nothing was "
        "sent; call it as you would call the method itself"
    )


class HeaderBudgetExceededError(TaskDispatchError):
    """The propagation headers of one message are larger than the transport allows."""

    message = (
        "Propagation headers exceed their size budget, so nothing was sent; carry "
        "less context in headers (e.g. fewer claims in the auth snapshot) or raise "
        "the transport's header budget (the detail names its setting)"
    )


class ReservedHeaderError(TaskDispatchError):
    """A propagation header uses a name the transport reserves for itself."""

    message = (
        "A propagation header uses a name that the transport's message protocol "
        "reserves, so nothing was sent; rename the propagator's header"
    )


class BrokerUnavailableError(TaskDispatchError):
    """The broker could not be reached within the configured time."""

    message = (
        "Broker is unreachable; check the broker URL and that the broker is running"
    )


class BrokerConfigurationError(TaskDispatchError):
    """The broker refused the connection because of how it is configured.

    Wrong credentials, an unknown virtual host or a database index the broker
    does not have: retrying cannot help, the URL must change. The detail names
    the setting to fix.
    """

    message = (
        "The broker refused the connection because of its configuration, so "
        "nothing was sent; fix the broker URL (user and password, virtual host "
        "or database index)"
    )


class BrokerRejectedError(TaskDispatchError):
    """The broker received the message but refused it; it will not run."""

    message = (
        "The broker refused the message, so it was not queued; check the queue's "
        "limits and arguments and the broker's alarms (disk, memory)"
    )


class PublishUnconfirmedError(BrokerUnavailableError):
    """The broker stopped answering mid-publish: the message may or may not be queued."""

    message = (
        "The broker stopped answering after the message was written, so it may "
        "still be queued and the task may run; retry only an idempotent task, or "
        "check for the task's effect before sending it again"
    )


class InvalidSettingsError(AbstractSpakkyDispatchError):
    """Settings read from the environment are missing or invalid.

    The detail names every variable at fault and what is wrong with it, never
    the value given (it may be a password or a key).
    """

    message = "Settings are invalid; fix the environment variables named here"


class TransportConflictError(AbstractSpakkyDispatchError):
    """Two transport plugins were loaded into one application."""

    message = (
        "More than one task transport is loaded into this application; load one "
        "transport plugin, e.g. load_plugins(include={<plugin>.PLUGIN_NAME}) "
        "instead of load_plugins()"
    )


class TaskResultError(AbstractSpakkyDispatchError):
    """Base for errors raised by a task result handle."""

    message = "Task result is unavailable"


class ResultBackendNotConfiguredError(TaskResultError):
    """A caller asked for a result but no result backend is configured."""

    message = (
        "No result backend is configured, so task results are not stored; set "
        "the transport's result backend (the detail names its setting) to read "
        "results"
    )


class ResultBackendUnavailableError(TaskResultError):
    """The result backend could not be read within the configured time."""

    message = (
        "The result backend is unreachable, so the task's state is unknown; check "
        "the result backend's URL and that it is running, then ask again (the "
        "task itself may still run)"
    )


class ResultLookupUnsupportedError(TaskResultError):
    """The transport cannot give a result handle for a task id it did not just send."""

    message = (
        "This task sender cannot look a task's result up by its id; use the "
        "handle its send() returned"
    )


class TaskResultTimeoutError(TaskResultError, TimeoutError):
    """The task did not finish within the time the caller allowed.

    A ``TimeoutError``, so code written for timeouts in general catches it.
    """

    message = "Task did not finish in time"


class WaitInsideTaskError(TaskResultError, RuntimeError):
    """A running task waited for another task's result.

    The waiting task holds its worker slot while the task it waits for needs
    one: on a solo or busy pool that is a deadlock until the timeout. It is a
    ``RuntimeError``, raised before any wait.
    """

    message = (
        "Waiting for a task's result inside a running task can deadlock the "
        "worker (the waiting task holds the slot the other task needs), so it "
        "is refused; return the task id or dispatch a follow-up task instead, "
        "or pass allow_inside_task=True when another worker pool surely runs it"
    )


class TaskRefusedError(AbstractSpakkyDispatchError):
    """A worker-side guard refused to run the task; its body never ran.

    An expected outcome of normal operation (an unauthorized caller, say),
    not a crash: transports report it to the caller as the task's error but
    log it as expected, without a traceback. Context adapters subclass it.
    """

    message = "The worker refused to run the task"


class RetryableTaskError(AbstractSpakkyDispatchError):
    """Raised inside a worker-side invocation to ask the transport for a retry.

    The transport re-delivers the task after ``delay`` seconds, at most
    ``max_retries`` times; after that the task fails with this error.
    """

    message = "Task failed with a retryable error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        delay: float = 1.0,
        max_retries: int = 3,
        final_error: Exception | None = None,
    ) -> None:
        super().__init__(detail)
        self.delay = delay
        self.max_retries = max_retries
        self.final_error = final_error
        """The error the task fails with once retries run out (default: this one)."""

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_retryable,
            (type(self), self.detail, self.delay, self.max_retries),
        )


def _rebuild_retryable(
    cls: type[RetryableTaskError], detail: str | None, delay: float, max_retries: int
) -> RetryableTaskError:
    return cls(detail, delay=delay, max_retries=max_retries)


class InvalidDispatchOptionsError(AbstractSpakkyDispatchError):
    """Dispatch options contradict each other or are out of range."""

    message = "Dispatch options are invalid"
