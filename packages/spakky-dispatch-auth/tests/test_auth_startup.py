"""Startup: protected @schedule methods and unenforceable metadata stop the app."""

import pytest

from spakky.dispatch.auth import InvalidTaskAuthDefinitionError, ProtectedScheduleError

from .auth_fakes import build_app
from .auth_handlers import ConflictingHandler, NightlyHandler, OpsHandler, ReportHandler
from .conftest import AppFactory


def test_protected_schedule_method_expect_startup_refused_naming_it() -> None:
    """A @protected @schedule method: the application does not start."""
    with pytest.raises(ProtectedScheduleError) as caught:
        build_app(NightlyHandler)
    text = str(caught.value)
    assert "NightlyHandler.rebuild requires AUTHENTICATED 'authenticated'" in text
    assert "scheduled runs carry no caller identity" in text


def test_schedule_on_protected_class_expect_startup_refused_naming_only_it() -> None:
    """A class-level requirement reaches its @schedule methods too."""
    with pytest.raises(ProtectedScheduleError) as caught:
        build_app(OpsHandler)
    assert "OpsHandler.rotate requires ROLE 'ops'" in str(caught.value)
    assert "rotate_now" not in str(caught.value)


def test_several_protected_schedules_expect_one_error_naming_all() -> None:
    """Every offending method is listed at once."""
    with pytest.raises(ProtectedScheduleError) as caught:
        build_app(NightlyHandler, OpsHandler)
    assert "NightlyHandler.rebuild" in str(caught.value)
    assert "OpsHandler.rotate" in str(caught.value)


def test_mixed_definition_errors_expect_each_message_kept() -> None:
    """Different problems are reported together, each with its own advice."""
    with pytest.raises(InvalidTaskAuthDefinitionError) as caught:
        build_app(NightlyHandler, ConflictingHandler)
    assert type(caught.value) is InvalidTaskAuthDefinitionError
    text = str(caught.value)
    assert "ConflictingHandler.both is marked @public_access" in text
    assert "NightlyHandler.rebuild requires" in text
    assert ProtectedScheduleError.message in text


def test_unprotected_schedule_expect_startup_ok(make_app: AppFactory) -> None:
    """Unprotected schedules (and protected tasks) start normally."""
    harness = make_app(ReportHandler)
    assert harness.binding(ReportHandler, "tick").schedule is not None
    assert harness.propagator.plan_for(
        harness.binding(ReportHandler, "whoami")
    ).protected
