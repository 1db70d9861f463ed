"""``EventLoopRunner``: one long-lived event loop per process for async tasks."""

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from inspect import CORO_CLOSED, getcoroutinestate
from types import SimpleNamespace, TracebackType

import pytest

import spakky.dispatch.core.loop as loop_module
from spakky.dispatch.core.adapter import EventLoopReentryError, EventLoopRunner

THREAD_NAME = "spakky-dispatch-event-loop"


@pytest.fixture
def runner() -> Iterator[EventLoopRunner]:
    """A runner closed after the test."""
    runner = EventLoopRunner()
    yield runner
    runner.close()


def _loop_threads() -> int:
    return sum(thread.name == THREAD_NAME for thread in threading.enumerate())


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


async def _answer(value: int) -> int:
    await asyncio.sleep(0)
    return value


async def _current_loop_and_thread() -> tuple[asyncio.AbstractEventLoop, str]:
    return asyncio.get_running_loop(), threading.current_thread().name


async def _fail() -> None:
    raise ArithmeticError("inside the loop")


def test_runner_run_expect_coroutine_result(runner: EventLoopRunner) -> None:
    """``run`` returns what the coroutine returns."""
    assert runner.run(_answer(7)) == 7


def test_runner_run_failing_coroutine_expect_its_exception(
    runner: EventLoopRunner,
) -> None:
    """An exception raised in the coroutine reaches the caller unchanged."""
    with pytest.raises(ArithmeticError, match="inside the loop"):
        runner.run(_fail())


def test_runner_run_expect_same_loop_on_dedicated_thread(
    runner: EventLoopRunner,
) -> None:
    """Every coroutine runs on the one loop, on the runner's own thread."""
    first_loop, first_thread = runner.run(_current_loop_and_thread())
    second_loop, second_thread = runner.run(_current_loop_and_thread())
    assert first_loop is second_loop is runner.loop
    assert first_thread == second_thread == THREAD_NAME
    assert first_thread != threading.current_thread().name


def test_runner_loop_bound_resource_expect_usable_by_later_coroutine(
    runner: EventLoopRunner,
) -> None:
    """An object bound to the loop by one task works in the next one."""

    async def make_queue() -> asyncio.Queue[int]:
        return asyncio.Queue()

    async def use_queue(queue: asyncio.Queue[int]) -> int:
        await queue.put(5)
        return await queue.get()

    queue = runner.run(make_queue())
    assert runner.run(use_queue(queue)) == 5


def test_runner_run_from_several_threads_expect_one_loop(
    runner: EventLoopRunner,
) -> None:
    """Callers on several threads share the loop."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        loops = list(
            pool.map(lambda _: runner.run(_current_loop_and_thread())[0], range(8))
        )
    assert all(loop is runner.loop for loop in loops)


def test_runner_after_pid_change_expect_new_loop(
    runner: EventLoopRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a fork (a new pid) the child starts a loop of its own."""
    parent_loop, _ = runner.run(_current_loop_and_thread())
    parent_thread = runner._thread
    assert parent_thread is not None
    monkeypatch.setattr(
        loop_module, "os", SimpleNamespace(getpid=lambda: os.getpid() + 1)
    )
    try:
        child_loop, _ = runner.run(_current_loop_and_thread())
        assert child_loop is not parent_loop
        assert runner.run(_current_loop_and_thread())[0] is child_loop
        assert runner.loop is child_loop
    finally:
        _stop(parent_loop, parent_thread)


def test_runner_close_expect_thread_stopped_and_loop_closed(
    runner: EventLoopRunner,
) -> None:
    """``close`` stops the loop, joins its thread and closes the loop."""
    before = _loop_threads()
    loop = runner.loop
    thread = runner._thread
    assert thread is not None
    assert thread.is_alive()
    assert _loop_threads() == before + 1
    runner.close()
    assert not thread.is_alive()
    assert loop.is_closed()
    assert _loop_threads() == before


def test_runner_run_after_close_expect_fresh_loop(runner: EventLoopRunner) -> None:
    """A closed runner starts a new loop on next use."""
    old = runner.loop
    runner.close()
    new, _ = runner.run(_current_loop_and_thread())
    assert new is not old
    assert not new.is_closed()


def test_runner_close_never_started_expect_noop() -> None:
    """Closing a runner that never ran starts nothing and fails on nothing."""
    before = _loop_threads()
    runner = EventLoopRunner()
    runner.close()
    runner.close()
    assert _loop_threads() == before


def test_runner_reentry_from_loop_thread_expect_error_and_coroutine_closed(
    runner: EventLoopRunner,
) -> None:
    """Running synchronously from inside the loop is refused; the coroutine is closed."""

    async def reenter() -> tuple[str, str]:
        inner = _answer(1)
        try:
            runner.run(inner)
        except EventLoopReentryError as error:
            return str(error), getcoroutinestate(inner)
        return "no error", getcoroutinestate(inner)

    message, state = runner.run(reenter())
    assert "await it instead" in message
    assert state == CORO_CLOSED


class _SignallingLock:
    """A lock that says when someone starts waiting for it."""

    def __init__(self) -> None:
        self.inner = threading.Lock()
        self.waiting = threading.Event()

    def __enter__(self) -> "_SignallingLock":
        self.waiting.set()
        self.inner.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.inner.release()


def test_runner_concurrent_first_use_expect_single_loop_started(
    runner: EventLoopRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller that lost the race for the lock uses the loop the winner started."""
    lock = _SignallingLock()
    monkeypatch.setattr(runner, "_lock", lock)
    before = _loop_threads()
    lock.inner.acquire()
    with ThreadPoolExecutor(max_workers=1) as pool:
        late = pool.submit(lambda: runner.loop)
        assert lock.waiting.wait(timeout=10)
        # the winner starts the loop while the late caller waits for the lock
        runner._start(os.getpid())
        started = runner._loop
        lock.inner.release()
        assert late.result(timeout=10) is started
    assert _loop_threads() == before + 1
