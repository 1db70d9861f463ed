"""How much byte-compiling on install saves when nothing may write bytecode.

    python -m uv run python tools/measure_bytecode.py [--runs 20]

Installs the wheels in ``dist/`` (build them first: ``python -m uv build
--all-packages -o dist``) twice into fresh venvs with pip, removes every
``__pycache__`` from the second, then times ``python -c "import
spakky.plugins.celery"`` in each, alternating, with
``PYTHONDONTWRITEBYTECODE=1`` (as in most containers). Prints both medians and
their ratio. docs/deployment.md quotes the result.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _venv(path: Path, python: str) -> Path:
    subprocess.run([python, "-m", "venv", path], check=True)
    subprocess.run(
        [
            path / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--find-links",
            ROOT / "dist",
            "spakky-celery",
        ],
        check=True,
    )
    return path / "bin" / "python"


def main() -> int:
    """Build the two venvs, time the import in each, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    base = getattr(sys, "_base_executable", sys.executable)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="spakky-bytecode-") as folder:
        compiled = _venv(Path(folder) / "compiled", base)
        bare = _venv(Path(folder) / "bare", base)
        for cache in (Path(folder) / "bare").rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        times: dict[Path, list[float]] = {compiled: [], bare: []}
        for _ in range(args.runs):
            for python in (compiled, bare):
                started = time.perf_counter()
                subprocess.run(
                    [python, "-c", "import spakky.plugins.celery"], env=env, check=True
                )
                times[python].append(time.perf_counter() - started)
    with_pyc = statistics.median(times[compiled])
    without = statistics.median(times[bare])
    print(
        f"import spakky.plugins.celery, PYTHONDONTWRITEBYTECODE=1, {args.runs} runs "
        f"each: with bytecode {with_pyc * 1000:.0f} ms, without "
        f"{without * 1000:.0f} ms (medians): {without / with_pyc:.1f}x slower without"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
