"""The old column of the Celery rows: spakky-celery 8.5.0 in its own environment."""

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness.calls import NO_PROPAGATORS, auth_env
from benchmarks.harness.env import present
from benchmarks.harness.oldvenv import OldEnvironment
from benchmarks.harness.remote import Remote, remote
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import Sampler, Stat

DRIVER = "benchmarks.celery.old_driver"
OLD_APP = "benchmarks.celery.old_app"


@dataclass(frozen=True, slots=True, kw_only=True)
class OldColumn:
    """Where the old distribution runs this run, if it does (``python``)."""

    environment: OldEnvironment
    logs: Path
    """Where its drivers and workers write their logs."""
    _count: Iterator[int] = field(default_factory=itertools.count)

    @property
    def python(self) -> Path | None:
        return self.environment.python

    @property
    def missing(self) -> str:
        """Why the old column has no figures this run ('' when it has)."""
        return self.environment.missing

    def row(
        self, section: str, name: str, stats: Mapping[str, Stat], **fields: object
    ) -> Row:
        """A Celery row (``Row.of``), saying why the old figure is missing."""
        return Row.of(section, name, stats, old_missing=self.missing, **fields)

    def log(self, name: str) -> Path:
        """A new log file of this run."""
        return self.logs / f"old-{next(self._count)}-{name}.log"

    @contextmanager
    def driver(
        self, case: Mapping[str, str], env: Mapping[str, str | None]
    ) -> Iterator[Remote | None]:
        """The old distribution's driver for ``case``, or None without it.

        It runs in ``env`` and the auth settings of the case's variant (its own
        signing key: the old app signs and verifies its own snapshots).
        """
        if self.python is None:
            yield None
            return
        variant = case.get("variant", NO_PROPAGATORS)
        env = present({**env, **auth_env(variant)})
        with remote(self.python, DRIVER, case, env, self.log(case["kind"])) as driver:
            yield driver


def old_samplers(driver: Remote | None) -> dict[str, Sampler]:
    """The old side of a comparison, when its driver runs."""
    return {} if driver is None else {"old": driver.sampler()}
