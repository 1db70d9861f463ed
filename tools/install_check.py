"""What users install: build every package, check it, install it outside the repo.

    python -m uv run python tools/install_check.py [--keep]

1. ``uv build --all-packages`` into ``dist/`` (emptied first): a wheel and an
   sdist per package, each at the release version, each with the LICENSE and
   its README as the long description; ``twine check --strict`` on all of them.
2. Three fresh virtual environments in a temporary folder outside the
   repository, each filled from the built wheels (``--find-links``) and from
   the index for everything else (by pip for spakky-celery, as users install
   it; by ``uv pip``, faster, for the other two). In each, every one of our packages must
   be the release version and carry the METADATA of our wheel (not an 8.x
   from the index), ``pip check`` must pass, and no workspace source may be
   importable:

   - ``spakky-celery``: ``pip install -U spakky-celery`` would pick our
     release; the quickstart (``examples/quickstart``, copied out) runs on its
     embedded SQLite broker; ``spakky-celery tasks`` lists its tasks;
     ``tests/installed/test_installed_kit.py`` passes with the installed
     pytest plugin.
   - ``spakky-taskiq`` alone, at the lowest taskiq, taskiq-redis,
     taskiq-aio-pika and pydantic-settings its ranges allow: Celery is not
     installed, and the example of the spakky-taskiq README runs.
   - ``spakky-dispatch-celery`` alone, at the lowest Celery and
     pydantic-settings its ranges allow: the tracing and auth adapters and the
     plugin are absent, and the example of its README round-trips a task
     through a real worker.

Exits 1 naming the first check that failed. The temporary folder is removed
unless ``--keep`` is given.
"""

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
PROBE = """
import importlib.metadata as md, importlib.util as iu, json, sys


def where(module):
    try:
        spec = iu.find_spec(module)
    except ModuleNotFoundError:
        return None
    if spec is None:
        return None
    return spec.origin or ";".join(spec.submodule_search_locations or [])


found = {}
for name in json.loads(sys.argv[1]):
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    found[name] = {
        "version": dist.version,
        "metadata": dist.read_text("METADATA"),
        "license": dist.read_text("licenses/LICENSE"),
    }
modules = {module: where(module) for module in json.loads(sys.argv[2])}
print(json.dumps({"distributions": found, "modules": modules}))
"""


class CheckFailed(Exception):
    """One check failed; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Release:
    """The packages of the workspace and the version they release at."""

    version: str
    names: tuple[str, ...]

    @classmethod
    def read(cls) -> "Release":
        """From the root pyproject and every ``packages/*/pyproject.toml``."""
        root = tomllib.loads((ROOT / "pyproject.toml").read_text())
        names = tuple(
            sorted(
                tomllib.loads(path.read_text())["project"]["name"]
                for path in ROOT.glob("packages/*/pyproject.toml")
            )
        )
        return cls(root["tool"]["spakky-release"]["version"], names)


def _load_readme_examples() -> Any:
    spec = importlib.util.spec_from_file_location(
        "readme_examples", ROOT / "tools" / "readme_examples.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_examples"] = module
    spec.loader.exec_module(module)
    return module


examples = _load_readme_examples()


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise CheckFailed("uv not found: run this under `python -m uv run`")
    return found


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without the workspace: no PYTHONPATH, no settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPAKKY_", "VIRTUAL_ENV", "UV_PROJECT"))
        and name not in ("PYTHONPATH", "PYTHONHOME")
    }
    env["PATH"] = os.pathsep.join(
        entry
        for entry in env.get("PATH", "").split(os.pathsep)
        if entry and not Path(entry).resolve().is_relative_to(ROOT)
    )
    return {**env, **extra}


