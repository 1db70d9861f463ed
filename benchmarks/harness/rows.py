"""Rows, the printed table and the JSON file of a run."""

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from benchmarks.harness.timing import Stat

OLD_VERSION = "8.5.0"
"""The old distribution of the ``old`` column: spakky-celery on PyPI."""
OLD_LABEL = f"old {OLD_VERSION}"
SECTIONS: dict[str, dict[str, object]] = {
    "dispatch": {"section": "1 dispatch", "unit": "µs/call"},
    "worker": {"section": "2 worker", "unit": "µs/task"},
    "e2e": {"section": "3 end to end", "unit": "tasks/s", "higher_is_better": True},
    "footprint": {"section": "4 footprint"},
    "outbox": {"section": "5 outbox"},
    "cost": {"section": "6 cost", "unit": "µs/call", "transport": "core"},
}
"""The printed section of each ``--only`` section, and what its rows share."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One benchmark row: ours against its raw baseline (and the old
    distribution), same run.

    ``transport`` is ``celery`` (the spakky-celery plugin against raw Celery),
    ``taskiq`` (the spakky-taskiq plugin against raw taskiq) or ``core`` (an
    adapter inside the core: with it against without it).
    """

    section: str
    name: str
    unit: str
    ours: Stat
    raw: Stat
    old: Stat | None = None
    """spakky-celery 8.5.0 doing the same, in its own environment."""
    old_missing: str = ""
    """Why ``old`` is None."""
    target: str = ""
    transport: str = "celery"
    higher_is_better: bool = False
    notes: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of(
        cls, section: str, name: str, stats: Mapping[str, Stat], **fields: object
    ) -> "Row":
        """A row of ``section`` (a key of ``SECTIONS``) with the sides ``ours``,
        ``raw`` and, when measured, ``old``."""
        return cls(
            name=name,
            ours=stats["ours"],
            raw=stats["raw"],
            old=stats.get("old"),
            **SECTIONS[section] | fields,  # type: ignore[arg-type]
        )

    @property
    def ratio(self) -> float:
        """ours / raw (medians); for "higher is better" units too."""
        return _ratio(self.ours, self.raw)

    @property
    def ratio_old(self) -> float | None:
        """ours / old (medians), when the old distribution was measured."""
        return None if self.old is None else _ratio(self.ours, self.old)


def _ratio(ours: Stat, other: Stat) -> float:
    return ours.median / other.median if other.median else float("nan")


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
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
        **{
            name: _version(name)
            for name in ("celery", "kombu", "taskiq", "taskiq-redis", "taskiq-aio-pika")
        },
    }


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table; why an old figure is missing, as notes."""
    reasons: list[str] = []
    lines = [
        "| section | row | unit | ours median (min..max) | raw median (min..max) "
        f"| {OLD_LABEL} median (min..max) | ours/raw | ours/old | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.old is None:
            if row.old_missing not in reasons:
                reasons.append(row.old_missing)
            old = f"n/a ({reasons.index(row.old_missing) + 1})"
        else:
            old = _stat(row.old)
        ratio_old = "" if row.ratio_old is None else f"{row.ratio_old:.2f}x"
        lines.append(
            f"| {_section(row)} | {row.name} | {row.unit} | {_stat(row.ours)} "
            f"| {_stat(row.raw)} | {old} | {row.ratio:.2f}x | {ratio_old} "
            f"| {row.target} |"
        )
    if reasons:
        lines.append("")
        lines += [f"n/a ({n}): {reason}" for n, reason in enumerate(reasons, 1)]
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
        "rows": [
            {**asdict(row), "ratio": row.ratio, "ratio_old": row.ratio_old}
            for row in rows
        ],
    }
    path.write_text(json.dumps(document, indent=2, default=str))
