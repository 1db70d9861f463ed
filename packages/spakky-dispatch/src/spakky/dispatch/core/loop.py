"""A long-lived event loop per process for running async tasks from sync workers."""

import asyncio
import os
import threading
import weakref
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any

from spakky.dispatch.core.error import AbstractSpakkyDispatchError

_running_loop = asyncio._get_running_loop  # in asyncio.events.__all__
"""The loop running on the calling thread, or None; unlike ``get_running_loop``
it raises nothing when there is none (the common case here)."""


class EventLoopReentryError(AbstractSpakkyDispatchError):
    """A coroutine was submitted from inside the runner's own loop."""

    message = (
        "An async task was run synchronously from inside the worker event loop; "
        "await it instead"
    )


_RUNNERS: "weakref.WeakSet[EventLoopRunner]" = weakref.WeakSet()
"""Every runner of the process, so a forked child can replace their locks."""


def _after_fork_in_child() -> None:
    """A lock held by a thread of the parent is never released in the child."""
    for runner in list(_RUNNERS):
        runner._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


class EventLoopRunner:
    """Runs coroutines on one event loop that lives as long as the process.

    Resources bound to a loop (async connection pools, clients) created by one
    task stay usable by the next: every coroutine runs on the same loop object.
    After ``fork`` the child gets its own loop.

    Who drives the loop: while calls of ``run`` do not overlap (a solo or a
    prefork worker, one task at a time on one thread), the calling thread
    drives the loop itself (``run_until_complete``), with no hop to another
    thread and back. The first time a call overlaps one in progress (a threads
    pool running two async tasks at once), comes from a thread that runs an
    event loop of its own, or someone asks for ``loop`` (to submit to it with
    ``asyncio.run_coroutine_threadsafe``), the loop moves to a thread of its
    own for good and every later call hands its coroutine to that thread. The
    loop is the same object in both modes. Between two tasks driven by their
    caller the loop does not run: work a task leaves behind on the loop (a task
    it created without awaiting it, a pool's keep-alive timer) resumes during
    the next async task; ask for ``loop`` at start-up to keep the loop running
    on its own thread.
    """

    _lock: threading.Lock
    _loop: asyncio.AbstractEventLoop | None
    _thread: threading.Thread | None
    _pid: int | None
    _driver: threading.Thread | None
    _promote: bool

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None
        self._pid = None
        self._driver = None
        self._promote = False
        _RUNNERS.add(self)

    def run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the process's loop and return its result.

        Raises:
            EventLoopReentryError: Called from inside the process's loop.
        """
        running = _running_loop()
        with self._lock:
            loop = self._current()
            if running is loop:
                coroutine.close()
                raise EventLoopReentryError()
            if running is None and self._thread is None and self._driver is None:
                self._driver = threading.current_thread()
                future: Future[T] | None = None
            else:
                future = self._submit(coroutine, loop)
        if future is not None:
            return future.result()
        try:
            return loop.run_until_complete(coroutine)
        finally:
            self._release(loop)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The process's loop, running on its own thread from now on.

        It is started on first use, and moves to its own thread (when the
        caller of a ``run`` drives it, once that call returns) so that
        coroutines submitted with ``asyncio.run_coroutine_threadsafe`` run.
        """
        with self._lock:
            loop = self._current()
            if self._thread is None:
                if self._driver is None:
                    self._serve(loop)
                else:
                    self._promote = True
            return loop

    @property
    def on_own_thread(self) -> bool:
        """Whether the loop runs on a thread of its own (see the class)."""
        return self._thread is not None and self._pid == os.getpid()

    def close(self) -> None:
        """Stop the loop and join its thread (for shutdown and tests).

        A loop its caller is driving is closed when that call returns.
        """
        with self._lock:
            loop, thread, driver = self._loop, self._thread, self._driver
            self._loop = self._thread = self._pid = self._driver = None
            self._promote = False
        if loop is None or driver is not None:
            return
        if thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
        loop.close()

    def _current(self) -> asyncio.AbstractEventLoop:
        """This process's loop, made on first use (the lock is held)."""
        loop, pid = self._loop, os.getpid()
        if loop is None or self._pid != pid:
            loop = self._loop = asyncio.new_event_loop()
            self._pid, self._thread, self._driver = pid, None, None
            self._promote = False
        return loop

    def _submit[T](
        self, coroutine: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop
    ) -> "Future[T]":
        """Hand ``coroutine`` to the loop's own thread (the lock is held).

        When a caller is driving the loop, the coroutine starts on it at once
        and the loop moves to its own thread when that caller is done.
        """
        if self._thread is None:
            if self._driver is None:
                self._serve(loop)
            else:
                self._promote = True
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        """The calling thread is done driving ``loop``."""
        with self._lock:
            if loop is self._loop and self._pid == os.getpid():
                self._driver = None
                if self._promote:
                    self._promote = False
                    self._serve(loop)
                return
        loop.close()  # closed meanwhile (``close``), or a forked child's copy

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run ``loop`` forever on a thread of its own (the lock is held)."""
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(
            target=serve, name="spakky-dispatch-event-loop", daemon=True
        )
        thread.start()
        ready.wait()
        self._thread = thread
