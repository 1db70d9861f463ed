"""Every README's example runs as written (tools/readme_examples.py's rules).

Files, commands and expected output are read from the READMEs themselves, so a
README cannot drift from what works. Celery examples run on the embedded SQLite
broker, in the test's temporary folder.
"""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRST_APPLICATION = "## A first application"
SQLITE = {
    "SPAKKY_CELERY__BROKER_URL": "sqla+sqlite:///broker.sqlite",
    "SPAKKY_CELERY__RESULT_BACKEND": "db+sqlite:///results.sqlite",
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


examples = _load("readme_examples")


def _environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SPAKKY_") and name != "PYTHONPATH"
    }


def _run(
    readme: str, tmp_path: Path, heading: str | None = None, **options: Any
) -> tuple[Any, Any]:
    text = (ROOT / readme).read_text(encoding="utf-8")
    example = examples.parse(examples.section(text, heading))
    return example, examples.run(
        example,
        tmp_path,
        bin_dir=Path(sys.executable).parent,
        env=_environment(),
        **options,
    )


def _first_application(readme: str) -> Any:
    text = (ROOT / readme).read_text(encoding="utf-8")
    section = examples.section(text, FIRST_APPLICATION)
    for name, value in SQLITE.items():
        assert f"`{name}={value}`" in section  # the README offers these URLs
    assert "__init__.py        (empty)" in section
    return examples.parse(section)


def test_first_application_on_embedded_broker_expect_result_and_beat(
    tmp_path: Path,
) -> None:
    """The first application: worker, beat and send.py print what the README says."""
    example = _first_application("README.md")
    assert sorted(example.files) == [
        "myservice/application.py",
        "myservice/handlers.py",
        "send.py",
    ]
    example.files["myservice/__init__.py"] = ""
    outcome = examples.run(
        example,
        tmp_path,
        bin_dir=Path(sys.executable).parent,
        env=_environment(),
        overrides=SQLITE,
        wait_for={"worker": "all good"},  # only beat sends health_check
    )
    assert outcome.output.strip() == "sent to user@example.com"
    assert "sending 'Hello' to user@example.com" in outcome.logs["worker"]


def test_first_application_on_the_index_page_expect_same_as_readme() -> None:
    """The meta-package's README (its index page) shows the same application."""
    assert _first_application("packages/spakky-celery/README.md") == (
        _first_application("README.md")
    )


@pytest.mark.parametrize(
    "readme",
    [
        "packages/spakky-dispatch/README.md",
        "packages/spakky-dispatch-celery/README.md",
        "packages/spakky-dispatch-taskiq/README.md",
        "packages/spakky-dispatch-tracing/README.md",
        "packages/spakky-dispatch-auth/README.md",
        "packages/spakky-taskiq/README.md",
    ],
)
def test_package_readme_example_expect_output_as_written(
    readme: str, tmp_path: Path
) -> None:
    """Each package's example prints exactly the output its README shows."""
    example, outcome = _run(readme, tmp_path)
    assert example.expected, f"{readme} shows no output for its example"
    assert outcome.output.strip() == example.expected


def test_adapter_guide_third_transport_expect_output_as_written(
    tmp_path: Path,
) -> None:
    """The worked example of docs/writing-an-adapter.md runs as written."""
    example, outcome = _run(
        "docs/writing-an-adapter.md",
        tmp_path,
        heading="## A worked example: a third transport",
    )
    assert sorted(example.files) == [
        "main.py",
        "threads/__init__.py",
        "threads/config.py",
        "threads/endpoint.py",
        "threads/schedule.py",
        "threads/sender.py",
    ]
    assert example.expected, "the guide shows no output for its example"
    assert outcome.output.strip() == example.expected


def test_readme_example_wrong_output_expect_error(tmp_path: Path) -> None:
    """An example whose output differs from its README's is reported, not passed."""
    example = examples.parse(
        "```python\n# hello.py\nprint('hello')\n```\n\n"
        "```sh\npython hello.py\n```\n\n```text\ngoodbye\n```\n"
    )
    with pytest.raises(examples.ExampleError, match="the README says:\ngoodbye"):
        examples.run(
            example, tmp_path, bin_dir=Path(sys.executable).parent, env=_environment()
        )


def test_readme_example_failing_command_expect_error(tmp_path: Path) -> None:
    """A command that exits non-zero fails the example, with its stderr."""
    example = examples.parse(
        "```python\n# boom.py\nraise SystemExit('boom')\n```\n\n"
        "```sh\npython boom.py\n```\n"
    )
    with pytest.raises(examples.ExampleError, match=r"python boom\.py failed:\nboom"):
        examples.run(
            example, tmp_path, bin_dir=Path(sys.executable).parent, env=_environment()
        )
