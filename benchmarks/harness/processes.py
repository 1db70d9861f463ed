"""Processes: workers' memory and throughput, and start-up in a fresh interpreter."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (worker and driver processes run there)."""


def rss_mb(pid: int) -> float:
    """The resident set size of process ``pid``, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def only_child(pid: int) -> int:
    """The one child of process ``pid`` (a supervised worker process)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one worker process, found {children}")
    return int(children[0])


def stop_soon(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a worker's process group, SIGKILL it after a second.

    For workers that notice SIGTERM only when their loop next wakes up: the
    numbers are taken, so do not wait.
    """
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def rates(
    send: Callable[[int], object],
    done: Callable[[], int],
    *,
    tasks: int,
    repeat: int,
    reset: Callable[[], object],
    log: Callable[[], str],
) -> list[float]:
    """Tasks/s of ``repeat`` rounds, after a first round that warms up.

    A round resets the completion counter, sends ``tasks`` tasks
    (``send(tasks)``) and waits until the worker has done them all
    (``done()``, the counter).
    """
    result = []
    for _ in range(repeat + 1):
        reset()
        start = time.perf_counter()
        send(tasks)
        deadline = time.monotonic() + 60 + tasks / 50
        while done() < tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not finish:\n{log()}")
            time.sleep(0.002)
        result.append(tasks / (time.perf_counter() - start))
    return result[1:]


def compile_bytecode(python: str | Path, paths: Iterable[Path]) -> None:
    """Write the bytecode of ``paths`` for ``python`` (the environment may set
    ``PYTHONDONTWRITEBYTECODE``, so imports would not)."""
    subprocess.run(
        [str(python), "-m", "compileall", "-q", *map(str, paths)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def compile_ours(python: str | Path) -> None:
    """Write the bytecode of our packages and of the benchmarks for ``python``
    (site-packages have theirs: uv compiles what it installs)."""
    compile_bytecode(python, [*ROOT.glob("packages/*/src"), ROOT / "benchmarks"])


@dataclass(frozen=True, slots=True, kw_only=True)
class StartUp:
    """One fresh interpreter's start-up, in ms."""

    import_ms: float
    """Importing the plugin (or, raw, the library)."""
    boot_ms: float
    """Importing the application's module, then building and starting it."""
    missing_bytecode: list[str]
    """Source modules it imported without bytecode (compiled on the fly)."""


_PROBE = """
import importlib, json, os, sys, time
start = time.perf_counter()
for name in {imports!r}:
    importlib.import_module(name)
imported = time.perf_counter()
module, _, attribute = {build!r}.partition(":")
getattr(importlib.import_module(module), attribute)()
booted = time.perf_counter()
missing = sorted(
    spec.cached
    for spec in (getattr(m, "__spec__", None) for m in list(sys.modules.values()))
    if spec is not None and spec.cached and not os.path.exists(spec.cached)
)
print(json.dumps({{
    "import_ms": (imported - start) * 1000,
    "boot_ms": (booted - imported) * 1000,
    "missing_bytecode": missing,
}}))
"""


def start_up(
    python: str | Path, imports: Sequence[str], build: str, env: dict[str, str]
) -> StartUp:
    """Time, in a fresh ``python``, importing ``imports`` then ``build``
    (``module:function``: import the module, call the function)."""
    out = subprocess.run(
        [str(python), "-c", _PROBE.format(imports=list(imports), build=build)],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{python} could not start {build}:\n{out.stderr}")
    measured: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return StartUp(**measured)


def this_python() -> str:
    """The interpreter running the benchmark (ours)."""
    return sys.executable
