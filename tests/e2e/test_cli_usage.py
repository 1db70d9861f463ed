"""Both command lines as a user meets them: run as processes, no broker needed.

Help and versions on stdout, the underlying tool's own options without an
application, ``-A``, typos, the two kinds of load failure, settings errors
that never echo a secret, and the warning for an application with no task.
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.worker import ROOT


@dataclass(frozen=True, slots=True)
class Cli:
    """One plugin's command line and what is specific to it."""

    name: str
    module: str
    prefix: str
    worker_option: str
    """An option only the underlying worker command has."""

    scheduler: str
    scheduler_option: str
    tool: str


CELERY = Cli(
    "spakky-celery",
    "spakky.plugins.celery.cli",
    "SPAKKY_CELERY__",
    "--concurrency",
    "beat",
    "--max-interval",
    "celery",
)
TASKIQ = Cli(
    "spakky-taskiq",
    "spakky.plugins.taskiq.cli",
    "SPAKKY_TASKIQ__",
    "--max-async-tasks",
    "scheduler",
    "--skip-first-run",
    "taskiq",
)

PASSWORD = "pw-not-for-your-eyes-31"


@pytest.fixture(params=[CELERY, TASKIQ], ids=lambda cli: cli.name)
def cli(request: pytest.FixtureRequest) -> Cli:
    """Each command line in turn."""
    spec: Cli = request.param
    return spec


