"""The core's errors: one root, a class-level message, optional detail, picklable."""

import pickle

import pytest
from spakky.core.common.error import AbstractSpakkyFrameworkError

from spakky.dispatch.core import (
    AbstractSpakkyDispatchError,
    BrokerConfigurationError,
    BrokerRejectedError,
    BrokerUnavailableError,
    InvalidDispatchOptionsError,
    InvalidScheduleRouteError,
    InvalidSettingsError,
    InvalidTaskDefinitionError,
    PublishUnconfirmedError,
    ResultBackendNotConfiguredError,
    ResultBackendUnavailableError,
    RetryableTaskError,
    TaskArgumentSerializationError,
    TaskArgumentsError,
    TaskDispatchError,
    TaskNotRegisteredError,
    TaskRefusedError,
    TaskResultError,
    TaskResultTimeoutError,
    WaitInsideTaskError,
)
from spakky.dispatch.core.adapter import (
    DuplicateTaskNameError,
    EventLoopReentryError,
    HeaderBudgetExceededError,
    HeaderPropagationError,
    InvokerNotReadyError,
    ReservedHeaderError,
    ResultLookupUnsupportedError,
    TransportConflictError,
)
from spakky.dispatch.core.testing import TaskNotDispatchedError, TaskNotRunError

CONCRETE_ERRORS: list[type[AbstractSpakkyDispatchError]] = [
    BrokerConfigurationError,
    BrokerRejectedError,
    BrokerUnavailableError,
    HeaderBudgetExceededError,
    InvalidDispatchOptionsError,
    InvalidSettingsError,
    PublishUnconfirmedError,
    ReservedHeaderError,
    ResultBackendUnavailableError,
    ResultLookupUnsupportedError,
    TaskArgumentsError,
    TaskNotDispatchedError,
    TaskRefusedError,
    TransportConflictError,
    WaitInsideTaskError,
    DuplicateTaskNameError,
    EventLoopReentryError,
    HeaderPropagationError,
    InvalidScheduleRouteError,
    InvalidTaskDefinitionError,
    InvokerNotReadyError,
    ResultBackendNotConfiguredError,
    RetryableTaskError,
    TaskArgumentSerializationError,
    TaskDispatchError,
    TaskNotRegisteredError,
    TaskNotRunError,
    TaskResultError,
    TaskResultTimeoutError,
]


class ReportFailedError(RetryableTaskError):
    """A user's own retryable error."""

    message = "Report generation failed"


@pytest.mark.parametrize("error_type", CONCRETE_ERRORS, ids=lambda t: t.__name__)
def test_error_without_detail_expect_class_message_only(
    error_type: type[AbstractSpakkyDispatchError],
) -> None:
    """Without detail the text is exactly the class-level message."""
    error = error_type()
    assert str(error) == error_type.message
    assert error.detail is None
    assert isinstance(error, AbstractSpakkyFrameworkError)


@pytest.mark.parametrize("error_type", CONCRETE_ERRORS, ids=lambda t: t.__name__)
def test_error_with_detail_expect_message_colon_detail(
    error_type: type[AbstractSpakkyDispatchError],
) -> None:
    """Detail is appended to the class message after a colon and kept as is."""
    error = error_type("mod.Cls.meth")
    assert str(error) == f"{error_type.message}: mod.Cls.meth"
    assert error.detail == "mod.Cls.meth"


@pytest.mark.parametrize("error_type", CONCRETE_ERRORS, ids=lambda t: t.__name__)
def test_error_message_expect_own_non_empty_text(
    error_type: type[AbstractSpakkyDispatchError],
) -> None:
    """Every concrete error says something of its own, not the root's default."""
    assert error_type.message
    assert error_type.message != AbstractSpakkyDispatchError.message


def test_error_hierarchy_expect_transport_and_result_bases() -> None:
    """Dispatch and result errors can be caught by their family."""
    assert issubclass(BrokerUnavailableError, TaskDispatchError)
    assert issubclass(TaskArgumentSerializationError, TaskDispatchError)
    assert issubclass(ResultBackendNotConfiguredError, TaskResultError)
    assert issubclass(TaskResultTimeoutError, TaskResultError)
    assert issubclass(TaskNotRunError, TaskResultError)
    assert issubclass(PublishUnconfirmedError, BrokerUnavailableError)
    assert issubclass(BrokerRejectedError, TaskDispatchError)
    assert issubclass(ReservedHeaderError, TaskDispatchError)
    assert issubclass(ResultBackendUnavailableError, TaskResultError)


@pytest.mark.parametrize("error_type", CONCRETE_ERRORS, ids=lambda t: t.__name__)
def test_error_message_expect_no_transport_named(
    error_type: type[AbstractSpakkyDispatchError],
) -> None:
    """The core's messages fit every transport: no transport's words or variables."""
    for word in ("celery", "taskiq", "SPAKKY_CELERY", "SPAKKY_TASKIQ"):
        assert word.lower() not in error_type.message.lower()


@pytest.mark.parametrize("error_type", CONCRETE_ERRORS, ids=lambda t: t.__name__)
def test_error_pickle_each_expect_same_class_text_and_detail(
    error_type: type[AbstractSpakkyDispatchError],
) -> None:
    """Every error survives pickling, and rebuilding from its args, as itself."""
    error = error_type("detail")
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is error_type
    assert str(restored) == str(error)
    assert str(type(error)(*error.args)) == str(error)


def test_retryable_error_defaults_expect_one_second_three_retries() -> None:
    """A retryable error asks for a retry after 1s, at most 3 times, by default."""
    error = RetryableTaskError()
    assert (error.delay, error.max_retries) == (1.0, 3)


def test_retryable_error_pickle_expect_detail_delay_and_retries_kept() -> None:
    """Crossing a process boundary keeps detail, delay and max_retries."""
    error = RetryableTaskError("db locked", delay=2.5, max_retries=7)
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is RetryableTaskError
    assert restored.detail == "db locked"
    assert (restored.delay, restored.max_retries) == (2.5, 7)
    assert str(restored) == str(error)


def test_retryable_subclass_pickle_expect_subclass_and_message_kept() -> None:
    """A user's subclass survives pickling as itself, with its own message."""
    error = ReportFailedError(delay=0.5, max_retries=1)
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is ReportFailedError
    assert restored.detail is None
    assert str(restored) == "Report generation failed"
    assert (restored.delay, restored.max_retries) == (0.5, 1)


@pytest.mark.parametrize(
    "error",
    [TaskNotRegisteredError("mod.Cls.meth"), InvokerNotReadyError()],
    ids=["with-detail", "without-detail"],
)
def test_error_pickle_expect_same_text_and_detail(
    error: AbstractSpakkyDispatchError,
) -> None:
    """A plain dispatch error pickled across processes reads the same."""
    restored = pickle.loads(pickle.dumps(error))
    assert str(restored) == str(error)
    assert restored.detail == error.detail


def test_error_rebuilt_from_args_expect_same_text() -> None:
    """An error rebuilt from its args, as a result backend does, reads the same."""
    error = TaskNotRegisteredError("mod.Cls.meth")
    rebuilt = type(error)(*error.args)
    assert str(rebuilt) == str(error)
