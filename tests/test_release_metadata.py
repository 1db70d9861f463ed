"""Release metadata of every package: what a user sees on the index and installs.

Read from the files themselves (not from tools/release.py's rendering), so a
package bumped, pinned or described on its own fails here.
"""

import importlib.util
import re
import shutil
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(path.parent for path in ROOT.glob("packages/*/pyproject.toml"))
NAMES = frozenset(
    tomllib.loads((path / "pyproject.toml").read_text())["project"]["name"]
    for path in PACKAGES
)
SPAKKY_FRAMEWORK = frozenset({"spakky", "spakky-task", "spakky-tracing", "spakky-auth"})
INDEX_NEWEST_OLD_RELEASE = Version("8.5.0")
"""The newest release of the earlier spakky-celery distribution on the index."""

URL_KEYS = {"Homepage", "Documentation", "Source", "Changelog", "Issues"}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


release = _load("release")


def _project(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((folder / "pyproject.toml").read_text())
    return data


def _release_table() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"
    ]["spakky-release"]
    return table


VERSION = _release_table()["version"]


def _requirements(folder: Path) -> list[Requirement]:
    return [Requirement(r) for r in _project(folder)["project"]["dependencies"]]


def test_release_version_expect_above_the_old_distribution() -> None:
    """pip picks our release over the 8.x on the index only if it is higher."""
    assert Version(VERSION) > INDEX_NEWEST_OLD_RELEASE


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_package_version_expect_the_release_version(folder: Path) -> None:
    """Every package releases at the one version: bumping one alone fails here."""
    assert _project(folder)["project"]["version"] == VERSION


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_package_requirements_expect_siblings_pinned_and_ranges(folder: Path) -> None:
    """Siblings ``==`` the release; spakky, celery, pydantic-settings as ranges."""
    requirements = _requirements(folder)
    assert requirements, f"{folder.name} requires nothing"
    for requirement in requirements:
        if requirement.name in NAMES:
            assert str(requirement.specifier) == f"=={VERSION}", requirement
        elif requirement.name in SPAKKY_FRAMEWORK:
            assert requirement.specifier == SpecifierSet(">=8.5,<9"), requirement
        elif requirement.name == "celery":
            # 5.7 is the first Celery whose Task and AsyncResult are generic at
            # runtime, which the adapter subclasses and annotates (the install
            # check runs the adapter at this floor).
            assert requirement.specifier == SpecifierSet(">=5.7,<6"), requirement
            assert requirement.extras == {"redis"}  # kombu's Redis needs `packaging`
        elif requirement.name == "pydantic-settings":
            assert requirement.specifier == SpecifierSet(">=2.13.1,<3"), requirement
        else:  # tools/install_check.py installs at these floors
            lower = [s for s in requirement.specifier if s.operator == ">="]
            assert lower, f"{requirement} has no lower bound"


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_package_metadata_expect_index_page_fields(folder: Path) -> None:
    """Licence, authors, URLs, classifiers and keywords a user sees on the index."""
    project = _project(folder)["project"]
    table = _release_table()
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert project["requires-python"] == ">=3.12"
    assert project["authors"] == [{"name": "Spakky contributors"}]
    assert set(project["urls"]) == URL_KEYS
    assert all(url.startswith("https://") for url in project["urls"].values())
    assert project["keywords"]
    assert len(project["description"]) > 40
    classifiers = set(project["classifiers"])
    assert "Typing :: Typed" in classifiers
    python = {
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert python == set(table["python-versions"])
    # PEP 639: the licence is the License-Expression; PyPI refuses uploads that
    # also carry a `License ::` classifier.
    assert not [c for c in classifiers if c.startswith("License ::")]
    celery_based = "celery" in {r.name for r in _requirements(folder)} or (
        "spakky-dispatch-celery" in {r.name for r in _requirements(folder)}
    )
    assert ("Framework :: Celery" in classifiers) == celery_based
    build = _project(folder)["build-system"]
    assert "hatchling>=1.27" in build["requires"]  # PEP 639 license-files


def test_classified_python_versions_expect_run_by_ci() -> None:
    """The classifiers claim only Python versions that .ci/run runs."""
    ci = (ROOT / ".ci" / "run").read_text()
    default = (ROOT / ".python-version").read_text().strip()
    for version in _release_table()["python-versions"]:
        assert version == default or f"pyenv prefix {version}" in ci, version


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_package_license_expect_identical_to_root(folder: Path) -> None:
    """Each package ships the root LICENSE (an sdist holds only its own folder)."""
    root = (ROOT / "LICENSE").read_bytes()
    assert root.startswith(b"MIT License")
    assert (folder / "LICENSE").read_bytes() == root


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_package_readme_expect_long_description_for_the_index(folder: Path) -> None:
    """The README is the index page: install line, example, absolute links only."""
    name = _project(folder)["project"]["name"]
    assert _project(folder)["project"]["readme"] == "README.md"
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith(f"# {name}\n")
    assert f"pip install {name}" in text
    assert "```python" in text
    assert "https://spakky.github.io/spakky-celery/" in text
    prose = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.S)  # code is not linked
    links = re.findall(r"\]\(([^)\s]+)\)", prose) + re.findall(r"<([^>\s]+)>", prose)
    relative = [link for link in links if not link.startswith("https://")]
    assert relative == [], f"links that break on the index page: {relative}"


