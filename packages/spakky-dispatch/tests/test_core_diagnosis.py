"""Telling a misconfigured broker URL apart from other broker failures.

The texts are the ones the client libraries produce (read from real brokers
by the fault tests, ``tests/faults/test_broker_config_faults.py``).
"""

import pytest

from spakky.dispatch.core.diagnosis import configuration_problem


class AuthenticationError(ConnectionError):
    """Stands for redis-py's class of the same name."""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "invalid username-password pair or user is disabled.",
            "user name or password",
        ),
        ("WRONGPASS invalid username-password pair", "user name or password"),
        ("Authentication required.", "user name or password"),
        (
            "(0, 0): (403) ACCESS_REFUSED - Login was refused using authentication "
            "mechanism PLAIN.",
            "user name or password",
        ),
        (
            "ACCESS_REFUSED - access to exchange 'x' in vhost '/' refused for user",
            "permissions",
        ),
        (
            "Connection.open: (530) NOT_ALLOWED - vhost novhost not found",
            "virtual host",
        ),
        (
            "Expected one of ['Connection.OpenOk'], got <Connection.Close object at 0x1>",
            "virtual host",
        ),
        ("DB index is out of range", "database with the index"),
        ("ERR invalid DB index", "database with the index"),
    ],
)
def test_configuration_problem_known_texts_expect_meaning(
    text: str, expected: str
) -> None:
    """Each client's refusal text maps to what is wrong with the URL."""
    problem = configuration_problem(RuntimeError(text))
    assert problem is not None
    assert expected in problem


def test_configuration_problem_in_cause_chain_expect_found() -> None:
    """A refusal wrapped by the transport (kombu's OperationalError) is found."""
    try:
        try:
            raise AuthenticationError("")
        except AuthenticationError as cause:
            raise OSError("publish failed") from cause
    except OSError as error:
        problem = configuration_problem(error)
    assert problem is not None
    assert "user name or password" in problem


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError("[Errno 111] Connection refused"),
        TimeoutError("timed out"),
        RuntimeError("PRECONDITION_FAILED - queue limit"),
    ],
)
def test_configuration_problem_other_failures_expect_none(error: Exception) -> None:
    """Unreachable, slow or full brokers are not configuration faults."""
    assert configuration_problem(error) is None


def test_configuration_problem_cyclic_chain_expect_terminates() -> None:
    """An error whose context points back at itself is read once."""
    error = RuntimeError("boom")
    other = RuntimeError("other")
    error.__context__ = other
    other.__context__ = error
    assert configuration_problem(error) is None
