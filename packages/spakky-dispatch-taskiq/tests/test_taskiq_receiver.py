"""PromptReceiver: taskiq's receiver that keeps an idle worker loop awake."""

import asyncio
from collections.abc import AsyncGenerator

from spakky.dispatch.taskiq import PromptReceiver
from spakky.dispatch.taskiq.receiver import _wake_until

from .taskiq_fakes import RecordingBroker


class DrainedBroker(RecordingBroker):
    """A broker whose queue is empty and closed: listening ends at once."""

    async def listen(self) -> AsyncGenerator[bytes, None]:
        return
        yield b""


def test_wake_until_event_set_expect_returns() -> None:
    """The waker ends as soon as shutdown is asked for."""

    async def scenario() -> None:
        event = asyncio.Event()
        waker = asyncio.ensure_future(_wake_until(event))
        await asyncio.sleep(0)
        event.set()
        await asyncio.wait_for(waker, timeout=5)

    asyncio.run(scenario())


def test_prompt_receiver_listen_ends_expect_waker_cancelled() -> None:
    """When listening ends the waker is cancelled; no task is left behind."""

    async def scenario() -> list[asyncio.Task[object]]:
        broker = DrainedBroker()
        receiver = PromptReceiver(broker, max_async_tasks=1)
        await receiver.listen(asyncio.Event())
        await asyncio.sleep(0)
        assert broker.startups == 1
        current = asyncio.current_task()
        return [task for task in asyncio.all_tasks() if task is not current]

    assert asyncio.run(scenario()) == []
