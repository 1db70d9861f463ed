"""Dispatch options: declaration, per-call override, validation, retry policy."""

from datetime import UTC, datetime, timedelta

import pytest
from spakky.task import TaskHandler, task

from spakky.dispatch.core import (
    DispatchOptions,
    InvalidDispatchOptionsError,
    RetryableTaskError,
    RetryPolicy,
    dispatch_options,
    task_options,
)
from spakky.dispatch.core.adapter import DEFAULT_OPTIONS
from spakky.dispatch.core.options import call_options, merge_options, validate_options

from .dispatch_core_support import running_app

ETA = datetime(2030, 1, 1, tzinfo=UTC)


class FlakyError(Exception):
    """Retried by the policy below."""


@TaskHandler()
class OptionTasks:
    """Tasks declaring options."""

    def __init__(self) -> None:
        self.attempts = 0

    @task_options(queue="mail", priority=5, countdown=2.0, time_limit=30.0)
    @task
    def send(self, to: str) -> str:
        return to

    @task
    @task_options(
        retry=RetryPolicy(
            max_retries=4, backoff=2.0, jitter=False, retry_on=(FlakyError,)
        )
    )
    def flaky(self, kind: str) -> str:
        self.attempts += 1
        if kind == "flaky":
            raise FlakyError("try again")
        if kind == "other":
            raise KeyError("no retry for this")
        return "ok"

    @task
    @task_options(
        retry=RetryPolicy(
            max_retries=2, backoff=1.0, jitter=False, retry_on=(FlakyError,)
        )
    )
    async def aflaky(self, kind: str) -> str:
        if kind == "flaky":
            raise FlakyError("try again")
        return "ok"

    @task
    def plain(self) -> None: ...


def test_declared_options_expect_on_binding_and_message() -> None:
    """``@task_options`` (either side of ``@task``) is read once into the binding."""
    with running_app(OptionTasks) as app:
        handler = app.get(OptionTasks)
        binding = app.dispatcher.binding_of(handler.send)
        message = app.dispatcher.message(binding, ("a",), {})
        flaky = app.dispatcher.binding_of(handler.flaky)
        plain = app.dispatcher.binding_of(handler.plain)
    expected = DispatchOptions(queue="mail", priority=5, countdown=2.0, time_limit=30.0)
    assert binding.options == expected
    assert message.options == expected
    assert flaky.retry is not None
    assert flaky.retry.max_retries == 4
    assert plain.options is DEFAULT_OPTIONS
    assert plain.retry is None


def test_call_override_expect_merged_and_restored() -> None:
    """A ``dispatch_options`` block overrides declared values, then ends."""
    with running_app(OptionTasks) as app:
        binding = app.dispatcher.binding_of(app.get(OptionTasks).send)
        with dispatch_options(queue="urgent", eta=ETA):
            inside = app.dispatcher.message(binding, ("a",), {})
        after = app.dispatcher.message(binding, ("a",), {})
    assert inside.options.queue == "urgent"
    assert inside.options.eta == ETA
    assert inside.options.countdown is None  # eta replaced the declared countdown
    assert inside.options.priority == 5
    assert after.options == binding.options
    assert call_options() is None


def test_nested_overrides_expect_inner_wins() -> None:
    """Inner blocks win, outer values stay for what the inner leaves alone."""
    with dispatch_options(queue="a", priority=1), dispatch_options(priority=9) as inner:
        assert inner == DispatchOptions(queue="a", priority=9)
        assert call_options() == inner
    assert call_options() is None


def test_call_override_contradiction_expect_error_at_call_site() -> None:
    """An override that contradicts itself fails before anything is sent."""
    with running_app(OptionTasks) as app:
        handler = app.get(OptionTasks)
        binding = app.dispatcher.binding_of(handler.send)
        with (
            dispatch_options(countdown=-1),
            pytest.raises(
                InvalidDispatchOptionsError,
                match=r"OptionTasks\.send: countdown must be >= 0",
            ),
        ):
            app.dispatcher.message(binding, ("a",), {})
        assert app.sender.messages == []


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (DispatchOptions(eta=ETA, countdown=1), "either eta or countdown"),
        (DispatchOptions(countdown=-0.5), "countdown must be >= 0"),
        (DispatchOptions(eta=datetime(2030, 1, 1)), "eta must be timezone-aware"),
        (DispatchOptions(expires=0), "expires must be > 0"),
        (DispatchOptions(priority=256), "priority must be within 0-255"),
        (DispatchOptions(time_limit=0), "time_limit must be > 0"),
        (DispatchOptions(soft_time_limit=-1), "soft_time_limit must be > 0"),
        (
            DispatchOptions(time_limit=5, soft_time_limit=5),
            "soft_time_limit must be below",
        ),
        (DispatchOptions(queue=""), "queue must not be empty"),
    ],
)
def test_validate_invalid_expect_error_naming_problem(
    options: DispatchOptions, problem: str
) -> None:
    """Each contradiction or out-of-range value is named."""
    with pytest.raises(InvalidDispatchOptionsError, match=problem):
        validate_options(options, where="t")


