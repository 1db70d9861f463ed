"""Release metadata of the packages under ``packages/``, kept in one place.

The shared values live in ``[tool.spakky-release]`` of the root
``pyproject.toml``: the version every package releases at, the spakky framework
range, the licence, authors, project URLs, classifiers and keywords. This tool
writes them into each package::

    python tools/release.py check         # exit 1, naming every drift
    python tools/release.py sync          # rewrite what check reports
    python tools/release.py bump 9.1.0    # new version everywhere, sync, uv lock

``sync`` rewrites, in each ``packages/*/pyproject.toml``, the block between the
"release metadata" markers, the specifier of every sibling requirement (``==``
the release version) and of every spakky framework requirement (the shared
range), and copies the root ``LICENSE`` into the package (an sdist can only ship
files inside the package's own directory).
"""

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]

BEGIN = (
    "# BEGIN release metadata: written by `python tools/release.py sync` from "
    "[tool.spakky-release] in the root pyproject.toml"
)
END = "# END release metadata"

SPAKKY_FRAMEWORK = frozenset({"spakky", "spakky-task", "spakky-tracing", "spakky-auth"})
"""Framework distributions our packages require: each gets the shared range."""

_REQUIREMENT = re.compile(
    r'^(?P<indent>\s*)"(?P<name>[A-Za-z0-9._-]+)(?P<rest>[^"]*)",$'
)
_SPECIFIER = re.compile(
    r"^(?P<extras>\[[^\]]*\])?(?P<specifier>[^;]*)(?P<marker>;.*)?$"
)


class ReleaseError(Exception):
    """The release metadata cannot be read or written; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseConfig:
    """``[tool.spakky-release]`` of the root ``pyproject.toml``."""

    version: str
    requires_python: str
    python_versions: tuple[str, ...]
    license: str
    authors: tuple[str, ...]
    spakky_range: str
    classifiers: tuple[str, ...]
    keywords: tuple[str, ...]
    urls: dict[str, str]
    packages: dict[str, dict[str, list[str]]]

    def classifiers_for(self, package: str) -> list[str]:
        """Every classifier of ``package``: Python versions, shared, its own."""
        python = [
            "Programming Language :: Python :: 3",
            "Programming Language :: Python :: 3 :: Only",
            *(f"Programming Language :: Python :: {v}" for v in self.python_versions),
        ]
        own = self.packages[package].get("classifiers", [])
        return sorted({*python, *self.classifiers, *own})

    def keywords_for(self, package: str) -> list[str]:
        """Shared keywords, then ``package``'s own."""
        return [*self.keywords, *self.packages[package].get("keywords", [])]


def load_config(root: Path = ROOT) -> ReleaseConfig:
    """Read ``[tool.spakky-release]`` from ``root/pyproject.toml``."""
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    try:
        table = data["tool"]["spakky-release"]
        config = ReleaseConfig(
            version=table["version"],
            requires_python=table["requires-python"],
            python_versions=tuple(table["python-versions"]),
            license=table["license"],
            authors=tuple(table["authors"]),
            spakky_range=table["spakky-range"],
            classifiers=tuple(table["classifiers"]),
            keywords=tuple(table["keywords"]),
            urls=dict(table["urls"]),
            packages=dict(table["packages"]),
        )
    except KeyError as missing:
        raise ReleaseError(
            f"[tool.spakky-release] in {root / 'pyproject.toml'} lacks {missing}"
        ) from None
    try:
        Version(config.version)
    except InvalidVersion:
        raise ReleaseError(f"{config.version!r} is not a PEP 440 version") from None
    return config


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """Every package directory under ``root/packages``, by distribution name."""
    found: dict[str, Path] = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        name = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
        found[name] = pyproject.parent
    return found


def _toml_list(values: list[str], *, multiline: bool) -> str:
    if not multiline:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"
    return "[\n" + "".join(f'    "{v}",\n' for v in values) + "]"


def render_block(config: ReleaseConfig, package: str) -> str:
    """The managed block of ``package``'s pyproject, markers included."""
    authors = ", ".join(f'{{ name = "{name}" }}' for name in config.authors)
    lines = [
        BEGIN,
        f'version = "{config.version}"',
        f'requires-python = "{config.requires_python}"',
        f'license = "{config.license}"',
        'license-files = ["LICENSE"]',
        f"authors = [{authors}]",
        f"keywords = {_toml_list(config.keywords_for(package), multiline=False)}",
        f"classifiers = {_toml_list(config.classifiers_for(package), multiline=True)}",
        "",
        "[project.urls]",
        *(f'{key} = "{url}"' for key, url in config.urls.items()),
        END,
    ]
    return "\n".join(lines)