def run(
    cli: Cli, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the command line as a process with only the given settings."""
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(("SPAKKY_", "PYTHONPATH"))
    }
    return subprocess.run(
        [sys.executable, "-m", cli.module, *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_cli_help_expect_stdout_exit_zero(cli: Cli, flag: str) -> None:
    """``--help`` prints the usage and commands to stdout and exits 0."""
    done = run(cli, flag)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {cli.name} [-A APP] COMMAND [APP]")
    assert f"  {cli.scheduler} " in done.stdout
    assert done.stderr == ""


def test_cli_version_expect_ours_and_transport_versions(cli: Cli) -> None:
    """``--version`` prints our version and the transport's."""
    done = run(cli, "--version")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{cli.name} ")
    assert any(line.startswith(f"  {cli.tool} ") for line in lines)


def test_cli_worker_help_expect_tool_options_without_application(cli: Cli) -> None:
    """``worker --help`` shows the tool's own options; no application, no broker."""
    done = run(cli, "worker", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {cli.name} worker [-A] APP [options...]")
    assert cli.worker_option in done.stdout
    assert "Cannot load" not in done.stdout + done.stderr


def test_cli_scheduler_help_expect_tool_options(cli: Cli) -> None:
    """The scheduler command (``beat`` / ``scheduler``) shows its tool's options."""
    done = run(cli, cli.scheduler, "--help")
    assert done.returncode == 0, done.stderr
    assert cli.scheduler_option in done.stdout


def test_cli_app_option_expect_tasks_listed(cli: Cli) -> None:
    """``-A package.module:attribute`` before the command, Celery's habit, works."""
    env = {f"{cli.prefix}BROKER_URL": "memory://"}
    target = f"tests.e2e.apps.cli_layout:{cli.tool}_app"
    before = run(cli, "-A", target, "tasks", env=env)
    after = run(cli, "tasks", "--app", target, env=env)
    for done in (before, after):
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("1 task(s)\n")
        assert "cli_layout.Mailer.send  [task]" in done.stdout


def test_cli_typo_expect_unknown_command_with_nearest(cli: Cli) -> None:
    """A misspelt command is named, with the nearest one suggested."""
    done = run(cli, "wroker", "x:y")
    assert done.returncode == 2
    assert (
        f"{cli.name}: unknown command 'wroker'; did you mean 'worker'?" in done.stderr
    )


def test_cli_missing_module_expect_not_found_without_traceback(
    cli: Cli, tmp_path: Path
) -> None:
    """A module that does not exist is "not found", with the PYTHONPATH hint."""
    done = run(cli, "tasks", "nowhere.main:app", cwd=tmp_path)
    assert done.returncode == 2
    assert "module 'nowhere.main' was not found; run from the project folder" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


def test_cli_module_failing_import_expect_traceback_not_not_found(
    cli: Cli, tmp_path: Path
) -> None:
    """An ImportError inside the app module is reported as such, with traceback."""
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("import shop.pricing\napp = None\n")
    (package / "pricing.py").write_text("from decimal import Decimals\n")
    done = run(cli, "tasks", "shop.main:app", cwd=tmp_path)
    assert done.returncode == 2
    assert "module failed to import" in done.stderr
    assert "ImportError: cannot import name 'Decimals' from 'decimal'" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert 'shop/pricing.py", line 1' in done.stderr
    assert "was not found" not in done.stderr


def test_cli_malformed_snapshot_key_expect_variable_named_never_value(
    cli: Cli,
) -> None:
    """A malformed snapshot key and a broker URL with a password: no value shown."""
    malformed_key = "snapshot-key-s3cr3t-vALUE"  # 25 characters: not base64
    env = {
        f"{cli.prefix}BROKER_URL": f"amqp://bob:{PASSWORD}@127.0.0.1:1//",
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY": malformed_key,
    }
    done = run(cli, "tasks", f"tests.scenarios.apps.app:{cli.tool}_app", env=env)
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY is not valid base64url" in done.stderr
    assert malformed_key not in output
    assert PASSWORD not in output
    assert "Traceback" not in output


def test_cli_invalid_dependency_settings_expect_variables_named_never_values(
    cli: Cli,
) -> None:
    """A dependency's settings class (spakky-cryptography's) rejects a value:
    the CLI names the variable, never the value nor pydantic's input_value."""
    rejected = "ttl-s3cr3t-vALUE"  # not a duration
    env = {
        f"{cli.prefix}BROKER_URL": f"amqp://bob:{PASSWORD}@127.0.0.1:1//",
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_TTL": rejected,
    }
    done = run(cli, "tasks", f"tests.scenarios.apps.app:{cli.tool}_app", env=env)
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "settings are invalid (rejected values are not shown)" in done.stderr
    assert "  SPAKKY_CRYPTOGRAPHY_SNAPSHOT_TTL: " in done.stderr
    assert rejected not in output
    assert PASSWORD not in output
    assert "input_value" not in output


def test_cli_invalid_transport_setting_expect_password_masked(cli: Cli) -> None:
    """Our own settings errors name the variable and mask the URL's password."""
    env = {f"{cli.prefix}BROKER_URL": f"amqq://bob:{PASSWORD}@127.0.0.1:1//"}
    done = run(cli, "tasks", f"tests.e2e.apps.cli_layout:{cli.tool}_app", env=env)
    assert done.returncode == 2
    assert f"{cli.prefix}BROKER_URL" in done.stderr
    assert "bob:**@" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


SCAN_RULE = "skips that module itself"


def _shop(tmp_path: Path, cli: Cli, *, handlers_apart: bool) -> None:
    """A user's project: handlers in the module that calls ``.scan()``, or apart."""
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    handlers = (
        "from spakky.task import TaskHandler, task\n\n\n"
        "@TaskHandler()\nclass Mailer:\n    @task\n"
        "    def send(self, to: str) -> None:\n        print(to)\n"
    )
    plugin = f"spakky.plugins.{cli.tool}"
    bootstrap = (
        "from spakky.core.application.application import SpakkyApplication\n"
        "from spakky.core.application.application_context import "
        "ApplicationContext\n\n"
        f"import {plugin}\n\n"
        "app = (\n    SpakkyApplication(ApplicationContext())\n"
        f"    .load_plugins(include={{{plugin}.PLUGIN_NAME}})\n"
        "    .scan()\n    .start()\n)\n"
    )
    if handlers_apart:
        (package / "handlers.py").write_text(handlers)
        (package / "main.py").write_text(bootstrap)
    else:
        (package / "main.py").write_text(handlers + "\n\n" + bootstrap)


def test_cli_handlers_beside_scan_call_expect_warning_with_scan_rule(
    cli: Cli, tmp_path: Path
) -> None:
    """Handlers in the module that calls ``.scan()``: 0 tasks and one WARNING."""
    _shop(tmp_path, cli, handlers_apart=False)
    env = {f"{cli.prefix}BROKER_URL": "memory://"}
    done = run(cli, "tasks", "shop.main:app", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "0 task(s)\n"
    assert done.stderr.count(SCAN_RULE) == 1
    assert "No @task or @schedule method is registered" in done.stderr


def test_cli_handlers_in_own_module_expect_tasks_and_no_warning(
    cli: Cli, tmp_path: Path
) -> None:
    """The documented layout (handlers.py beside main.py) registers the task."""
    _shop(tmp_path, cli, handlers_apart=True)
    env = {f"{cli.prefix}BROKER_URL": "memory://"}
    done = run(cli, "tasks", "shop.main:app", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1 task(s)\n  shop.handlers.Mailer.send  [task]\n"
    assert SCAN_RULE not in done.stderr
