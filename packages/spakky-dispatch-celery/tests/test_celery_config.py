"""CeleryConfig: defaults, environment parsing and startup errors."""

import pytest

from spakky.dispatch.celery import CeleryConfig
from spakky.dispatch.core import InvalidSettingsError


def test_config_defaults_expect_seed_values(clean_env: pytest.MonkeyPatch) -> None:
    """Only the broker URL is required; the rest has the seed's defaults."""
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", "amqp://u:p@h:5672//")
    config = CeleryConfig()
    assert config.broker_url == "amqp://u:p@h:5672//"
    assert config.result_backend is None
    assert config.app_name == "spakky-celery"
    assert config.task_serializer == "json"
    assert config.result_serializer == "json"
    assert config.accept_content == ["json"]
    assert config.timezone == "UTC"
    assert config.enable_utc is True
    assert config.default_queue == "celery"


def test_config_every_variable_read_expect_values(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Every documented variable is read, case-insensitively for the prefix."""
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", "redis://h:6379/0")
    clean_env.setenv("SPAKKY_CELERY__RESULT_BACKEND", "redis://h:6379/1")
    clean_env.setenv("SPAKKY_CELERY__APP_NAME", "orders")
    clean_env.setenv("spakky_celery__timezone", "Asia/Seoul")
    clean_env.setenv("SPAKKY_CELERY__ENABLE_UTC", "false")
    clean_env.setenv("SPAKKY_CELERY__ACCEPT_CONTENT", "json, application/x-custom")
    clean_env.setenv("SPAKKY_CELERY__BROKER_CONNECTION_TIMEOUT", "1.5")
    clean_env.setenv("SPAKKY_CELERY__PUBLISH_MAX_RETRIES", "0")
    config = CeleryConfig()
    assert config.result_backend == "redis://h:6379/1"
    assert config.app_name == "orders"
    assert config.timezone == "Asia/Seoul"
    assert config.enable_utc is False
    assert config.accept_content == ["json", "application/x-custom"]
    assert config.broker_connection_timeout == 1.5
    assert config.publish_max_retries == 0


def test_config_accept_content_json_list_expect_parsed(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """ACCEPT_CONTENT may also be a JSON list."""
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    clean_env.setenv("SPAKKY_CELERY__ACCEPT_CONTENT", '["json"]')
    assert CeleryConfig().accept_content == ["json"]


def test_config_missing_broker_url_expect_error_naming_variable(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """A missing broker URL is a startup error that names the variable."""
    with pytest.raises(InvalidSettingsError) as raised:
        CeleryConfig()
    assert "SPAKKY_CELERY__BROKER_URL is required but not set" in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TIMEZONE", "Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
        ("TIMEZONE", "../etc", "unknown timezone"),
        ("TASK_SERIALIZER", "xml", "unknown serializer 'xml'"),
        ("RESULT_SERIALIZER", "msgpack", "serializer 'msgpack' is not installed"),
        ("ACCEPT_CONTENT", "json,bson", "unknown content type 'bson'"),
        ("ACCEPT_CONTENT", "", "accept at least one content type"),
        ("BROKER_CONNECTION_TIMEOUT", "0", "greater than 0"),
    ],
)
def test_config_invalid_value_expect_error_naming_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    """Invalid values fail at startup with the variable and the reason."""
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    clean_env.setenv(f"SPAKKY_CELERY__{variable}", value)
    with pytest.raises(InvalidSettingsError) as raised:
        CeleryConfig()
    text = str(raised.value)
    assert f"SPAKKY_CELERY__{variable}" in text
    assert expected in text


def test_config_errors_expect_no_value_echoed(clean_env: pytest.MonkeyPatch) -> None:
    """Invalid settings are named with what is wrong, never with what was given:
    a URL without a scheme still holds its password, a typo may be a secret."""
    secret = "s3cr3t-pw-never-printed"
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", f"guest:{secret}@localhost:5672")
    clean_env.setenv("SPAKKY_CELERY__RESULT_BACKEND", f"nosuch://:{secret}@h/0")
    for name in ("MAX_HEADER_BYTES", "BROKER_CONNECTION_TIMEOUT", "ENABLE_UTC"):
        clean_env.setenv(f"SPAKKY_CELERY__{name}", secret)
    with pytest.raises(InvalidSettingsError) as caught:
        CeleryConfig()
    text = f"{caught.value}{caught.value!r}"
    assert secret not in text
    assert "input_value" not in text
    for name in ("BROKER_URL", "RESULT_BACKEND", "MAX_HEADER_BYTES", "ENABLE_UTC"):
        assert f"SPAKKY_CELERY__{name}" in text
    assert caught.value.__suppress_context__
