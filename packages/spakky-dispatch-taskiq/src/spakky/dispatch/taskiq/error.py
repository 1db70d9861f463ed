"""Errors raised by the taskiq adapter; the others are the core's."""

from spakky.dispatch.core.adapter import (
    AbstractSpakkyDispatchError,
    TaskDispatchError,
    TaskRefusedError,
    TaskResultError,
)


class UnsupportedDispatchOptionError(TaskDispatchError):
    """A dispatch option the taskiq transport cannot honour."""

    message = (
        "The taskiq transport cannot honour this dispatch option, so nothing was "
        "sent; remove the option (or the @task_options entry) for this transport"
    )


class BrokerLoopBlockedError(TaskDispatchError, TaskResultError):
    """A blocking call was made on the event loop that runs the taskiq broker."""

    message = (
        "A blocking dispatch or result read was made on the event loop that runs "
        "the taskiq broker, which would wait for itself forever; await it instead "
        "(dispatcher.dispatch_async(...), result.get_async()), or, outside a "
        "worker, set SPAKKY_TASKIQ__BROKER_LOOP=own to keep the broker on a loop "
        "thread of its own"
    )


class BrokerLoopStoppedError(TaskDispatchError, TaskResultError):
    """The taskiq broker lives on a caller's event loop that is not running."""

    message = (
        "The taskiq broker lives on the event loop of the awaited call that "
        "started it, and that loop is not running (stopped without being "
        "closed), so nothing can reach the broker; make the call on that loop "
        "while it runs, close the loop (asyncio.run does) so the next call starts "
        "the broker again, or set SPAKKY_TASKIQ__BROKER_LOOP=own"
    )


class TaskExpiredError(AbstractSpakkyDispatchError):
    """The task reached a worker after its ``expires`` time and did not run."""

    message = "The task expired before a worker ran it, so it did not run"


class TaskArgumentsMismatchError(TaskRefusedError):
    """A received message's arguments do not fit the task method's parameters.

    A refusal: the worker logs it as an expected outcome, in one line.
    """

    message = (
        "The message's arguments do not fit the task method's parameters, so the "
        "task did not run; was it sent by an older or newer version of the handler?"
    )


class DeliveryRefusedError(TaskRefusedError):
    """A received message was refused before it ran, and dead-lettered."""

    message = (
        "The worker refused the message before running it and moved it to the "
        "queue's dead letters"
    )


class TaskResultNotSerializableError(AbstractSpakkyDispatchError):
    """The task returned a value the result backend cannot store."""

    message = (
        "The task ran but its return value cannot be stored as JSON; return plain "
        "data (str, int, float, bool, None, list, dict)"
    )