def _run(
    argv: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env if env is not None else _clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise CheckFailed(
            f"`{' '.join(map(str, argv))}` exited {done.returncode}:\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


@contextmanager
def _step(title: str) -> Iterator[None]:
    print(f"--- {title}", flush=True)
    started = time.monotonic()
    yield
    print(f"    ok ({time.monotonic() - started:.1f}s)", flush=True)


def _artifacts() -> list[Path]:
    return sorted(p for p in DIST.iterdir() if p.name.endswith((".whl", ".tar.gz")))


def _wheel(release: Release, name: str) -> Path:
    return DIST / f"{name.replace('-', '_')}-{release.version}-py3-none-any.whl"


def _sdist(release: Release, name: str) -> Path:
    return DIST / f"{name.replace('-', '_')}-{release.version}.tar.gz"


def _wheel_text(wheel: Path, member: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member).decode("utf-8")


def build(release: Release) -> None:
    """Build every wheel and sdist into an empty ``dist/``."""
    shutil.rmtree(DIST, ignore_errors=True)
    _run([_uv(), "build", "--all-packages", "--out-dir", DIST], cwd=ROOT)
    expected = {_wheel(release, n).name for n in release.names} | {
        _sdist(release, n).name for n in release.names
    }
    built = {path.name for path in _artifacts()}
    if built != expected:
        raise CheckFailed(f"dist/ holds {sorted(built)}, expected {sorted(expected)}")


def check_artifacts(release: Release) -> None:
    """LICENSE, README long description and type marker in every artifact."""
    license_text = (ROOT / "LICENSE").read_text()
    for name in release.names:
        wheel, sdist = _wheel(release, name), _sdist(release, name)
        info = f"{name.replace('-', '_')}-{release.version}.dist-info"
        if _wheel_text(wheel, f"{info}/licenses/LICENSE") != license_text:
            raise CheckFailed(f"{wheel.name}: licenses/LICENSE differs from LICENSE")
        metadata = _wheel_text(wheel, f"{info}/METADATA")
        readme = (ROOT / "packages" / name / "README.md").read_text()
        for line in ("License-Expression: MIT", "License-File: LICENSE"):
            if line not in metadata.splitlines():
                raise CheckFailed(f"{wheel.name}: no `{line}` in METADATA")
        if not metadata.rstrip().endswith(readme.rstrip()):
            raise CheckFailed(f"{wheel.name}: the long description is not the README")
        with zipfile.ZipFile(wheel) as archive:
            if not any(n.endswith("/py.typed") for n in archive.namelist()):
                raise CheckFailed(f"{wheel.name}: no py.typed (Typing :: Typed)")
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(f"{sdist.name[: -len('.tar.gz')]}/LICENSE")
            if member is None or member.read().decode() != license_text:
                raise CheckFailed(f"{sdist.name}: LICENSE missing or different")
    _run(
        [sys.executable, "-m", "twine", "check", "--strict", *_artifacts()],
        cwd=ROOT,
    )


@dataclass(frozen=True, slots=True)
class Venv:
    """A fresh virtual environment outside the repository."""

    path: Path

    @property
    def bin(self) -> Path:
        """Its scripts folder."""
        return self.path / "bin"

    @property
    def python(self) -> Path:
        """Its interpreter."""
        return self.bin / "python"

    @classmethod
    def create(cls, path: Path, base_python: str) -> "Venv":
        """``python -m venv`` with pip, as a user would."""
        _run([base_python, "-m", "venv", path], cwd=path.parent)
        return cls(path)

    def pip(self, *args: str | Path) -> str:
        """Run pip in the venv, from outside the repository."""
        return _run(
            [self.python, "-m", "pip", "--disable-pip-version-check", *args],
            cwd=self.path,
        )

    def install(self, *requirements: str, with_uv: bool = False) -> None:
        """Our packages from ``dist/``, everything else from the index.

        pip by default, as a user would; ``uv pip`` (faster) when ``with_uv``.
        """
        if not with_uv:
            self.pip("install", "--quiet", "--find-links", DIST, *requirements)
            return
        uv_pip = [_uv(), "pip", "install", "--quiet", "--python", str(self.python)]
        _run([*uv_pip, "--find-links", str(DIST), *requirements], cwd=self.path)


def verify_installed(
    venv: Venv,
    release: Release,
    *,
    expected: set[str],
    absent_modules: Sequence[str] = (),
) -> dict[str, str | None]:
    """Our packages in ``venv`` are exactly ``expected``, all from our wheels.

    Returns where each module of ``absent_modules`` was found (None: absent).
    """
    probe = json.loads(
        _run(
            [
                venv.python,
                "-c",
                PROBE,
                json.dumps(release.names),
                json.dumps(["spakky.dispatch.core", *absent_modules]),
            ],
            cwd=venv.path,
        )
    )
    found = probe["distributions"]
    if set(found) != expected:
        raise CheckFailed(
            f"installed {sorted(found)} of ours, expected {sorted(expected)}"
        )
    license_text = (ROOT / "LICENSE").read_text()
    for name, facts in found.items():
        if facts["version"] != release.version:
            raise CheckFailed(
                f"{name} {facts['version']} is installed, not {release.version}: "
                "pip took it from the index instead of dist/"
            )
        info = f"{name.replace('-', '_')}-{release.version}.dist-info/METADATA"
        if facts["metadata"] != _wheel_text(_wheel(release, name), info):
            raise CheckFailed(f"{name}'s METADATA is not the one of our wheel")
        if facts["license"] != license_text:
            raise CheckFailed(f"{name} is installed without its LICENSE")
    core = probe["modules"]["spakky.dispatch.core"]
    if core is None or not Path(core).is_relative_to(venv.path):
        raise CheckFailed(f"spakky.dispatch.core comes from {core}, not the venv")
    venv.pip("check")
    modules: dict[str, str | None] = probe["modules"]
    return modules


def check_upgrade_picks_release(venv: Venv, release: Release) -> None:
    """``pip install -U spakky-celery`` keeps our release over the index's."""
    report = venv.path / "upgrade-report.json"
    venv.pip(
        "install",
        "--quiet",
        "--dry-run",
        "--upgrade",
        "--report",
        report,
        "--find-links",
        DIST,
        "spakky-celery",
    )
    planned = {
        item["metadata"]["name"]: item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    if "spakky-celery" in planned:
        raise CheckFailed(
            f"pip -U would replace spakky-celery {release.version} with "
            f"{planned['spakky-celery']} from the index: release above it"
        )


def shape_celery(release: Release, work: Path, base_python: str) -> None:
    """``pip install spakky-celery``: quickstart, command, installed test kit."""
    venv = Venv.create(work / "venv-celery", base_python)
    with _step(f"install spakky-celery=={release.version} (+ sqlalchemy, pytest)"):
        venv.install(f"spakky-celery=={release.version}", "sqlalchemy", "pytest")
    with _step("installed: our wheels at the release version, pip check"):
        verify_installed(
            venv,
            release,
            expected={
                "spakky-celery",
                "spakky-dispatch",
                "spakky-dispatch-celery",
                "spakky-dispatch-tracing",
                "spakky-dispatch-auth",
            },
        )
    with _step("pip install -U spakky-celery keeps our release"):
        check_upgrade_picks_release(venv, release)
    project = work / "project"
    shutil.copytree(
        ROOT / "examples" / "quickstart",
        project / "quickstart",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    with _step("the quickstart from the installed packages (embedded broker)"):
        located = _run(
            [
                venv.python,
                "-c",
                "import quickstart, spakky.dispatch.core as c, spakky.plugins.celery as p;"
                "print(quickstart.__file__); print(c.__file__); print(p.__file__)",
            ],
            cwd=project,
        ).split()
        if not Path(located[0]).is_relative_to(project) or not all(
            Path(path).is_relative_to(venv.path) for path in located[1:]
        ):
            raise CheckFailed(f"imported from the wrong places: {located}")
        output = _run([venv.python, "-m", "quickstart"], cwd=project)
        for line in ("came back: '3 values, total 12'", "beat ran heartbeat"):
            if line not in output:
                raise CheckFailed(f"the quickstart did not print {line!r}:\n{output}")
    with _step("spakky-celery tasks (the installed command)"):
        listing = _run(
            [venv.bin / "spakky-celery", "tasks", "quickstart.application:app"],
            cwd=project,
            env=_clean_env(
                SPAKKY_CELERY__BROKER_URL=f"sqla+sqlite:///{work / 'tasks.sqlite'}"
            ),
        )
        if "quickstart.handlers.EmailTaskHandler.send_email" not in listing:
            raise CheckFailed(f"spakky-celery tasks listed:\n{listing}")
    kit = work / "kit"
    kit.mkdir()
    shutil.copy(ROOT / "tests" / "installed" / "test_installed_kit.py", kit)
    with _step("the installed test kit under the installed pytest"):
        _run(
            [
                venv.python,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                kit,
            ],
            cwd=kit,
        )


def shape_taskiq(release: Release, work: Path, base_python: str) -> None:
    """``spakky-taskiq`` alone, at its floors: no Celery, the README example runs."""
    floors = _floors(
        "spakky-dispatch-taskiq",
        ("taskiq", "taskiq-redis", "taskiq-aio-pika", "pydantic-settings"),
    )
    venv = Venv.create(work / "venv-taskiq", base_python)
    with _step(
        f"install spakky-taskiq=={release.version} alone, at {', '.join(floors)}"
    ):
        venv.install(f"spakky-taskiq=={release.version}", *floors, with_uv=True)
    with _step("installed: our wheels, pip check, no Celery"):
        modules = verify_installed(
            venv,
            release,
            expected={
                "spakky-taskiq",
                "spakky-dispatch",
                "spakky-dispatch-taskiq",
                "spakky-dispatch-tracing",
                "spakky-dispatch-auth",
            },
            absent_modules=["celery", "kombu"],
        )
        present = {
            m: where
            for m, where in modules.items()
            if m != "spakky.dispatch.core" and where
        }
        if present:
            raise CheckFailed(f"installed without being asked for: {present}")
    with _step("the spakky-taskiq README example (memory://)"):
        _run_readme(venv, work / "taskiq-example", "spakky-taskiq")


def shape_dispatch_celery(release: Release, work: Path, base_python: str) -> None:
    """``spakky-dispatch-celery`` without tracing, auth or the plugin, at its floors."""
    floors = _floors("spakky-dispatch-celery", ("celery", "pydantic-settings"))
    venv = Venv.create(work / "venv-dispatch-celery", base_python)
    with _step(
        f"install spakky-dispatch-celery=={release.version} alone, at "
        f"{', '.join(floors)} (+ sqlalchemy)"
    ):
        venv.install(
            f"spakky-dispatch-celery=={release.version}",
            *floors,
            "sqlalchemy",
            with_uv=True,
        )
    with _step("installed: our wheels, pip check, no tracing, auth or plugin"):
        modules = verify_installed(
            venv,
            release,
            expected={"spakky-dispatch", "spakky-dispatch-celery"},
            absent_modules=[
                "spakky.dispatch.tracing",
                "spakky.dispatch.auth",
                "spakky.plugins.celery",
                "spakky.tracing",
                "spakky.auth",
            ],
        )
        present = {
            m: where
            for m, where in modules.items()
            if m != "spakky.dispatch.core" and where
        }
        if present:
            raise CheckFailed(f"installed without being asked for: {present}")
    with _step("the spakky-dispatch-celery README example (a real worker, SQLite)"):
        _run_readme(venv, work / "celery-example", "spakky-dispatch-celery")


def _floors(package: str, names: Sequence[str]) -> list[str]:
    """``name==lowest`` for each of ``names`` in ``package``'s requirements."""
    from packaging.requirements import Requirement

    pyproject = tomllib.loads(
        (ROOT / "packages" / package / "pyproject.toml").read_text()
    )
    pins = []
    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name in names:
            lowest = [s.version for s in requirement.specifier if s.operator == ">="]
            pins.append(f"{requirement.name}=={lowest[0]}")
    return pins


def _run_readme(venv: Venv, folder: Path, package: str) -> None:
    folder.mkdir()
    text = (ROOT / "packages" / package / "README.md").read_text(encoding="utf-8")
    example = examples.parse(text)
    try:
        outcome = examples.run(example, folder, bin_dir=venv.bin, env=_clean_env())
    except examples.ExampleError as error:
        raise CheckFailed(f"the {package} README example: {error}") from None
    print("    " + outcome.output.strip().replace("\n", "\n    "))


def main(argv: Sequence[str] | None = None) -> int:
    """Build, check, install in three shapes; 1 on the first failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument(
        "--python",
        default=getattr(sys, "_base_executable", sys.executable),
        help="interpreter for the fresh venvs (default: this one's base)",
    )
    args = parser.parse_args(argv)
    release = Release.read()
    work = Path(tempfile.mkdtemp(prefix="spakky-install-check-"))
    if work.is_relative_to(ROOT):
        raise SystemExit("the temporary folder must be outside the repository")
    started = time.monotonic()
    try:
        with _step(f"build every package at {release.version}"):
            build(release)
        with _step(
            "LICENSE, README and py.typed in every artifact; twine check --strict"
        ):
            check_artifacts(release)
        shape_celery(release, work, args.python)
        shape_taskiq(release, work, args.python)
        shape_dispatch_celery(release, work, args.python)
    except CheckFailed as failure:
        print(f"install check FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"install check passed in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
