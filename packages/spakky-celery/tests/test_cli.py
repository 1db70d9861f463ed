"""The ``spakky-celery`` command: loading applications, listing tasks, errors."""

import io

import pytest
from celery import Celery

from spakky.dispatch.core.loading import ApplicationNotFoundError, load_application
from spakky.plugins.celery import cli

from . import cli_targets

TARGETS = cli_targets.__name__


def test_load_factory_expect_started_application(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """A factory is called and its application started."""
    application = load_application(f"{TARGETS}:build")
    try:
        assert application.application_context.is_started
        assert application.container.get(Celery).main == "spakky-celery"
    finally:
        application.stop()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("no_colon", "write it as package.module:attribute"),
        ("no.such.module:app", "module 'no.such.module' was not found"),
        (f"{TARGETS}:missing", "has no attribute 'missing'"),
        (f"{TARGETS}:NOT_AN_APP", "is a int, not a SpakkyApplication"),
        (f"{TARGETS}:needs_arguments", "is a callable that needs arguments"),
    ],
)
def test_load_bad_spec_expect_clear_error(spec: str, expected: str) -> None:
    """Every unusable spec says what is wrong."""
    with pytest.raises(ApplicationNotFoundError, match=expected):
        load_application(spec)


def test_tasks_command_expect_every_task_and_schedule(
    memory_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tasks`` lists names, kinds and beat schedules."""
    assert cli.main(["tasks", f"{TARGETS}:build"]) == 0
    out = capsys.readouterr().out
    prefix = TARGETS.replace("cli_targets", "plugin_handlers")
    assert out.startswith("11 task(s)\n")
    assert f"{prefix}.SyncHandler.add  [task]\n" in out
    assert f"{prefix}.AsyncHandler.mul  [task, async]\n" in out
    assert (
        f"{prefix}.MaintenanceHandler.both  [task, schedule]  <freq: 10.00 seconds>"
        in out
    )
    assert "MaintenanceHandler.weekly_report  [schedule]  <crontab: 0 9 * * 1" in out
    assert "MaintenanceHandler.daily_cleanup  [schedule]  <crontab: 0 3 * * *" in out
    assert "(scheduled as (days=30))\n" in out
    assert ".eventually  [task]  (retries up to 3)\n" in out


def test_usage_errors_expect_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown commands and bad specs exit 2 with a message on stderr."""
    assert cli.main([]) == 2
    assert cli.main(["run", "x:y"]) == 2
    assert "usage: spakky-celery" in capsys.readouterr().err
    assert cli.main(["tasks", "nope"]) == 2
    assert (
        "spakky-celery: Cannot load the Spakky application" in capsys.readouterr().err
    )


def test_worker_command_passes_options_to_celery_expect_celery_exit_code(
    memory_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``worker``/``beat`` hand the rest of the command line to Celery's CLI."""
    seen: list[list[str]] = []

    def fake_start(self: Celery, argv: list[str]) -> int:
        seen.append(argv)
        return 3

    monkeypatch.setattr(Celery, "start", fake_start)
    assert cli.main(["worker", f"{TARGETS}:build", "-P", "solo", "-c", "1"]) == 3
    assert cli.main(["beat", f"{TARGETS}:build"]) == 3
    assert seen == [["worker", "-P", "solo", "-c", "1"], ["beat"]]


def test_list_tasks_without_schedule_expect_no_schedule_text(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """Tasks without a beat entry print no schedule."""
    application = load_application(f"{TARGETS}:build")
    try:
        out = io.StringIO()
        cli.COMMAND_LINE.list_tasks(application, out)
        line = next(x for x in out.getvalue().splitlines() if "SyncHandler.add" in x)
        assert line.endswith("[task]")
    finally:
        application.stop()


@pytest.mark.parametrize(
    ("command", "option"), [("worker", "--concurrency"), ("beat", "--max-interval")]
)
def test_command_help_expect_celery_own_options_without_application(
    capsys: pytest.CaptureFixture[str], command: str, option: str
) -> None:
    """``worker --help`` / ``beat --help`` print Celery's own options, exit 0."""
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: spakky-celery {command} [-A] APP [options...]")
    assert f"Usage: celery {command} [OPTIONS]" in out
    assert option in out


def test_version_expect_celery_and_kombu_versions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--version`` names our distributions and Celery's."""
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("spakky-celery ")
    assert "\n  celery " in out
    assert "\n  kombu " in out
