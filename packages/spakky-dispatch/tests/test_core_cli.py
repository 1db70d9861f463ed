"""The command line shared by the transport plugins, on a transport-free application."""

import logging
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from spakky.dispatch.core.cli import (
    Command,
    CommandLine,
    Invocation,
    ScheduleText,
    tool_help,
)
from spakky.dispatch.core.loading import (
    ApplicationImportError,
    ApplicationNotFoundError,
    load_application,
)
from spakky.dispatch.core.settings import redact, settings_problems
from spakky.dispatch.core.startup import EMPTY_APPLICATION_WARNING

from .cli_apps import good

APPS = good.__name__.rpartition(".")[0]
SECRET = "hunter2-vault-token"


class Ran:
    """What the fake ``work`` command saw."""

    calls: ClassVar[list[Invocation]] = []
    helps: ClassVar[list[str]] = []


def _run(call: Invocation) -> int:
    Ran.calls.append(call)
    return 7


def _help() -> int:
    sys.stdout.write("TOOL HELP\n")
    Ran.helps.append("work")
    return 0


def _schedules(application: object) -> ScheduleText:
    return lambda binding: "every day" if binding.method_name == "build" else None


LINE = CommandLine(
    prog="spakky-test",
    summary="Test the shared command line.",
    distributions=("spakky-dispatch", "no-such-distribution-xyz"),
    commands=(
        Command(
            name="work", summary="do work", tool="tool work", run=_run, show_help=_help
        ),
    ),
    schedules=_schedules,
)


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    Ran.calls.clear()
    Ran.helps.clear()
    yield
    for name in [m for m in sys.modules if m.startswith(f"{APPS}.")]:
        if name != good.__name__:
            sys.modules.pop(name, None)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["help"]])
