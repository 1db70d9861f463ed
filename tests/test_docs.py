"""The documentation: generated settings tables are current, the site builds."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "tools" / "gen_config_docs.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_docs", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _generator()


class SampleSettings(BaseSettings):
    """Settings used to exercise the generator."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_prefix="SAMPLE__"
    )

    url: str
    """Where to connect, e.g. ``redis://host``."""

    retries: int = 3
    """How often to retry."""


class UndocumentedSettings(BaseSettings):
    """Settings with a field that has no docstring."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(env_prefix="U__")

    name: str = "x"


def _source(marker: str = "sample", target: str = "", optional: bool = False) -> object:
    return gen.SettingsSource(
        marker, target or f"{__name__}:SampleSettings", optional=optional
    )


def _page(tmp_path: Path, text: str) -> Path:
    (tmp_path / "configuration.md").write_text(text, encoding="utf-8")
    return tmp_path


def test_generated_settings_tables_expect_up_to_date() -> None:
    """docs/configuration.md matches the settings classes (run the generator if not)."""
    completed = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_generator_stale_block_expect_reported_then_rewritten(tmp_path: Path) -> None:
    """A block that differs from its class is reported by check, fixed by write."""
    docs = _page(
        tmp_path,
        "# T\n\n<!-- BEGIN GENERATED: sample -->\nold\n<!-- END GENERATED: sample -->\n",
    )
    source = _source()
    checked = gen.generate([source], docs, write=False)
    assert checked.stale == ["docs/configuration.md: sample"]
    assert "old" in (docs / "configuration.md").read_text()
    gen.generate([source], docs, write=True)
    text = (docs / "configuration.md").read_text()
    assert (
        "| <code>SAMPLE__<wbr>URL</code> | `str` | *(required)* | Where to connect, "
        "e.g. `redis://host`. |" in text
    )
    retries = (
        "| <code>SAMPLE__<wbr>RETRIES</code> | `int` | `3` | How often to retry. |"
    )
    assert retries in text
    assert gen.generate([source], docs, write=False).stale == []


def test_generator_missing_markers_expect_section_appended(tmp_path: Path) -> None:
    """A class whose block is missing gets a new section at the end of its page."""
    docs = _page(tmp_path, "# T\n")
    gen.generate([_source()], docs, write=True)
    text = (docs / "configuration.md").read_text()
    assert text.startswith(
        "# T\n\n## `SampleSettings`\n\n<!-- BEGIN GENERATED: sample -->"
    )
    assert text.rstrip().endswith("<!-- END GENERATED: sample -->")


def test_generator_optional_absent_expect_skipped(tmp_path: Path) -> None:
    """An optional class from a package that is not installed is skipped cleanly."""
    docs = _page(tmp_path, "# T\n")
    outcome = gen.generate(
        [_source(target="spakky.no_such_package:Settings", optional=True)],
        docs,
        write=True,
    )
    assert outcome.stale == []
    assert outcome.skipped == [
        "sample (spakky.no_such_package:Settings is not installed)"
    ]
    assert (docs / "configuration.md").read_text() == "# T\n"


def test_generator_required_absent_expect_error(tmp_path: Path) -> None:
    """A required class that cannot be imported is an error, not a silent skip."""
    with pytest.raises(gen.GeneratorError, match="cannot import"):
        gen.generate(
            [_source(target="spakky.no_such_package:Settings")],
            _page(tmp_path, "# T\n"),
            write=False,
        )


def test_generator_undocumented_field_expect_error(tmp_path: Path) -> None:
    """A field without a docstring fails the generator, naming the field."""
    with pytest.raises(gen.GeneratorError, match=r"\['name'\] have no docstring"):
        gen.generate(
            [_source(target=f"{__name__}:UndocumentedSettings")],
            _page(tmp_path, "# T\n"),
            write=False,
        )


def test_generator_unbalanced_markers_expect_error(tmp_path: Path) -> None:
    """A page with only one of a block's markers is refused."""
    docs = _page(tmp_path, "<!-- BEGIN GENERATED: sample -->\n")
    with pytest.raises(gen.GeneratorError, match="only one of its markers"):
        gen.generate([_source()], docs, write=False)


def test_generator_check_cli_stale_expect_exit_1(tmp_path: Path) -> None:
    """``--check`` exits 1 with a message naming the page and the fix."""
    docs = _page(
        tmp_path,
        "<!-- BEGIN GENERATED: celery-config -->\n<!-- END GENERATED: celery-config -->\n"
        "<!-- BEGIN GENERATED: dispatch-auth-config -->\n"
        "<!-- END GENERATED: dispatch-auth-config -->\n",
    )
    (docs / "configuration-taskiq.md").write_text(
        "<!-- BEGIN GENERATED: taskiq-config -->\n<!-- END GENERATED: taskiq-config -->\n"
    )
    completed = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--docs", str(docs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1
    assert "out of date in docs/configuration.md: celery-config" in completed.stderr
    assert "run `python tools/gen_config_docs.py`" in completed.stderr


def test_mkdocs_site_expect_strict_build(tmp_path: Path) -> None:
    """The site builds with ``mkdocs build --strict``: no broken links or anchors."""
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mkdocs is not installed; `python -m uv sync` installs it")
        pytest.skip("mkdocs is not installed (python -m uv sync installs it)")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_generator_variable_cell_expect_breaks_only_after_underscores() -> None:
    """Long variable names wrap between words in a narrow column, never inside one."""
    assert gen.variable_cell("SPAKKY_CELERY__TASK_ACKS_LATE") == (
        "<code>SPAKKY_<wbr>CELERY__<wbr>TASK_<wbr>ACKS_<wbr>LATE</code>"
    )
