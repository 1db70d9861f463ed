"""Section 1 (taskiq): ``await handler.awork(...)`` against ``await task.kiq(...)``."""

import asyncio
from typing import Any

from spakky.core.application.application import SpakkyApplication
from taskiq import AsyncBroker

from benchmarks.harness.calls import ARGS, KWARGS, VARIANTS, caller_context
from benchmarks.harness.env import environment, reachable_brokers, unique
from benchmarks.harness.rows import Row
from benchmarks.harness.spakky_app import measured_handler, started
from benchmarks.harness.timing import Stat, async_sampler, compare_async
from benchmarks.taskiq.apps import build_taskiq_plugin
from benchmarks.taskiq.env import (
    TASKIQ_BROKERS,
    delete_taskiq_queue,
    taskiq_env,
    taskiq_row,
)
from benchmarks.taskiq.raw_app import RAW_AWORK, build_raw_taskiq

CALLERS_LOOP = "no propagators, broker on the caller's loop"
DISPATCH_VARIANTS = (*VARIANTS, CALLERS_LOOP)


def raw_app(url: str, queue: str) -> tuple[AsyncBroker, dict[str, Any]]:
    """The raw taskiq broker and tasks on ``url`` / ``queue``."""
    with environment(**taskiq_env(url, queue)):
        return build_raw_taskiq()


def broker_of(app: SpakkyApplication) -> AsyncBroker:
    """The plugin's broker."""
    return app.container.get(AsyncBroker)  # type: ignore[type-abstract]


def dispatch_rows(number: int, repeat: int, brokers: tuple[str, ...]) -> list[Row]:
    """``await handler.awork(...)`` through the plugin vs ``await task.kiq(...)``.

    The plugin's broker lives where spakky-taskiq puts it for a caller that
    did not start it: on the loop of the first awaited dispatch, the caller's.
    The ``broker on the caller's loop`` variant starts it there explicitly
    first (``await broker.startup()``), as the raw broker is.
    """
    rows: list[Row] = []
    for broker, url in reachable_brokers(TASKIQ_BROKERS, brokers, "taskiq dispatch"):
        for variant in DISPATCH_VARIANTS:
            queue = unique("tq-dispatch")
            try:
                with started(
                    build_taskiq_plugin, taskiq_env(url, queue), variant
                ) as app:
                    raw, tasks = raw_app(url, queue)
                    stats = asyncio.run(
                        _dispatch(app, raw, tasks[RAW_AWORK], variant, number, repeat)
                    )
            finally:
                delete_taskiq_queue(url, queue)
            rows.append(taskiq_row("dispatch", f"{broker}, {variant}", stats))
    return rows


async def _dispatch(
    app: SpakkyApplication,
    raw: AsyncBroker,
    raw_task: Any,
    variant: str,
    number: int,
    repeat: int,
) -> dict[str, Stat]:
    handler = measured_handler(app, variant)
    ours_broker = broker_of(app)
    await raw.startup()
    if variant == CALLERS_LOOP:
        await ours_broker.startup()
    try:
        with caller_context(app, variant):
            return await compare_async(
                {
                    "ours": async_sampler(lambda: handler.awork(*ARGS, **KWARGS)),
                    "raw": async_sampler(lambda: raw_task.kiq(*ARGS, **KWARGS)),
                },
                number=number,
                repeat=repeat,
            )
    finally:
        await raw.shutdown()
        if variant == CALLERS_LOOP:
            await ours_broker.shutdown()
