"""``python -m benchmarks [--smoke]``: spakky-celery against raw Celery, same run.

Prints a Markdown table (median and min..max over the repeats, and the ratio of
the medians to the raw-Celery baseline measured in the same run) and writes
it, with the machine, as JSON to ``benchmarks/results/``.
"""

import argparse
import sys
import time
from pathlib import Path

from benchmarks.harness import Row, machine, table, write_json

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("dispatch", "worker", "e2e", "import")


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections and report them."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="few iterations (CI)")
    parser.add_argument("--only", choices=SECTIONS, action="append")
    parser.add_argument("--repeat", type=int, help="repeats per row")
    parser.add_argument("--out", type=Path, help="JSON file (default: results/)")
    options = parser.parse_args(argv)
    smoke = options.smoke
    repeat = options.repeat or (2 if smoke else 7)
    sections = tuple(options.only or SECTIONS)
    brokers = ("memory", "redis", "rabbitmq")
    rows: list[Row] = []
    started = time.perf_counter()
    from benchmarks import inproc, process

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
    meta = {
        **machine(),
        "mode": "smoke" if smoke else "full",
        "repeat": repeat,
        "seconds": round(time.perf_counter() - started, 1),
        "command": "python -m benchmarks" + (" --smoke" if smoke else ""),
    }
    print(table(rows))
    print("\n" + ", ".join(f"{key}: {value}" for key, value in meta.items()))
    out = options.out or RESULTS / ("smoke.json" if smoke else "latest.json")
    write_json(out, rows, meta)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