def _pin(line: str, config: ReleaseConfig, siblings: frozenset[str]) -> str:
    match = _REQUIREMENT.match(line)
    if match is None:
        return line
    name = match["name"]
    if name in siblings:
        wanted = f"=={config.version}"
    elif name in SPAKKY_FRAMEWORK:
        wanted = config.spakky_range
    else:
        return line
    parts = _SPECIFIER.match(match["rest"])
    assert parts is not None  # the pattern matches any string
    extras, marker = parts["extras"] or "", parts["marker"] or ""
    marker = f" {marker.strip()}" if marker else ""
    return f'{match["indent"]}"{name}{extras}{wanted}{marker}",'


def synced_pyproject(
    text: str, config: ReleaseConfig, package: str, siblings: frozenset[str]
) -> str:
    """``text`` with its managed block and pinned requirements rewritten.

    Raises:
        ReleaseError: The markers are missing or out of order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ReleaseError(
            f"{package}'s pyproject.toml lacks the release metadata markers; put "
            f"{BEGIN!r} and {END!r} lines at the end of its [project] table"
        )
    text = text[:start] + render_block(config, package) + text[end + len(END) :]
    lines, pinned, inside = text.split("\n"), [], False
    for line in lines:
        if re.match(r"^dependencies\s*=\s*\[\s*$", line):
            inside = True
        elif inside and line.strip() == "]":
            inside = False
        pinned.append(_pin(line, config, siblings) if inside else line)
    return "\n".join(pinned)


@dataclass(frozen=True, slots=True)
class Drift:
    """One file that differs from what ``sync`` would write."""

    path: Path
    wanted: bytes

    def describe(self, root: Path) -> str:
        """One line naming the file."""
        return f"{self.path.relative_to(root)} is not in sync"


def drifts(root: Path = ROOT) -> list[Drift]:
    """Every file whose content differs from what ``sync`` would write."""
    config = load_config(root)
    packages = package_dirs(root)
    unknown = set(packages) ^ set(config.packages)
    if unknown:
        raise ReleaseError(
            "[tool.spakky-release.packages] must list exactly the packages under "
            f"packages/; differs for {sorted(unknown)}"
        )
    siblings = frozenset(packages)
    license_text = (root / "LICENSE").read_bytes()
    found: list[Drift] = []
    for name, folder in packages.items():
        pyproject = folder / "pyproject.toml"
        current = pyproject.read_text(encoding="utf-8")
        wanted = synced_pyproject(current, config, name, siblings)
        if wanted != current:
            found.append(Drift(pyproject, wanted.encode("utf-8")))
        copy = folder / "LICENSE"
        if not copy.is_file() or copy.read_bytes() != license_text:
            found.append(Drift(copy, license_text))
    return found


def sync(root: Path = ROOT) -> list[Path]:
    """Rewrite every drifted file; return their paths."""
    written = []
    for drift in drifts(root):
        drift.path.write_bytes(drift.wanted)
        written.append(drift.path)
    return written


def set_version(root: Path, version: str) -> None:
    """Write ``version`` into ``[tool.spakky-release]`` of the root pyproject.

    Raises:
        ReleaseError: ``version`` is not a PEP 440 version.
    """
    try:
        Version(version)
    except InvalidVersion:
        raise ReleaseError(f"{version!r} is not a PEP 440 version") from None
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(
        r'(\[tool\.spakky-release\]\n(?:[^\[].*\n|\n)*?version = ")[^"]*(")'
    )
    updated, count = pattern.subn(rf"\g<1>{version}\g<2>", text, count=1)
    if count != 1:
        raise ReleaseError(f"no version line in [tool.spakky-release] of {path}")
    path.write_text(updated, encoding="utf-8")


def _uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def main(argv: list[str] | None = None) -> int:
    """Command line: ``check``, ``sync`` or ``bump VERSION``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="exit 1 when a package drifts")
    commands.add_parser("sync", help="write the shared metadata into every package")
    bump = commands.add_parser("bump", help="release every package at a new version")
    bump.add_argument("version")
    bump.add_argument("--no-lock", action="store_true", help="skip `uv lock`")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            found = drifts(ROOT)
            for drift in found:
                print(drift.describe(ROOT), file=sys.stderr)
            if found:
                print("run `python tools/release.py sync`", file=sys.stderr)
            return 1 if found else 0
        if args.command == "bump":
            set_version(ROOT, args.version)
        for path in sync(ROOT):
            print(f"wrote {path.relative_to(ROOT)}")
        if args.command == "bump":
            if not args.no_lock:
                subprocess.run([*_uv(), "lock"], cwd=ROOT, check=True)
            print(f"every package is at {args.version}; add its CHANGELOG.md entry")
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
