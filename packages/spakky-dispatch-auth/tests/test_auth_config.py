"""``TaskAuthConfig``: the retry policy of the ERROR outcome, from the environment."""

import pytest

from spakky.dispatch.auth import ENV_PREFIX, TaskAuthConfig, TaskAuthConfigurationError


def test_config_without_variables_expect_three_retries_two_seconds_apart() -> None:
    """Unset variables give the documented defaults."""
    config = TaskAuthConfig()
    assert (config.max_retries, config.retry_delay) == (3, 2.0)


def test_config_from_environment_expect_variables_used(
    auth_env: pytest.MonkeyPatch,
) -> None:
    """``SPAKKY_DISPATCH_AUTH__MAX_RETRIES`` / ``RETRY_DELAY`` set the policy."""
    auth_env.setenv(f"{ENV_PREFIX}MAX_RETRIES", "0")
    auth_env.setenv(f"{ENV_PREFIX}RETRY_DELAY", "0.25")
    config = TaskAuthConfig()
    assert (config.max_retries, config.retry_delay) == (0, 0.25)


def test_config_negative_retries_expect_error_naming_variable(
    auth_env: pytest.MonkeyPatch,
) -> None:
    """An invalid value fails with the variable's name and the constraint."""
    auth_env.setenv(f"{ENV_PREFIX}MAX_RETRIES", "-1")
    auth_env.setenv(f"{ENV_PREFIX}RETRY_DELAY", "soon")
    with pytest.raises(TaskAuthConfigurationError) as caught:
        TaskAuthConfig()
    text = str(caught.value)
    assert (
        "SPAKKY_DISPATCH_AUTH__MAX_RETRIES: Input should be greater than or equal to 0"
        in text
    )
    assert "SPAKKY_DISPATCH_AUTH__RETRY_DELAY" in text
    assert caught.value.__cause__ is None
