"""A long-lived event loop per process for running async tasks from sync workers."""

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any

from spakky.dispatch.core.error import AbstractSpakkyDispatchError


class EventLoopReentryError(AbstractSpakkyDispatchError):
    """A coroutine was submitted from the runner's own loop thread."""

    message = (
        "An async task was run synchronously from inside the worker event loop; "
        "await it instead"
    )


class EventLoopRunner:
    """Runs coroutines on one event loop that lives as long as the process.

    Resources bound to a loop (async connection pools, clients) created by one
    task stay usable by the next. After ``fork`` the child gets its own loop.
    """

    _lock: threading.Lock
    _loop: asyncio.AbstractEventLoop | None
    _thread: threading.Thread | None
    _pid: int | None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop = None
        self._thread = None
        self._pid = None

    def run[T](self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the process's loop and return its result.

        Raises:
            EventLoopReentryError: Called from the loop's own thread.
        """
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise EventLoopReentryError()
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The process's loop, started on first use."""
        return self._ensure_loop()

    def close(self) -> None:
        """Stop the loop and join its thread (for shutdown and tests)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = self._pid = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        loop, pid = self._loop, os.getpid()
        if loop is not None and self._pid == pid:
            return loop
        with self._lock:
            if self._loop is None or self._pid != pid:
                self._start(pid)
            assert self._loop is not None
            return self._loop

    def _start(self, pid: int) -> None:
        loop = asyncio.new_event_loop()
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
        self._loop, self._thread, self._pid = loop, thread, pid
