"""``TaskAuthConfig``: the retry policy of the ERROR outcome, from the environment."""

import pytest

from spakky.dispatch.auth import ENV_PREFIX, TaskAuthConfig
from spakky.dispatch.core import InvalidSettingsError


def test_config_without_variables_expect_documented_defaults() -> None:
    """Unset variables give the documented defaults."""
    config = TaskAuthConfig()
    assert (config.max_retries, config.retry_delay) == (3, 2.0)
    assert (config.audience, config.max_age, config.clock_leeway) == (
        "spakky",
        300.0,
        30.0,
    )


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
    with pytest.raises(InvalidSettingsError) as caught:
        TaskAuthConfig()
    text = str(caught.value)
    assert (
        "SPAKKY_DISPATCH_AUTH__MAX_RETRIES: Input should be greater than or equal to 0"
        in text
    )
    assert "SPAKKY_DISPATCH_AUTH__RETRY_DELAY" in text
    assert caught.value.__cause__ is None


def test_config_binding_settings_from_environment_expect_used(
    auth_env: pytest.MonkeyPatch,
) -> None:
    """Audience, maximum age and clock leeway are read from the environment."""
    auth_env.setenv(f"{ENV_PREFIX}AUDIENCE", "orders-prod")
    auth_env.setenv(f"{ENV_PREFIX}MAX_AGE", "90")
    auth_env.setenv(f"{ENV_PREFIX}CLOCK_LEEWAY", "0")
    config = TaskAuthConfig()
    assert (config.audience, config.max_age, config.clock_leeway) == (
        "orders-prod",
        90.0,
        0.0,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_AGE", "0"),
        ("MAX_AGE", "inf"),
        ("MAX_AGE", "nan"),
        ("CLOCK_LEEWAY", "-1"),
        ("CLOCK_LEEWAY", "infinity"),
        ("AUDIENCE", ""),
    ],
)
def test_config_unbounded_age_or_empty_audience_expect_error(
    auth_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """No maximum age of zero or infinity, no negative leeway, no empty audience."""
    auth_env.setenv(f"{ENV_PREFIX}{variable}", value)
    with pytest.raises(InvalidSettingsError, match=f"{ENV_PREFIX}{variable}: "):
        TaskAuthConfig()


def test_config_invalid_values_expect_no_value_echoed(
    auth_env: pytest.MonkeyPatch,
) -> None:
    """Errors name the variable and the rule, never the value that was given."""
    secret = "hunter2-do-not-print"
    for variable in ("MAX_RETRIES", "RETRY_DELAY", "MAX_AGE", "CLOCK_LEEWAY"):
        auth_env.setenv(f"{ENV_PREFIX}{variable}", secret)
    with pytest.raises(InvalidSettingsError) as caught:
        TaskAuthConfig()
    text = f"{caught.value}{caught.value!r}{caught.value.args}"
    assert secret not in text
    assert "input_value" not in text
    assert text.count(ENV_PREFIX) >= 4