def test_validate_valid_expect_no_error() -> None:
    """Consistent options pass, including an absolute expiry."""
    validate_options(
        DispatchOptions(eta=ETA, expires=ETA + timedelta(hours=1), priority=0),
        where="t",
    )


def test_task_options_invalid_expect_error_at_decoration() -> None:
    """A bad declaration fails where it is written."""
    with pytest.raises(InvalidDispatchOptionsError, match="@task_options: priority"):
        task_options(priority=-1)


def test_merge_countdown_replaces_eta_expect_eta_cleared() -> None:
    """A countdown override clears a declared eta, and no override keeps base."""
    base = DispatchOptions(eta=ETA, queue="q")
    merged = merge_options(base, DispatchOptions(countdown=3))
    assert (merged.countdown, merged.eta, merged.queue) == (3, None, "q")
    assert merge_options(base, DispatchOptions()) is base


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"backoff": -1.0},
        {"backoff_max": -1.0},
        {"retry_on": ()},
        {"retry_on": (ValueError, "nope")},
    ],
)
def test_retry_policy_invalid_expect_error(kwargs: dict[str, object]) -> None:
    """Negative numbers and non-exception retry_on are refused."""
    with pytest.raises(InvalidDispatchOptionsError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_retry_policy_delay_expect_exponential_capped_and_jittered() -> None:
    """Delays double per retry, stop at backoff_max, and jitter scales them."""
    policy = RetryPolicy(backoff=1.5, backoff_max=5.0, jitter=False)
    assert [policy.delay(n) for n in range(4)] == [1.5, 3.0, 5.0, 5.0]
    jittered = RetryPolicy(backoff=2.0, jitter=True)
    assert jittered.delay(1, draw=lambda: 0.25) == 1.0
    assert 0.0 <= jittered.delay(3) <= 16.0


def test_invoker_retry_policy_expect_retryable_error_with_delay() -> None:
    """An error the policy covers becomes a RetryableTaskError for the transport."""
    with running_app(OptionTasks) as app:
        name = app.dispatcher.binding_of(app.get(OptionTasks).flaky).name
        with pytest.raises(RetryableTaskError) as raised:
            app.invoker.invoke(name, ("flaky",), retries=2)
        with pytest.raises(KeyError):
            app.invoker.invoke(name, ("other",), retries=0)
        assert app.invoker.invoke(name, ("fine",)) == "ok"
    error = raised.value
    assert (error.delay, error.max_retries) == (8.0, 4)
    assert isinstance(error.final_error, FlakyError)
    assert isinstance(error.__cause__, FlakyError)
    assert "raised FlakyError: try again" in str(error)


def test_invoker_async_retry_policy_expect_retryable_error() -> None:
    """invoke_async applies the retry policy too."""
    import asyncio

    with running_app(OptionTasks) as app:
        name = app.dispatcher.binding_of(app.get(OptionTasks).flaky).name
        with pytest.raises(RetryableTaskError):
            asyncio.run(app.invoker.invoke_async(name, ("flaky",), retries=0))
        with pytest.raises(KeyError):
            asyncio.run(app.invoker.invoke_async(name, ("other",), retries=0))


def test_invoker_jittered_delay_expect_whole_milliseconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A jittered delay reaches the transport (and its log lines) in milliseconds."""
    monkeypatch.setattr(
        RetryPolicy, "delay", lambda self, retries, draw=None: 0.28124472801122957
    )
    with running_app(OptionTasks) as app:
        name = app.dispatcher.binding_of(app.get(OptionTasks).flaky).name
        with pytest.raises(RetryableTaskError) as raised:
            app.invoker.invoke(name, ("flaky",), retries=0)
    assert raised.value.delay == 0.281


def test_invoker_sync_invoke_of_async_task_with_retry_policy_expect_retryable() -> None:
    """``invoke`` of an async task applies its retry policy on the runner's loop."""
    with running_app(OptionTasks) as app:
        name = app.dispatcher.binding_of(app.get(OptionTasks).aflaky).name
        with pytest.raises(RetryableTaskError) as raised:
            app.invoker.invoke(name, ("flaky",), retries=1)
        assert app.invoker.invoke(name, ("fine",)) == "ok"
    assert (raised.value.delay, raised.value.max_retries) == (2.0, 2)
