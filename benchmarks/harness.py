"""Timing, rows and the printed table."""

import json
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Stat:
    """One measured quantity over the repeats."""

    median: float
    min: float
    max: float

    @classmethod
    def of(cls, samples: list[float]) -> "Stat":
        return cls(
            median=statistics.median(samples), min=min(samples), max=max(samples)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One benchmark row: ours against its raw baseline, same run.

    ``transport`` is ``celery`` (the spakky-celery plugin against raw Celery) or
    ``taskiq`` (the spakky-taskiq plugin against raw taskiq).
    """

    section: str
    name: str
    unit: str
    ours: Stat
    raw: Stat
    target: str = ""
    transport: str = "celery"
    higher_is_better: bool = False
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """ours / raw (medians); for "higher is better" units too."""
        return self.ours.median / self.raw.median if self.raw.median else float("nan")


def per_call_us(call: Callable[[], object], number: int) -> float:
    """Mean time of one call over ``number`` calls, in microseconds."""
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number * 1e6


def paired(
    ours: Callable[[], object],
    raw: Callable[[], object],
    *,
    number: int,
    repeat: int,
) -> tuple[Stat, Stat]:
    """Time both, interleaved in every repeat, after a warm-up of each."""
    for call in (ours, raw):
        for _ in range(max(number // 10, 3)):
            call()
    ours_s: list[float] = []
    raw_s: list[float] = []
    for index in range(repeat):
        order = ((ours, ours_s), (raw, raw_s))
        for call, samples in order if index % 2 == 0 else reversed(order):
            samples.append(per_call_us(call, number))
    return Stat.of(ours_s), Stat.of(raw_s)


async def per_call_us_async(
    call: Callable[[], Awaitable[object]], number: int
) -> float:
    """Mean time of one awaited call over ``number`` calls, in microseconds."""
    start = time.perf_counter()
    for _ in range(number):
        await call()
    return (time.perf_counter() - start) / number * 1e6


async def paired_async(
    ours: Callable[[], Awaitable[object]],
    raw: Callable[[], Awaitable[object]],
    *,
    number: int,
    repeat: int,
) -> tuple[Stat, Stat]:
    """``paired`` for awaited calls, all inside the caller's running loop."""
    for call in (ours, raw):
        for _ in range(max(number // 10, 3)):
            await call()
    ours_s: list[float] = []
    raw_s: list[float] = []
    for index in range(repeat):
        order = ((ours, ours_s), (raw, raw_s))
        for call, samples in order if index % 2 == 0 else reversed(order):
            samples.append(await per_call_us_async(call, number))
    return Stat.of(ours_s), Stat.of(raw_s)


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    import os

    import celery
    import kombu

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "celery": getattr(celery, "__version__", "?"),
        "kombu": getattr(kombu, "__version__", "?"),
        **{
            name: _version(name)
            for name in ("taskiq", "taskiq-redis", "taskiq-aio-pika")
        },
    }


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| section | row | unit | ours median (min..max) | raw median (min..max) "
        "| ratio | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {_section(row)} | {row.name} | {row.unit} | {_stat(row.ours)} "
            f"| {_stat(row.raw)} | {row.ratio:.2f}x | {row.target} |"
        )
    return "\n".join(lines)


def _section(row: Row) -> str:
    """The section, naming the transport when it is not Celery."""
    return (
        row.section if row.transport == "celery" else f"{row.section} ({row.transport})"
    )


def _stat(stat: Stat) -> str:
    return f"{stat.median:.1f} ({stat.min:.1f}..{stat.max:.1f})"


def write_json(path: Path, rows: list[Row], meta: dict[str, object]) -> None:
    """Write the rows and the run's metadata as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "meta": meta,
        "rows": [{**asdict(row), "ratio": row.ratio} for row in rows],
    }
    path.write_text(json.dumps(document, indent=2, default=str))
