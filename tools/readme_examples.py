"""Run the examples of a README exactly as a reader would.

An example in a README is written as:

- one or more ```` ```python ```` blocks whose first line is a comment naming
  the file, e.g. ``# myservice/handlers.py``;
- one ```` ```sh ```` block of commands, run from the folder holding those files:
  ``export NAME=value`` sets a variable, a command that runs a ``worker`` or
  ``beat`` starts in the background (a worker must log ``ready.`` before the
  next line runs), any other command runs to completion and must exit 0;
- optionally, a ```` ```text ```` block right after it: the exact output of the
  last command.

``tests/test_readme_examples.py`` runs every README this way inside the
workspace; ``tools/install_check.py`` runs some of them again in fresh virtual
environments that hold only the installed wheels.
"""

import os
import re
import shlex
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT = 60.0
"""Seconds a worker may take to start, and a command to finish."""

_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
_BACKGROUND = frozenset({"worker", "beat", "scheduler"})


class ExampleError(AssertionError):
    """A README example is malformed or did not run as written."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Example:
    """The files, commands and expected output of one README example."""

    files: dict[str, str]
    """File path (relative) to content."""

    commands: list[list[str]]
    """The ``sh`` block's commands, split like a shell would."""

    expected: str | None
    """The output the last command must print, if the README shows it."""


@dataclass(slots=True)
class Outcome:
    """What running an example printed."""

    output: str
    """Standard output of the last command."""

    logs: dict[str, str] = field(default_factory=dict)
    """Output of each background process, by its first two words."""


def section(text: str, heading: str | None) -> str:
    """The part of ``text`` under ``heading`` (all of it when None)."""
    if heading is None:
        return text
    start = text.find(f"\n{heading}\n")
    if start < 0:
        raise ExampleError(f"no {heading!r} heading")
    level = heading.split(" ", 1)[0]
    end = text.find(f"\n{level} ", start + len(heading) + 2)
    return text[start : end if end > 0 else len(text)]


def parse(text: str) -> Example:
    """The example of a README (or a README section).

    Raises:
        ExampleError: There are no file blocks, or no ``sh`` block that runs them.
    """
    files: dict[str, str] = {}
    commands: list[list[str]] | None = None
    expected: str | None = None
    previous_was_run = False
    for match in _BLOCK.finditer(text):
        language, body = match[1], match[2]
        if language == "python" and body.startswith("# "):
            name, _, code = body.partition("\n")
            files[name[2:].strip()] = code
        elif (
            language == "sh"
            and files
            and any(line.split()[:1] == ["python"] for line in body.splitlines())
        ):
            commands = [shlex.split(line) for line in body.splitlines() if line.strip()]
            previous_was_run = True
            continue
        elif language == "text" and previous_was_run:
            expected = body.strip()
        previous_was_run = False
    if not files or commands is None:
        raise ExampleError("no file blocks, or no sh block with a `python` command")
    return Example(files=files, commands=commands, expected=expected)


def _wait_for_ready(log: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if "ready." in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise ExampleError(f"the worker did not start:\n{log.read_text(errors='replace')}")


def run(
    example: Example,
    folder: Path,
    *,
    bin_dir: Path,
    env: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
    wait_for: Mapping[str, str] | None = None,
) -> Outcome:
    """Write the example's files into ``folder`` and run its commands there.

    Args:
        example: What to run.
        folder: An empty folder.
        bin_dir: Where ``python`` and the console scripts live (a venv's bin).
        env: The environment to start from.
        overrides: Variables that win over the example's own ``export`` lines
            (e.g. a local broker instead of the README's Redis).
        wait_for: ``{"worker": "text"}``: after the last command, wait until a
            background process's output contains the text.

    Raises:
        ExampleError: A command failed, a worker did not start, the output
            differs from the README's, or an awaited line never came.
    """
    for name, code in example.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(code, encoding="utf-8")
    variables = {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
    background: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    outcome = Outcome(output="")
    try:
        for command in example.commands:
            if command[0] == "export":
                for assignment in command[1:]:
                    name, _, value = assignment.partition("=")
                    variables[name] = value
                variables.update(overrides or {})
                continue
            variables.update(overrides or {})
            argv = [str(bin_dir / command[0]), *command[1:]]
            role = next((word for word in command if word in _BACKGROUND), None)
            if role is not None:
                log = folder / f"{role}.log"
                process = subprocess.Popen(
                    argv,
                    cwd=folder,
                    env=variables,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                )
                background[role] = (process, log)
                if role == "worker":
                    _wait_for_ready(log, process)
                continue
            done = subprocess.run(
                argv,
                cwd=folder,
                env=variables,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
            if done.returncode != 0:
                raise ExampleError(f"{shlex.join(command)} failed:\n{done.stderr}")
            outcome.output = done.stdout
        for role, text in (wait_for or {}).items():
            process, log = background[role]
            deadline = time.monotonic() + TIMEOUT
            while text not in log.read_text(errors="replace"):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise ExampleError(
                        f"{text!r} never came from the {role}:\n{log.read_text(errors='replace')}"
                    )
                time.sleep(0.2)
    finally:
        for process, _ in background.values():
            process.terminate()
        for role, (process, log) in background.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            outcome.logs[role] = log.read_text(errors="replace")
    if example.expected is not None and outcome.output.strip() != example.expected:
        raise ExampleError(
            f"printed:\n{outcome.output}\nthe README says:\n{example.expected}"
        )
    return outcome
