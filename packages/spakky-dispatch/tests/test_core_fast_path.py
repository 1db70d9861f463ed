"""The shared shape of guarded fast paths: a probe's finding and one warning."""

import logging

import pytest

from spakky.dispatch.core.adapter import FallbackWarning, changed_checks


def test_changed_checks_all_pass_expect_none() -> None:
    """No failed check: no problem."""
    assert changed_checks({"a": True, "b": True}) is None
    assert changed_checks({}) is None


def test_changed_checks_some_fail_expect_named_in_order() -> None:
    """The failed checks are named, in the probe's order."""
    problem = changed_checks({"b.source": False, "a": True, "c(x=)": False})
    assert problem == "changed: b.source, c(x=)"


def test_fallback_warning_logs_each_problem_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One line per problem per process; cache_clear lets it log again."""
    logger = logging.getLogger("test.fast_path")
    warn = FallbackWarning(logger, "lib differs (%s); taking the public path")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        warn("changed: a")
        warn("changed: a")
        warn("changed: b")
        warn.cache_clear()
        warn("changed: a")
    assert [record.getMessage() for record in caplog.records] == [
        "lib differs (changed: a); taking the public path",
        "lib differs (changed: b); taking the public path",
        "lib differs (changed: a); taking the public path",
    ]
    assert {record.levelno for record in caplog.records} == {logging.WARNING}
