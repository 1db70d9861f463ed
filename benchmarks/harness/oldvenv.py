"""The old distribution's environment: spakky-celery 8.5.0 from PyPI, cached.

Created with uv in ``benchmarks/.cache/old-<version>`` (git-ignored), on the
same Python as the benchmark, bytecode compiled. The libraries both
environments share (Celery, kombu, redis-py, pydantic, Spakky's own 8.5.0
packages) are pinned to the versions of ours, so only the plugin differs.
"""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from benchmarks.harness.processes import ROOT
from benchmarks.harness.rows import OLD_VERSION

CACHE = ROOT / "benchmarks" / ".cache"
SHARED = (
    "celery",
    "kombu",
    "amqp",
    "billiard",
    "vine",
    "redis",
    "packaging",
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "spakky",
    "spakky-task",
    "spakky-tracing",
    "spakky-auth",
    "spakky-cryptography",
    "pyyaml",
    "greenlet",
)
"""Installed beside the old plugin at our versions. 8.5.0 requires none of
redis-py and packaging (kombu's Redis transport), spakky-cryptography (signed
snapshots), PyYAML and greenlet; kombu and Celery import the last two at
start-up when they are installed, as they are in our workspace (through the
docs and SQLAlchemy dependencies), so both sides load the same modules."""
MARKER = "requirements.txt"
"""Written last: what the environment was built with."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OldEnvironment:
    """The old distribution's interpreter, or why there is none this run."""

    python: Path | None
    missing: str = ""


def pins(names: tuple[str, ...]) -> list[str]:
    """``name==version`` of those of ``names`` installed here (the workspace)."""
    found = []
    for name in names:
        try:
            found.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return found


def requirements() -> list[str]:
    """What the old environment installs."""
    return [f"spakky-celery=={OLD_VERSION}", *pins(SHARED)]


def old_environment(*, create: bool) -> OldEnvironment:
    """The cached environment; built first when missing and ``create``."""
    home = CACHE / f"old-{OLD_VERSION}"
    wanted = "\n".join(requirements()) + "\n"
    marker = home / MARKER
    if marker.exists() and marker.read_text() == wanted:
        return OldEnvironment(python=home / "bin" / "python")
    if not create:
        return OldEnvironment(
            python=None, missing=f"not run: no cached environment at {home}"
        )
    print(f"  creating the spakky-celery {OLD_VERSION} environment in {home}")
    shutil.rmtree(home, ignore_errors=True)
    uv = uv_command()
    base = getattr(sys, "_base_executable", sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    python = home / "bin" / "python"
    install = [*uv, "pip", "install", "--quiet", "--compile-bytecode"]
    try:
        subprocess.run(
            [*uv, "venv", "--quiet", "--python", base, str(home)], check=True, env=env
        )
        subprocess.run(
            [*install, "--python", str(python), *requirements()], check=True, env=env
        )
    except (OSError, subprocess.CalledProcessError) as error:
        shutil.rmtree(home, ignore_errors=True)
        return OldEnvironment(python=None, missing=f"not run: {error}")
    marker.write_text(wanted)
    return OldEnvironment(python=python)


def uv_command() -> list[str]:
    """The uv command: the one running us (``uv run`` sets ``UV``), else PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return [found]
    return [getattr(sys, "_base_executable", sys.executable), "-m", "uv"]
