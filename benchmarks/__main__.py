"""``python -m benchmarks [--smoke]``: our plugins against raw Celery / taskiq.

Every row compares a plugin with its raw baseline measured in the same run:
spakky-celery against raw Celery (and against spakky-celery 8.5.0, the old
distribution, run in its own cached environment), spakky-taskiq against raw
taskiq. Prints a Markdown table (median and min..max over the repeats, and
the ratios of the medians) and writes it, with the machine, as JSON to
``benchmarks/results/``. ``--only`` picks sections, ``--transport``
transports (default: all of both); ``--only outbox`` measures transactional
dispatch (PostgreSQL + Redis, Celery), ``--only cost`` what one adapter adds
inside the core (the argument check, auth, tracing).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness.oldvenv import OldEnvironment, old_environment
from benchmarks.harness.rows import Row, machine, table, write_json

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("dispatch", "worker", "e2e", "import")
"""Sections run by default."""
OPTIONAL_SECTIONS = ("outbox", "cost")
"""Sections run only when named with ``--only`` (outbox needs PostgreSQL)."""
OLD_SECTIONS = ("dispatch", "worker", "e2e", "import")
"""Sections whose Celery rows have the old column."""
TRANSPORTS = ("celery", "taskiq")


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections and report them."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="few iterations (CI)")
    parser.add_argument("--only", choices=SECTIONS + OPTIONAL_SECTIONS, action="append")
    parser.add_argument("--transport", choices=TRANSPORTS, action="append")
    parser.add_argument("--repeat", type=int, help="repeats per row")
    parser.add_argument(
        "--old",
        action=argparse.BooleanOptionalAction,
        help="measure spakky-celery 8.5.0 too, creating its environment when it "
        "is not cached (needs PyPI); default: yes, and with --smoke only when cached",
    )
    parser.add_argument("--out", type=Path, help="JSON file (default: results/)")
    options = parser.parse_args(argv)
    smoke = options.smoke
    repeat = options.repeat or (2 if smoke else 7)
    sections = tuple(options.only or SECTIONS)
    transports = tuple(options.transport or TRANSPORTS)
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spakky-bench-old-") as logs:
        if "celery" in transports:
            rows += _celery(sections, smoke, repeat, options.old, Path(logs))
        if "taskiq" in transports:
            from benchmarks.taskiq.rows import taskiq_rows

            rows += taskiq_rows(sections, smoke, repeat)
    if "cost" in sections:
        from benchmarks.cost.rows import cost_rows

        rows += cost_rows(smoke, repeat)
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


def _celery(
    sections: tuple[str, ...], smoke: bool, repeat: int, old: bool | None, logs: Path
) -> list[Row]:
    from benchmarks.celery.old import OldColumn
    from benchmarks.celery.rows import celery_rows

    if old is False or not any(s in OLD_SECTIONS for s in sections):
        environment = OldEnvironment(python=None, missing="not run: --no-old")
    else:
        environment = old_environment(create=old is True or not smoke)
    return celery_rows(
        sections, smoke, repeat, OldColumn(environment=environment, logs=logs)
    )


if __name__ == "__main__":
    sys.exit(main())
