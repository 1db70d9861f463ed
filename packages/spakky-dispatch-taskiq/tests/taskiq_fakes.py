"""Stand-ins for taskiq brokers and for the core's invoker."""

import asyncio
import threading
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from taskiq import AsyncBroker, BrokerMessage

from spakky.dispatch.core.adapter import EventLoopRunner


class RecordingBroker(AsyncBroker):
    """Keeps every kicked message; ``fail`` makes kick (or startup) raise."""

    def __init__(
        self,
        *,
        fail: BaseException | None = None,
        fail_startup: BaseException | None = None,
        kick_delay: float = 0.0,
    ) -> None:
        super().__init__()
        self.sent: list[BrokerMessage] = []
        self.fail = fail
        self.fail_startup = fail_startup
        self.kick_delay = kick_delay
        self.startups = 0
        self.shutdowns = 0
        self.loops: list[asyncio.AbstractEventLoop] = []

    async def startup(self) -> None:
        self.startups += 1
        if self.fail_startup is not None:
            raise self.fail_startup
        await super().startup()

    async def shutdown(self) -> None:
        self.shutdowns += 1
        await super().shutdown()

    async def kick(self, message: BrokerMessage) -> None:
        self.loops.append(asyncio.get_running_loop())
        if self.kick_delay:
            await asyncio.sleep(self.kick_delay)
        if self.fail is not None:
            raise self.fail
        self.sent.append(message)

    async def listen(self) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        raise RuntimeError("a recording broker cannot listen")
        yield b""


class FakeInvoker:
    """Stands in for TaskInvoker: records calls, plays back ``outcomes`` in turn.

    An outcome that is an exception is raised; anything else is returned.
    """

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes) or ["done"]
        self.calls: list[dict[str, Any]] = []
        self.runner = EventLoopRunner()
        self.ran = threading.Event()

    def _next(self) -> object:
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        self.ran.set()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _record(
        self,
        kind: str,
        task_name: str,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
        retries: int,
    ) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self.calls.append(
            {
                "kind": kind,
                "task_name": task_name,
                "args": args,
                "kwargs": dict(kwargs),
                "headers": dict(headers),
                "task_id": task_id,
                "retries": retries,
                "loop": loop,
                "thread": threading.current_thread(),
            }
        )

    def invoke(
        self,
        task_name: str,
        args: tuple[object, ...] = (),
        kwargs: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
        task_id: str | None = None,
        retries: int = 0,
    ) -> object:
        self._record(
            "sync", task_name, args, kwargs or {}, headers or {}, task_id, retries
        )
        return self._next()

    async def invoke_async(
        self,
        task_name: str,
        args: tuple[object, ...] = (),
        kwargs: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
        task_id: str | None = None,
        retries: int = 0,
    ) -> object:
        self._record(
            "async", task_name, args, kwargs or {}, headers or {}, task_id, retries
        )
        await asyncio.sleep(0)
        return self._next()
