"""The spakky-celery plugin: composition, registration, the default Celery pod."""

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from celery import Celery

import spakky.plugins.celery
from spakky.dispatch.core import InvalidTaskDefinitionError
from spakky.dispatch.core.adapter import TaskRegistry
from spakky.plugins.celery import InvalidSettingsError
from spakky.plugins.celery.main import initialize

from . import plugin_bad_handlers, plugin_handlers, plugin_user_celery
from .conftest import AppFactory


def test_entry_point_registered_expect_initialize() -> None:
    """The plugin is discoverable in the ``spakky.plugins`` group."""
    found = {ep.name: ep for ep in entry_points(group="spakky.plugins")}
    assert spakky.plugins.celery.PLUGIN_NAME.name in found
    assert found["spakky-celery"].load() is initialize


def test_default_celery_pod_built_from_config_expect_settings_applied(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Without a user pod the plugin's Celery app follows SPAKKY_CELERY__*."""
    memory_env.setenv("SPAKKY_CELERY__TIMEZONE", "Asia/Seoul")
    memory_env.setenv("SPAKKY_CELERY__APP_NAME", "orders")
    celery = make_app(plugin_handlers).container.get(Celery)
    assert celery.main == "orders"
    assert celery.conf.timezone == "Asia/Seoul"
    assert celery.conf.broker_url == "memory://"


def test_tasks_registered_with_module_class_method_names_expect_endpoints(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Every @task/@schedule method has an endpoint named module.Class.method."""
    app = make_app(plugin_handlers)
    celery = app.container.get(Celery)
    prefix = plugin_handlers.__name__
    expected = {
        f"{prefix}.SyncHandler.add",
        f"{prefix}.SyncHandler.outer",
        f"{prefix}.SyncHandler.inner",
        f"{prefix}.AsyncHandler.mul",
        f"{prefix}.AsyncHandler.chain",
        f"{prefix}.MaintenanceHandler.health_check",
        f"{prefix}.MaintenanceHandler.daily_cleanup",
        f"{prefix}.MaintenanceHandler.weekly_report",
        f"{prefix}.MaintenanceHandler.both",
        f"{prefix}.RetryingHandler.eventually",
        f"{prefix}.RetryingHandler.report",
    }
    assert expected <= set(celery.tasks)
    assert f"{prefix}.SyncHandler.plain" not in celery.tasks
    registry = app.container.get(TaskRegistry)
    assert {binding.name for binding in registry} == expected
    both = registry.get(f"{prefix}.MaintenanceHandler.both")
    assert both.dispatchable
    assert both.schedule is not None


def test_seed_schedules_in_beat_expect_celery_schedules(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """The seed's three schedules and a @task+@schedule land in beat_schedule."""
    celery = make_app(plugin_handlers).container.get(Celery)
    beat = celery.conf.beat_schedule
    prefix = f"{plugin_handlers.__name__}.MaintenanceHandler"
    assert beat[f"{prefix}.health_check"]["schedule"].run_every.total_seconds() == 1800
    daily = beat[f"{prefix}.daily_cleanup"]["schedule"]
    assert (daily.hour, daily.minute) == ({3}, {0})
    weekly = beat[f"{prefix}.weekly_report"]["schedule"]
    assert (weekly.day_of_week, weekly.hour, weekly.minute) == ({1}, {9}, {0})
    assert beat[f"{prefix}.both"]["task"] == f"{prefix}.both"


def test_user_celery_pod_added_before_plugin_expect_used_without_config(
    monkeypatch: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """A user's Celery pod registered first is used; no broker variable needed."""
    monkeypatch.delenv("SPAKKY_CELERY__BROKER_URL", raising=False)
    app = make_app(plugin_handlers, before=(plugin_user_celery.user_celery,))
    assert app.container.get(Celery) is plugin_user_celery.USER_APP
    assert (
        f"{plugin_handlers.__name__}.SyncHandler.add"
        in plugin_user_celery.USER_APP.tasks
    )


def test_user_celery_pod_scanned_after_plugin_expect_replaces_default(
    monkeypatch: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """A user's Celery pod scanned after loading the plugin wins over the default."""
    monkeypatch.delenv("SPAKKY_CELERY__BROKER_URL", raising=False)
    app = make_app(plugin_user_celery, plugin_handlers)
    assert app.container.get(Celery) is plugin_user_celery.USER_APP


def test_missing_broker_url_expect_startup_error_naming_variable(
    monkeypatch: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Starting without a broker URL fails at startup and names the variable."""
    monkeypatch.delenv("SPAKKY_CELERY__BROKER_URL", raising=False)
    with pytest.raises(InvalidSettingsError, match="SPAKKY_CELERY__BROKER_URL"):
        make_app(plugin_handlers)


def test_task_on_non_handler_pod_expect_startup_error(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """A @task method on a class that is not a @TaskHandler is refused at startup."""
    with pytest.raises(InvalidTaskDefinitionError, match="NotAHandler"):
        make_app(plugin_bad_handlers)


def test_two_applications_expect_separate_celery_apps_and_tasks(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Two applications in one process never see each other's endpoints."""
    first = make_app(plugin_handlers).container.get(Celery)
    memory_env.setenv("SPAKKY_CELERY__APP_NAME", "second")
    second = make_app().container.get(Celery)
    assert first is not second
    name = f"{plugin_handlers.__name__}.SyncHandler.add"
    assert name in first.tasks
    assert name not in second.tasks


WORKER_ONLY = ("celery.worker", "shelve", "difflib", "redis", "kombu.transport.redis")
"""Modules only a worker (or a Redis broker, or a typo in a URL) needs; a bare
Celery app loads a few of them itself (its Django fixup imports the worker)."""


def test_caller_process_expect_no_worker_modules_loaded(
    memory_env: pytest.MonkeyPatch,
) -> None:
    """Importing the plugin and starting an application with a task loads no
    worker module a bare Celery app does not; the worker still gets
    ``GuardedConsumer``."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from celery import Celery\n"
        "Celery('bare', broker='memory://', set_as_current=False)\n"
        f"bare = {{m for m in sys.modules if m.startswith({WORKER_ONLY!r})}}\n"
        "from kombu.utils.imports import symbol_by_name\n"
        "from spakky.core.application.application import SpakkyApplication\n"
        "from spakky.core.application.application_context import ApplicationContext\n"
        "import spakky.plugins.celery\n"
        "from tests import plugin_handlers\n"
        "app = SpakkyApplication(ApplicationContext())\n"
        "app.load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})\n"
        "app.scan(plugin_handlers)\n"
        "app.start()\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith({WORKER_ONLY!r})"
        " and m not in bare)\n"
        "consumer = symbol_by_name(app.container.get(Celery).conf.worker_consumer)\n"
        "app.stop()\n"
        "print(loaded, consumer.__module__, consumer.__name__)\n"
    )
    root = Path(__file__).parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    assert out.split() == ["[]", "spakky.dispatch.celery.consumer", "GuardedConsumer"]