def test_cli_help_expect_stdout_and_exit_zero(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Help goes to stdout with exit 0 and lists every command."""
    assert LINE.main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: spakky-test [-A APP] COMMAND [APP]")
    assert "  work   do work (options go to `tool work`)" in out
    assert "  tasks  list the application's tasks" in out
    assert "-A, --app APP" in out
    assert err == ""


def test_cli_version_expect_each_distribution_and_python(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--version`` names every declared distribution and Python."""
    assert LINE.main(["--version"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("spakky-dispatch ")
    assert out[1] == "  no-such-distribution-xyz (not installed)"
    assert out[2].startswith("  Python 3.")


@pytest.mark.parametrize(
    "argv",
    [["work", "--help"], ["work", "-h"], ["help", "work"], ["work", "x:y", "--help"]],
)
def test_cli_command_help_expect_tool_help_without_application(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A command's help shows the tool's own options; nothing is loaded."""
    assert LINE.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: spakky-test work [-A] APP [options...]\n\nDo work.")
    assert out.endswith("passed on unchanged:\n\nTOOL HELP\n")
    assert Ran.helps == ["work"]
    assert Ran.calls == []


def test_cli_tasks_help_expect_own_text(capsys: pytest.CaptureFixture[str]) -> None:
    """``tasks --help`` describes the listing."""
    assert LINE.main(["tasks", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: spakky-test tasks [-A] APP")


@pytest.mark.parametrize(
    "argv",
    [
        ["work", f"{APPS}.good:build", "--fast", "1"],
        ["-A", f"{APPS}.good:build", "work", "--fast", "1"],
        [f"--app={APPS}.good:build", "work", "--fast", "1"],
        ["work", "-A", f"{APPS}.good:build", "--fast", "1"],
        ["work", f"-A{APPS}.good:build", "--fast", "1"],
        ["work", "--app", f"{APPS}.good:build", "--fast", "1"],
    ],
)
def test_cli_application_forms_expect_command_run_with_options(argv: list[str]) -> None:
    """The application may follow the command or be given with -A/--app."""
    assert LINE.main(argv) == 7
    [call] = Ran.calls
    try:
        assert call.spec == f"{APPS}.good:build"
        assert call.options == ("--fast", "1")
        assert call.application.application_context.is_started
    finally:
        call.application.stop()


def test_cli_tasks_expect_listing_with_schedule_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``tasks`` lists the tasks with the transport's schedule text."""
    assert LINE.main(["tasks", f"{APPS}.good:build"]) == 0
    out = capsys.readouterr().out
    assert out == f"1 task(s)\n  {APPS}.good.Reports.build  [task]  every day\n"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "name a command"),
        (["wrok", "x:y"], "unknown command 'wrok'; did you mean 'work'?"),
        (["zzz"], "unknown command 'zzz' (commands: work, tasks, help)"),
        (["x.main:app", "work"], "name the command first, e.g. `spakky-test worker"),
        (["help", "nope"], "unknown command 'nope'"),
        (["--verbose", "work"], "unknown option '--verbose'"),
        (["-A"], "-A needs an application"),
        (["work"], "work: name the application, e.g. `spakky-test work myservice"),
        (["work", "--fast"], "work: name the application"),
    ],
)
def test_cli_usage_errors_expect_exit_two_with_reason_on_stderr(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mistakes on the command line say what is wrong, on stderr, exit 2."""
    assert LINE.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("spakky-test: ")
    assert expected in err
    assert "`spakky-test --help` lists the commands" in err


def test_cli_module_not_found_expect_hint_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A missing application module is a short message with the PYTHONPATH hint."""
    assert LINE.main(["tasks", f"{APPS}.nothing_here:app"]) == 2
    err = capsys.readouterr().err
    assert f"module '{APPS}.nothing_here' was not found; run from the project" in err
    assert "Traceback" not in err


def test_cli_module_failed_to_import_expect_message_and_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A module that raises while importing is not "not found": its traceback shows."""
    assert LINE.main(["tasks", f"{APPS}.broken:app"]) == 2
    err = capsys.readouterr().err
    assert "module failed to import" in err
    assert (
        "raised ModuleNotFoundError: No module named 'spakky_no_such_dependency_xyz'"
        in err
    )
    assert "Traceback (most recent call last)" in err
    assert "cli_apps/broken.py" in err
    assert "was not found" not in err


def test_load_application_failed_import_expect_import_error_with_cause() -> None:
    """The library raises ``ApplicationImportError`` (an ``ApplicationNotFoundError``)."""
    with pytest.raises(ApplicationImportError) as caught:
        load_application(f"{APPS}.broken:app")
    assert isinstance(caught.value, ApplicationNotFoundError)
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


def test_cli_settings_error_at_start_expect_variable_without_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A settings class rejecting a variable: its name and why, never the value."""
    monkeypatch.setenv("SPAKKY_CLITEST_VAULT_TOKEN", SECRET)
    assert LINE.main(["tasks", f"{APPS}.settings:build"]) == 2
    err = capsys.readouterr().err
    assert (
        "the application's settings are invalid (rejected values are not shown)" in err
    )
    assert "  SPAKKY_CLITEST_VAULT_TOKEN: Input should be a valid integer" in err
    assert SECRET not in err
    assert "input_value" not in err


def test_cli_settings_error_at_import_expect_variable_without_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same when the settings are read while the module is imported."""
    monkeypatch.setenv("SPAKKY_CLITEST_VAULT_TOKEN", SECRET)
    assert LINE.main(["tasks", f"{APPS}.settings_at_import:app"]) == 2
    err = capsys.readouterr().err
    assert "SPAKKY_CLITEST_VAULT_TOKEN: Input should be a valid integer" in err
    assert SECRET not in err
    assert "Traceback" not in err
    with pytest.raises(ApplicationImportError) as caught:
        load_application(f"{APPS}.settings_at_import:app")
    assert SECRET not in str(caught.value)
    assert "invalid settings: SPAKKY_CLITEST_VAULT_TOKEN" in str(caught.value)


def test_cli_other_start_failure_expect_traceback_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any other failure shows its traceback, with secret-looking variables masked."""
    monkeypatch.setenv("SPAKKY_CLITEST_KEY", SECRET)
    assert LINE.main(["tasks", f"{APPS}.settings:at_start"]) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: cannot open vault with **" in err
    assert "Traceback (most recent call last)" in err
    assert SECRET not in err


def test_settings_problems_unknown_model_expect_class_and_field() -> None:
    """A plain pydantic model (no settings class) is named by class and field."""

    class Payment(BaseModel):
        amount: int

    with pytest.raises(ValidationError) as caught:
        Payment.model_validate({"amount": "lots"})
    assert settings_problems(caught.value) == [
        "Payment.amount: Input should be a valid integer, unable to parse string "
        "as an integer"
    ]
    assert settings_problems(RuntimeError("x")) is None


def test_settings_problems_model_level_error_expect_title() -> None:
    """An error without a location (a model validator) names the class."""
    from pydantic import model_validator

    class Window(BaseModel):
        start: int
        end: int

        @model_validator(mode="after")
        def _ordered(self) -> "Window":
            if self.end < self.start:
                raise ValueError("end is before start")
            return self

    with pytest.raises(ValidationError) as caught:
        Window(start=2, end=1)
    assert settings_problems(caught.value) == ["Window: end is before start"]


def test_settings_problems_lookalike_expect_none() -> None:
    """An error named ValidationError that is not pydantic's is left alone."""

    class ValidationError(Exception):  # mimics a foreign library
        title = "X"

        def errors(self) -> list[object]:
            return []

    assert settings_problems(ValidationError()) is None


def test_redact_expect_secret_values_and_url_passwords_masked() -> None:
    """Secret-named values and URL passwords become ``**``; short ones stay."""
    environ = {
        "APP_API_TOKEN": "tok-123456",
        "SHORT_KEY": "abc",
        "SPAKKY_CELERY__BROKER_URL": "amqp://bob:pw-98765@host//;amqp://x@h2//",
        "BAD_URL": "http://[::1",
    }
    text = "tok-123456 amqp://bob:pw-98765@host// abc"
    assert redact(text, environ) == "** amqp://bob:**@host// abc"


def test_cli_help_module_flag_expect_module_type() -> None:
    """The test applications are plain modules (guards the fixture's cleanup)."""
    assert isinstance(good, ModuleType)


def test_startup_no_task_expect_one_warning_with_scan_rule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An application with no task at all says so once, with the scan rule."""
    with caplog.at_level(logging.WARNING, logger="spakky.dispatch"):
        empty = load_application(f"{APPS}.good:empty")
        empty.stop()
        full = load_application(f"{APPS}.good:build")
        full.stop()
    warnings = [r for r in caplog.records if r.name == "spakky.dispatch"]
    assert [r.getMessage() for r in warnings] == [EMPTY_APPLICATION_WARNING]
    assert warnings[0].levelno == logging.WARNING
    assert "skips that module itself" in EMPTY_APPLICATION_WARNING


def test_settings_problems_without_pydantic_settings_expect_class_and_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before pydantic-settings is imported, a settings class is named, not its variable."""

    class Limits(BaseModel):
        size: int

    with pytest.raises(ValidationError) as caught:
        Limits.model_validate({"size": "big"})
    monkeypatch.delitem(sys.modules, "pydantic_settings")
    problems = settings_problems(caught.value)
    assert problems is not None
    assert problems[0].startswith("Limits.size: ")


def test_tool_help_expect_program_name_and_exit_code_kept() -> None:
    """The tool sees its own name in argv[0]; its exit code is returned, argv restored."""
    seen: list[str] = []

    def exits(code: object) -> object:
        seen.append(sys.argv[0])
        raise SystemExit(code)

    program = sys.argv[0]
    assert tool_help("tool work", lambda: exits(3))() == 3
    assert tool_help("tool work", lambda: exits("bye"))() == 0
    assert tool_help("tool work", lambda: 5)() == 5
    assert tool_help("tool work", lambda: "printed")() == 0
    assert seen == ["tool work", "tool work"]
    assert sys.argv[0] == program