def test_changelog_expect_an_entry_for_the_release() -> None:
    """CHANGELOG.md (Keep a Changelog) has a dated section for the version."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "Keep a Changelog" in text
    assert re.search(
        rf"^## \[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", text, re.M
    )


def test_lockfile_expect_every_package_at_the_release() -> None:
    """uv.lock was refreshed after the bump (`uv sync --locked` needs it)."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    versions = {p["name"]: p["version"] for p in lock["package"] if p["name"] in NAMES}
    assert versions == dict.fromkeys(NAMES, VERSION)


def test_release_tool_check_expect_no_drift() -> None:
    """``tools/release.py check`` finds nothing to rewrite."""
    assert release.drifts(ROOT) == []


def _copy_workspace(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "LICENSE", tmp_path / "LICENSE")
    for folder in PACKAGES:
        (tmp_path / "packages" / folder.name).mkdir(parents=True)
        for name in ("pyproject.toml", "LICENSE"):
            shutil.copy(folder / name, tmp_path / "packages" / folder.name / name)
    return tmp_path


def test_release_tool_bump_expect_every_package_and_pin(tmp_path: Path) -> None:
    """``bump`` (without the lock) moves every version and sibling pin at once."""
    root = _copy_workspace(tmp_path)
    release.set_version(root, "9.1.0")
    written = release.sync(root)
    assert len(written) == len(PACKAGES)
    for folder in PACKAGES:
        project = tomllib.loads(
            (root / "packages" / folder.name / "pyproject.toml").read_text()
        )["project"]
        assert project["version"] == "9.1.0"
        for requirement in map(Requirement, project["dependencies"]):
            if requirement.name in NAMES:
                assert str(requirement.specifier) == "==9.1.0"
    assert release.drifts(root) == []


def test_release_tool_one_package_bumped_expect_drift(tmp_path: Path) -> None:
    """A version changed by hand in one package is reported, naming the file."""
    root = _copy_workspace(tmp_path)
    pyproject = root / "packages" / "spakky-dispatch" / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(f'version = "{VERSION}"', 'version = "9.0.1"')
    )
    (root / "packages" / "spakky-taskiq" / "LICENSE").write_text("changed")
    described = [d.describe(root) for d in release.drifts(root)]
    assert described == [
        "packages/spakky-dispatch/pyproject.toml is not in sync",
        "packages/spakky-taskiq/LICENSE is not in sync",
    ]


def test_release_tool_missing_markers_expect_error(tmp_path: Path) -> None:
    """A package without the managed block is refused with what to add."""
    root = _copy_workspace(tmp_path)
    pyproject = root / "packages" / "spakky-dispatch" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(release.END, ""))
    with pytest.raises(release.ReleaseError, match="lacks the release metadata"):
        release.drifts(root)


def test_release_tool_invalid_version_expect_error(tmp_path: Path) -> None:
    """``bump`` refuses a version pip could not order."""
    root = _copy_workspace(tmp_path)
    with pytest.raises(release.ReleaseError, match="not a PEP 440 version"):
        release.set_version(root, "nine")
