"""What the publish fast paths save per dispatch, against a real broker.

One Celery app built from ``CeleryConfig`` per broker; ``CeleryTaskSender.send``
of the same message (two arguments, a ``traceparent`` header) with each
combination of spakky-dispatch-celery's two fast paths (``fast_publish``, and
on plain ``redis://`` ``redis_transport``'s client reuse), on a queue of its
own that is deleted afterwards. The raw side has both off: Celery's
``send_task`` on the sender's long-lived producer with kombu's transport, as
``SPAKKY_CELERY__FAST_PUBLISH=false`` gives. Each is timed in wall-clock and
in CPU time of this process, which other load on a shared machine barely moves.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from benchmarks.celery.env import BROKERS, delete_queue
from benchmarks.cost.core_app import cost_row
from benchmarks.harness.env import environment, reachable_brokers, unique
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import Sampler, compare, per_call_us

RAW = "send_task"
"""Both fast paths off."""


def per_call_cpu_us(call: Callable[[], object], number: int) -> float:
    """Mean CPU time of this process per call over ``number`` calls, in µs."""
    start = time.process_time()
    for _ in range(number):
        call()
    return (time.process_time() - start) / number * 1e6


def _timed(
    timer: Callable[[Callable[[], object], int], float],
    call: Callable[[], object],
    number: int,
) -> float:
    return timer(call, number)


@contextmanager
def _senders(url: str) -> Iterator[dict[str, Callable[[], object]]]:
    """One send of the measured message per fast-path combination on ``url``."""
    from spakky.dispatch.celery import (
        CeleryConfig,
        CeleryTaskSender,
        build_celery_app,
    )
    from spakky.dispatch.celery.fast_publish import FastPublisher
    from spakky.dispatch.core.adapter import TaskMessage

    queue = unique("fast-publish")
    with environment(SPAKKY_CELERY__BROKER_URL=url, SPAKKY_CELERY__DEFAULT_QUEUE=queue):
        app = build_celery_app(CeleryConfig())
    message = TaskMessage(
        task_name="bench.work",
        args=(1, "abc"),
        kwargs={"k": 2},
        headers={"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"},
    )

    def send(*, fast: bool, reuse: bool) -> Callable[[], object]:
        sender = CeleryTaskSender(app)
        publisher: Any = sender._publisher
        publisher._fast = FastPublisher(app) if fast else None
        if not reuse:
            publisher._transport = None
        return lambda: sender.send(message)

    sends = {
        RAW: send(fast=False, reuse=False),
        "fast publish": send(fast=True, reuse=False),
    }
    if url.startswith("redis://"):
        sends["Redis client reuse"] = send(fast=False, reuse=True)
        sends["both (default)"] = send(fast=True, reuse=True)
    try:
        yield sends
    finally:
        delete_queue(app, queue)


def fast_publish_rows(number: int, repeat: int) -> list[Row]:
    """Each fast-path combination against both off, per reachable broker."""
    rows: list[Row] = []
    for broker, url in reachable_brokers(BROKERS, BROKERS, "fast publish cost"):
        with _senders(url) as sends:
            for clock, timer in (("wall", per_call_us), ("CPU", per_call_cpu_us)):
                samplers: dict[str, Sampler] = {
                    label: partial(_timed, timer, call) for label, call in sends.items()
                }
                stats = compare(samplers, number=number, repeat=repeat)
                rows += [
                    cost_row(
                        f"publish fast paths: {label}, {broker}, {clock}",
                        stats,
                        label,
                        RAW,
                        "raw: send_task on the same producer",
                    )
                    for label in sends
                    if label != RAW
                ]
    return rows
