"""``python -m benchmarks [--smoke]``: our plugins against raw Celery / taskiq.

Every row compares a plugin with its raw baseline measured in the same run:
spakky-celery against raw Celery, spakky-taskiq against raw taskiq. Prints a
Markdown table (median and min..max over the repeats, and the ratio of the
medians) and writes it, with the machine, as JSON to ``benchmarks/results/``.
``--only`` picks sections, ``--transport`` transports (default: all of both);
``--only outbox`` measures transactional dispatch (PostgreSQL + Redis, Celery).
"""

import argparse
import sys
import time
from pathlib import Path

from benchmarks.harness import Row, machine, table, write_json

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("dispatch", "worker", "e2e", "import")
"""Sections run by default."""
OPTIONAL_SECTIONS = ("outbox",)
"""Sections run only when named with ``--only`` (they need PostgreSQL)."""
TRANSPORTS = ("celery", "taskiq")


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections and report them."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="few iterations (CI)")
    parser.add_argument("--only", choices=SECTIONS + OPTIONAL_SECTIONS, action="append")
    parser.add_argument("--transport", choices=TRANSPORTS, action="append")
    parser.add_argument("--repeat", type=int, help="repeats per row")
    parser.add_argument("--out", type=Path, help="JSON file (default: results/)")
    options = parser.parse_args(argv)
    smoke = options.smoke
    repeat = options.repeat or (2 if smoke else 7)
    sections = tuple(options.only or SECTIONS)
    transports = tuple(options.transport or TRANSPORTS)
    rows: list[Row] = []
    started = time.perf_counter()
    if "celery" in transports:
        rows += celery_rows(sections, smoke, repeat)
    if "taskiq" in transports:
        rows += taskiq_rows(sections, smoke, repeat)
    meta = {
        **machine(),
        "mode": "smoke" if smoke else "full",
        "repeat": repeat,
        "seconds": round(time.perf_counter() - started, 1),
        "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
    }
    print(table(rows))
    print("\n" + ", ".join(f"{key}: {value}" for key, value in meta.items()))
    out = options.out or RESULTS / ("smoke.json" if smoke else "latest.json")
    write_json(out, rows, meta)
    print(f"written to {out}")
    return 0


def celery_rows(sections: tuple[str, ...], smoke: bool, repeat: int) -> list[Row]:
    """spakky-celery against raw Celery."""
    from benchmarks import inproc, process

    brokers = ("memory", "redis", "rabbitmq")
    rows: list[Row] = []
    if "dispatch" in sections:
        rows += inproc.dispatch_rows(20 if smoke else 1000, repeat, brokers)
    if "worker" in sections:
        rows += inproc.worker_rows(20 if smoke else 3000, repeat)
    if "e2e" in sections:
        rows += process.process_rows(
            20 if smoke else 1000,
            1 if smoke else max(repeat // 2, 3),
            ("redis",) if smoke else ("redis", "rabbitmq"),
            ("solo",) if smoke else ("solo", "prefork"),
        )
    if "import" in sections:
        rows += process.import_rows(1 if smoke else repeat)
    if "outbox" in sections:
        from benchmarks.outbox_rows import outbox_rows

        rows += outbox_rows(
            5 if smoke else 30, 20 if smoke else 1000, 1 if smoke else 3
        )
    return rows


def taskiq_rows(sections: tuple[str, ...], smoke: bool, repeat: int) -> list[Row]:
    """spakky-taskiq against raw taskiq (Redis DB 14, RabbitMQ; no memory://)."""
    from benchmarks import taskiq_rows as rows_of

    rows: list[Row] = []
    if "dispatch" in sections:
        rows += rows_of.dispatch_rows(
            20 if smoke else 1000, repeat, ("redis", "rabbitmq")
        )
    if "worker" in sections:
        rows += rows_of.worker_rows(20 if smoke else 3000, repeat)
    if "e2e" in sections:
        rows += rows_of.process_rows(
            20 if smoke else 1000,
            1 if smoke else max(repeat // 2, 3),
            ("redis",) if smoke else ("redis", "rabbitmq"),
            ("sync", "async"),
        )
    if "import" in sections:
        rows += rows_of.import_rows(1 if smoke else repeat)
    return rows


if __name__ == "__main__":
    sys.exit(main())
