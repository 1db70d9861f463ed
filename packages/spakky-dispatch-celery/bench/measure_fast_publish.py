"""What the publish fast paths save per dispatch, in-process, against a real broker.

Run from the repository root::

    .venv/bin/python packages/spakky-dispatch-celery/bench/measure_fast_publish.py \\
        redis://127.0.0.1:6379/15

(also ``memory://`` or ``amqp://guest:guest@127.0.0.1:5672//``). One Celery
app built from ``CeleryConfig``; ``CeleryTaskSender.send`` of the same message
(two arguments, a ``traceparent`` header) with each combination of the two
fast paths, interleaved round by round, on a queue of its own that is deleted
afterwards. "send_task" is both off (Celery's ``send_task`` on the
long-lived producer, kombu's transport), as ``SPAKKY_CELERY__FAST_PUBLISH=false``
gives. Figures are µs per call, median and best round: wall time, and CPU time
of this process, which other load on the machine barely moves.
"""

import os
import statistics
import sys
import time
import uuid
from typing import Any

from spakky.dispatch.celery import CeleryConfig, CeleryTaskSender, build_celery_app
from spakky.dispatch.celery.fast_publish import FastPublisher
from spakky.dispatch.core.adapter import TaskMessage

ROUNDS = 21
CALLS = 500


def main() -> None:
    """Print µs per send for each combination of the fast paths."""
    broker = sys.argv[1] if len(sys.argv) > 1 else "memory://"
    queue = f"spakky-bench-fast-{uuid.uuid4().hex[:8]}"
    os.environ["SPAKKY_CELERY__BROKER_URL"] = broker
    os.environ["SPAKKY_CELERY__DEFAULT_QUEUE"] = queue
    app = build_celery_app(CeleryConfig())
    traceparent = f"00-{'a' * 32}-{'b' * 16}-01"
    message = TaskMessage(
        task_name="bench.work",
        args=(1, "abc"),
        kwargs={"k": 2},
        headers={"traceparent": traceparent},
    )

    def sender(fast: bool, reuse: bool) -> CeleryTaskSender:
        built = CeleryTaskSender(app)
        publisher: Any = built._publisher
        publisher._fast = FastPublisher(app) if fast else None
        if not reuse:
            publisher._transport = None
        return built

    variants = {"send_task": sender(False, False), "fast publish": sender(True, False)}
    if broker.startswith("redis://"):
        variants["Redis client reuse"] = sender(False, True)
        variants["both (default)"] = sender(True, True)
    samples: dict[str, tuple[list[float], list[float]]] = {
        label: ([], []) for label in variants
    }
    try:
        for each in variants.values():
            for _ in range(CALLS // 5):
                each.send(message)
        for round_ in range(ROUNDS):
            order = list(variants.items())
            for label, each in order if round_ % 2 else reversed(order):
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(CALLS):
                    each.send(message)
                samples[label][0].append((time.perf_counter() - wall) / CALLS * 1e6)
                samples[label][1].append((time.process_time() - cpu) / CALLS * 1e6)
    finally:
        with app.connection_for_write() as connection:
            channel: Any = connection.default_channel
            channel.queue_delete(queue)
    base_wall = statistics.median(samples["send_task"][0])
    base_cpu = statistics.median(samples["send_task"][1])
    print(f"{broker}: {CALLS} sends x {ROUNDS} rounds")
    print("| path | wall µs (best) | ratio | CPU µs (best) | ratio |")
    print("|---|---|---|---|---|")
    for label, (walls, cpus) in samples.items():
        wall_median, cpu_median = statistics.median(walls), statistics.median(cpus)
        print(
            f"| {label} | {wall_median:.1f} ({min(walls):.1f}) | "
            f"{wall_median / base_wall:.2f}x | {cpu_median:.1f} ({min(cpus):.1f}) | "
            f"{cpu_median / base_cpu:.2f}x |"
        )


if __name__ == "__main__":
    main()
