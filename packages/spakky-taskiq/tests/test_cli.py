"""``spakky-taskiq``: loading the application, listing, worker and scheduler."""

import asyncio
import os
import signal
import sys
from typing import Any

import pytest
from taskiq import AsyncBroker, TaskiqScheduler
from taskiq.cli.scheduler.args import SchedulerArgs
from taskiq.cli.worker.args import WorkerArgs

from spakky.dispatch.core.loading import ApplicationNotFoundError, load_application
from spakky.plugins.taskiq import cli, target

from . import cli_targets

TARGETS = cli_targets.__name__


def test_cli_usage_errors_expect_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing or unknown command prints the usage and exits with 2."""
    assert cli.main([]) == 2
    assert cli.main(["serve", f"{TARGETS}:factory"]) == 2
    assert "usage: spakky-taskiq" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("no-colon", "write it as package.module:attribute"),
        ("no_such_module_xyz:app", "was not found"),
        (f"{TARGETS}:missing", "has no attribute 'missing'"),
        (f"{TARGETS}:needs_arguments", "callable that needs arguments"),
        (f"{TARGETS}:NOT_AN_APP", "is a int, not a SpakkyApplication"),
    ],
)
def test_cli_bad_application_expect_exit_2_with_reason(
    memory_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    spec: str,
    expected: str,
) -> None:
    """An unusable application spec is explained, not a traceback."""
    assert cli.main(["tasks", spec]) == 2
    assert expected in capsys.readouterr().err


def test_cli_tasks_expect_every_task_and_schedule_listed(
    memory_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tasks`` lists each task with its kinds and its schedule."""
    assert cli.main(["tasks", f"{TARGETS}:namespace.factory"]) == 0
    out = capsys.readouterr().out
    prefix = f"{cli_targets.plugin_handlers.__name__}.Mailer"
    assert out.startswith("7 task(s)\n")
    assert f"  {prefix}.send  [task]\n" in out
    assert f"  {prefix}.send_async  [task, async]\n" in out
    assert f"  {prefix}.digest  [schedule]  every 0:05:00\n" in out
    assert (
        f"  {prefix}.nightly  [schedule]  cron '0 3 * * *' in UTC"
        "  (scheduled as ('eu'))\n"
    ) in out


def test_load_application_started_expect_same_application(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """A started application is used as it is; a factory's result is started."""
    app = load_application(f"{TARGETS}:started")
    try:
        assert load_application(f"{TARGETS}:started") is app
        assert app.application_context.is_started
    finally:
        app.stop()
        cli_targets._started.clear()


def test_cli_outside_project_folder_expect_cwd_importable(
    memory_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like ``taskiq worker``, the current folder is put on the import path."""
    path = [entry for entry in sys.path if entry not in ("", os.getcwd())]
    monkeypatch.setattr("sys.path", path)
    assert cli.main(["tasks", f"{TARGETS}:factory"]) == 0
    assert sys.path[0] == os.getcwd()


def test_cli_worker_expect_taskiq_worker_on_the_target_broker(
    memory_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``worker`` runs taskiq's worker on the target module, options passed on."""
    seen: list[WorkerArgs] = []

    def run_worker(args: WorkerArgs) -> int | None:
        seen.append(args)
        return None

    monkeypatch.setattr(cli, "run_worker", run_worker)
    monkeypatch.delenv(target.APPLICATION_VARIABLE, raising=False)
    spec = f"{TARGETS}:factory"
    assert cli.main(["worker", spec, "--workers", "1", "--max-async-tasks", "7"]) == 0
    assert cli.main(["worker", spec, "--receiver", "my.module:Receiver"]) == 0
    [args, own] = seen
    assert args.broker == target.TARGET
    assert (args.workers, args.max_async_tasks) == (1, 7)
    assert args.receiver == cli.RECEIVER
    assert own.receiver == "my.module:Receiver"
    assert os.environ[target.APPLICATION_VARIABLE] == spec


def test_cli_scheduler_expect_taskiq_scheduler_of_the_application(
    memory_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``scheduler`` runs taskiq's scheduler loop on the application's scheduler."""
    seen: list[SchedulerArgs] = []

    async def run_scheduler(args: SchedulerArgs) -> None:
        seen.append(args)

    monkeypatch.setattr(cli, "run_scheduler", run_scheduler)
    assert cli.main(["scheduler", f"{TARGETS}:factory", "--skip-first-run"]) == 0
    [args] = seen
    assert isinstance(args.scheduler, TaskiqScheduler)
    assert args.skip_first_run is True


def test_cli_scheduler_sigterm_expect_loop_cancelled_cleanly(
    memory_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM cancels the scheduler loop, which then shuts down and returns."""
    stopped: list[str] = []

    async def run_scheduler(args: SchedulerArgs) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            stopped.append("cancelled")

    monkeypatch.setattr(cli, "run_scheduler", run_scheduler)
    assert cli.main(["scheduler", f"{TARGETS}:factory"]) == 0
    assert stopped == ["cancelled"]


def test_target_broker_expect_application_broker_once_per_process(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """``target:broker`` loads the named application once and serves its broker."""
    memory_env.setenv(target.APPLICATION_VARIABLE, f"{TARGETS}:factory")
    target._brokers.clear()
    try:
        broker: Any = target.broker  # type: ignore[attr-defined]
        assert isinstance(broker, AsyncBroker)
        assert target.broker is broker  # type: ignore[attr-defined]
    finally:
        target._brokers.clear()


def test_target_misuse_expect_clear_errors(memory_env: pytest.MonkeyPatch) -> None:
    """Without the variable the error says how to start workers; other names fail."""
    memory_env.delenv(target.APPLICATION_VARIABLE, raising=False)
    target._brokers.clear()
    with pytest.raises(ApplicationNotFoundError, match="spakky-taskiq worker"):
        _ = target.broker  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = target.scheduler  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("command", "option"),
    [("worker", "--max-async-tasks"), ("scheduler", "--skip-first-run")],
)
def test_cli_command_help_expect_taskiq_own_options_without_application(
    capsys: pytest.CaptureFixture[str], command: str, option: str
) -> None:
    """``worker --help`` / ``scheduler --help`` print taskiq's own options, exit 0."""
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: spakky-taskiq {command} [-A] APP [options...]")
    assert f"usage: taskiq {command}" in out
    assert option in out


def test_list_tasks_into_stream_expect_same_listing(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """``COMMAND_LINE.list_tasks(application, out)`` writes to any stream."""
    import io

    application = load_application(f"{TARGETS}:factory")
    try:
        out = io.StringIO()
        cli.COMMAND_LINE.list_tasks(application, out)
    finally:
        application.stop()
    assert out.getvalue().startswith("7 task(s)\n")
