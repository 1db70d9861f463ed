"""Sections 3 and 4 (taskiq): a real ``taskiq worker`` process, and start-up."""

import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import redis
from spakky.core.application.application import SpakkyApplication
from tests.support.worker import spawn

from benchmarks.harness.env import (
    environment,
    present,
    reachable,
    reachable_brokers,
    unique,
)
from benchmarks.harness.handler import BenchHandler
from benchmarks.harness.processes import (
    compile_ours,
    only_child,
    rates,
    rss_mb,
    start_up,
    stop_soon,
    this_python,
)
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import Stat, rotation, stats_of
from benchmarks.harness.work import COUNTER_KEY_ENV, COUNTER_URL_ENV
from benchmarks.taskiq.apps import build_taskiq_plugin
from benchmarks.taskiq.env import (
    TASKIQ_BROKERS,
    TASKIQ_REDIS_URL,
    delete_taskiq_queue,
    taskiq_env,
    taskiq_row,
)
from benchmarks.taskiq.raw_app import RAW_ATICK, RAW_TICK, build_raw_taskiq

WORKER_READY = "Listening started."
WORKERS = {
    "ours": [
        "spakky.plugins.taskiq.cli",
        "worker",
        "benchmarks.taskiq.apps:plugin_app",
    ],
    "raw": ["taskiq", "worker", "benchmarks.taskiq.raw_app:broker"],
}
"""``python -m ...`` of each side's worker command (``--workers 1`` added)."""

type Send = Callable[[], Awaitable[object]]


def _senders(
    side: str, env: dict[str, str], stack: ExitStack, runner: asyncio.Runner
) -> dict[str, Send]:
    """How ``side`` sends a sync and an async tick (alive until ``stack`` ends).

    The raw broker is started on ``runner``'s loop, where every send runs; the
    plugin's sync task is dispatched with its sync call (it blocks until the
    broker has the message). Each kind gets an application of its own, started
    by its first call as an application making only such calls would be: the
    broker on a loop thread of its own for the sync calls, on ``runner``'s loop
    for the awaited ones (one application would keep the broker wherever the
    first kind's calls put it).
    """
    with environment(**env):
        if side == "ours":
            handlers = {}
            for kind in ("sync", "async"):
                app = build_taskiq_plugin()
                if kind == "sync":
                    stack.callback(app.stop)
                else:  # its broker lives on runner's loop: stop it from there
                    stack.callback(partial(_stop_on, runner, app))
                handlers[kind] = app.container.get(BenchHandler)
            return {
                "async": handlers["async"].atick,
                "sync": _sync_send(handlers["sync"].tick),
            }
        raw, tasks = build_raw_taskiq()
    runner.run(raw.startup())
    stack.callback(lambda: runner.run(raw.shutdown()))
    return {"async": tasks[RAW_ATICK].kiq, "sync": tasks[RAW_TICK].kiq}


def _stop_on(runner: asyncio.Runner, app: SpakkyApplication) -> None:
    runner.run(_stop_here(app))


async def _stop_here(app: SpakkyApplication) -> None:
    """Stop ``app`` from the loop its broker was started on.

    From there the broker's shutdown is scheduled on that loop and runs when
    the loop goes on (``asyncio.Runner`` closing runs it); stopped from outside
    while the loop is idle, the broker would be left to the garbage collector.
    """
    app.stop()


def _sync_send(call: Callable[[], object]) -> Send:
    async def send() -> object:
        return call()

    return send


async def _send_many(send: Send, number: int) -> None:
    for _ in range(number):
        await send()


