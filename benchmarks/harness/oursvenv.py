"""Our distribution's environment, like a user's: cached, rebuilt when stale.

The start-up and footprint probes measure spakky-celery as a user installs
it, not the development workspace (which holds every package of the
repository, the test and docs tools, and our packages as editable installs:
more distributions make Spakky's plugin discovery, which reads every
distribution's entry points, slower). The environment, in
``benchmarks/.cache/ours-<key>`` (git-ignored), holds our packages that
spakky-celery installs (built from ``packages/``, not editable) and the
libraries the old distribution's environment pins (``oldvenv.SHARED``) at the
workspace's versions, bytecode compiled; raw Celery runs there too, so all
three columns run in environments of the same kind.

``key`` hashes the pins and every file of those packages (sources and
``pyproject.toml``), so an edited source builds a new environment on the next
full run; the stale ones are removed.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import distributions

from benchmarks.harness.oldvenv import CACHE, MARKER, SHARED, pins, uv_command
from benchmarks.harness.processes import ROOT

PACKAGES = (
    "spakky-dispatch",
    "spakky-dispatch-celery",
    "spakky-dispatch-tracing",
    "spakky-dispatch-auth",
    "spakky-celery",
)
"""Our packages that ``pip install spakky-celery`` installs."""
PREFIX = "ours-"


@dataclass(frozen=True, slots=True, kw_only=True)
class OursEnvironment:
    """The interpreter ours (and raw Celery) start in, and what it is."""

    python: str
    label: str
    """Said in the output: which environment the probes used."""


def requirements() -> list[str]:
    """What the environment installs: our packages, then the pins."""
    return [str(ROOT / "packages" / name) for name in PACKAGES] + pins(SHARED)


def constraints() -> list[str]:
    """Every other distribution at the workspace's version (what our packages
    pull in beyond the pins resolves as in the workspace)."""
    ours = set(PACKAGES)
    found = {
        f"{name}=={dist.version}"
        for dist in distributions()
        if (name := dist.metadata["Name"].lower()) not in ours
    }
    return sorted(found)


def key() -> str:
    """A digest of the pins and of every file of our packages."""
    digest = hashlib.sha256("\n".join(pins(SHARED) + constraints()).encode())
    for name in PACKAGES:
        package = ROOT / "packages" / name
        files = [package / "pyproject.toml", *sorted((package / "src").rglob("*"))]
        for path in files:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ours_environment(*, create: bool) -> OursEnvironment:
    """The cached environment for the current sources; built first when
    missing and ``create``, else the workspace's interpreter."""
    home = CACHE / f"{PREFIX}{key()}"
    workspace = OursEnvironment(
        python=sys.executable, label="the development workspace"
    )
    if (home / MARKER).exists():
        return OursEnvironment(python=str(home / "bin" / "python"), label=str(home))
    if not create:
        return workspace
    print(f"  creating our environment (pinned like the old one) in {home}")
    for stale in CACHE.glob(f"{PREFIX}*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink()
    uv = uv_command()
    base = getattr(sys, "_base_executable", sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    python = home / "bin" / "python"
    # --no-sources: our packages from their directories as wheels, not the
    # workspace's editable installs. uv reuses a local package's cached wheel
    # unless its pyproject changed: refresh ours, built from the sources as
    # they are.
    install = [*uv, "pip", "install", "--quiet", "--compile-bytecode", "--no-sources"]
    refresh = [option for name in PACKAGES for option in ("--refresh-package", name)]
    pinned = home.with_name(f"{home.name}.constraints.txt")
    try:
        home.mkdir(parents=True)
        pinned.write_text("\n".join(constraints()) + "\n")
        subprocess.run(
            [*uv, "venv", "--quiet", "--python", base, str(home)], check=True, env=env
        )
        options = [*refresh, "--constraint", str(pinned), "--python", str(python)]
        subprocess.run(
            [*install, *options, *requirements()],
            check=True,
            env=env,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        shutil.rmtree(home, ignore_errors=True)
        print(f"  could not create it ({error}): using the workspace")
        return workspace
    (home / MARKER).write_text("\n".join(requirements()) + "\n")
    return OursEnvironment(python=str(python), label=str(home))