def _run_side(
    side: str, broker: str, kinds: tuple[str, ...], tasks: int, repeat: int, log: Path
) -> tuple[dict[str, list[float]], tuple[float, float]]:
    """Tasks/s per kind and repeat, and idle RSS (MB): worker, main process.

    ``taskiq worker --workers 1`` runs the worker in a child of a supervising
    main process; the worker's RSS is the row, the main process's a note.
    """
    url, queue, key = TASKIQ_BROKERS[broker], unique("tq-e2e"), unique("counter")
    env = present(taskiq_env(url, queue))
    env |= {COUNTER_URL_ENV: TASKIQ_REDIS_URL, COUNTER_KEY_ENV: key}
    counter = redis.Redis.from_url(TASKIQ_REDIS_URL)
    argv = [this_python(), "-m", *WORKERS[side], "--workers", "1"]
    with asyncio.Runner() as runner, ExitStack() as stack:
        stack.callback(delete_taskiq_queue, url, queue)
        stack.callback(counter.delete, key)
        senders = _senders(side, env, stack, runner)
        worker = stack.enter_context(spawn(argv, env, log, ready=WORKER_READY))
        stack.callback(stop_soon, worker.process)
        time.sleep(1.0)  # settle: idle RSS after start-up
        idle = (rss_mb(only_child(worker.process.pid)), rss_mb(worker.process.pid))
        result = {
            kind: rates(
                lambda n, send=senders[kind]: runner.run(_send_many(send, n)),  # type: ignore[misc]
                lambda: int(counter.get(key) or 0),
                tasks=tasks,
                repeat=repeat,
                reset=lambda: counter.set(key, 0),
                log=lambda: worker.log,
            )
            for kind in kinds
        }
    return result, idle


def process_rows(
    tasks: int, repeat: int, brokers: tuple[str, ...], kinds: tuple[str, ...]
) -> list[Row]:
    """Throughput through a real ``taskiq worker``, and its idle RSS, plugin vs raw."""
    if not reachable(TASKIQ_REDIS_URL):
        print(
            "  skipping taskiq end to end: the completion counter's Redis is not reachable"
        )
        return []
    rows: list[Row] = []
    rss: dict[str, list[float]] = {"ours": [], "raw": []}
    main_rss: dict[str, list[float]] = {"ours": [], "raw": []}
    with tempfile.TemporaryDirectory(prefix="spakky-bench-taskiq-") as tmp:
        for broker, _ in reachable_brokers(
            TASKIQ_BROKERS, brokers, "taskiq end to end"
        ):
            results = {
                side: _run_side(
                    side,
                    broker,
                    kinds,
                    tasks,
                    repeat,
                    Path(tmp) / f"{side}-{broker}-{uuid.uuid4().hex[:6]}.log",
                )
                for side in ("raw", "ours")
            }
            for side, (_, (worker_mb, main_mb)) in results.items():
                rss[side].append(worker_mb)
                main_rss[side].append(main_mb)
            rows += [
                taskiq_row(
                    "e2e",
                    f"{broker}, {kind} task, {tasks} tasks",
                    stats_of(
                        {side: result[kind] for side, (result, _) in results.items()}
                    ),
                )
                for kind in kinds
            ]
    if rss["ours"] and rss["raw"]:
        added = Stat.of(rss["ours"]).median - Stat.of(rss["raw"]).median
        main = {side: Stat.of(samples).median for side, samples in main_rss.items()}
        rows.append(
            taskiq_row(
                "footprint",
                "idle worker process RSS",
                stats_of(rss),
                unit="MB",
                notes={"added_mb": added, "main_process_mb": main},
            )
        )
    return rows


START_UPS = {
    "raw": (["taskiq"], "benchmarks.taskiq.raw_app:build_raw_taskiq"),
    "ours": (["spakky.plugins.taskiq"], "benchmarks.taskiq.apps:worker_broker"),
}


def import_rows(repeat: int) -> list[Row]:
    """Import and build the worker's broker in a fresh interpreter, plugin vs raw."""
    compile_ours(this_python())
    env = present(taskiq_env(TASKIQ_REDIS_URL, "spakky-bench-import"))
    samples: dict[str, list[float]] = {"ours": [], "raw": []}
    for side in rotation(list(samples), repeat):
        imports, build = START_UPS[side]
        measured = start_up(this_python(), imports, build, env)
        samples[side].append(measured.import_ms + measured.boot_ms)
    return [
        taskiq_row(
            "footprint",
            "import + build the worker's broker",
            stats_of(samples),
            unit="ms",
        )
    ]
