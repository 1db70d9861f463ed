"""CeleryConfig's reliability and safety settings, and the app built from them."""

import pytest

from spakky.dispatch.celery import (
    MAX_HEADER_BYTES_KEY,
    PUBLISH_TIMEOUT_KEY,
    CeleryConfig,
    broker_transport_options,
    build_celery_app,
)
from spakky.dispatch.core import InvalidSettingsError

SECRET = "pw-7f3a9"


def _config(clean_env: pytest.MonkeyPatch, **env: str) -> CeleryConfig:
    clean_env.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    for name, value in env.items():
        clean_env.setenv(f"SPAKKY_CELERY__{name.upper()}", value)
    return CeleryConfig()


def _error(clean_env: pytest.MonkeyPatch, **env: str) -> str:
    with pytest.raises(InvalidSettingsError) as raised:
        _config(clean_env, **env)
    return str(raised.value)


def test_config_reliability_defaults_expect_bounded_and_safe(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Confirms on, every wait bounded, late acks off, unsafe serializers off."""
    config = _config(clean_env)
    assert config.publish_confirm is True
    assert config.broker_socket_timeout == 10.0
    assert config.broker_transport_options == {}
    assert config.visibility_timeout is None
    assert config.task_acks_late is False
    assert config.task_reject_on_worker_lost is False
    assert config.result_backend_timeout == 10.0
    assert config.result_backend_max_retries == 3
    assert config.max_header_bytes == 16384
    assert config.allow_unsafe_serializers is False


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TASK_SERIALIZER": "pickle"}, "SPAKKY_CELERY__TASK_SERIALIZER=pickle"),
        ({"RESULT_SERIALIZER": "pickle"}, "SPAKKY_CELERY__RESULT_SERIALIZER=pickle"),
        ({"ACCEPT_CONTENT": "json,pickle"}, "SPAKKY_CELERY__ACCEPT_CONTENT=pickle"),
        (
            {"ACCEPT_CONTENT": "json,application/x-yaml"},
            "SPAKKY_CELERY__ACCEPT_CONTENT=application/x-yaml",
        ),
    ],
)
def test_config_unsafe_serializer_without_opt_in_expect_error_explaining_risk(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    """pickle or yaml anywhere is a startup error that names it and the opt-in."""
    text = _error(clean_env, **env)
    assert named in text
    assert "can run any code" in text
    assert "SPAKKY_CELERY__ALLOW_UNSAFE_SERIALIZERS=true" in text


def test_config_unsafe_serializer_with_opt_in_expect_accepted(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The explicit opt-in lets pickle through."""
    config = _config(
        clean_env,
        TASK_SERIALIZER="pickle",
        ACCEPT_CONTENT="pickle,json",
        ALLOW_UNSAFE_SERIALIZERS="true",
    )
    assert config.task_serializer == "pickle"
    assert config.accept_content == ["pickle", "json"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"reddis://:{SECRET}@h:6379/0", "did you mean 'redis'?"),
        (f"ampq://u:{SECRET}@h//", "did you mean 'amqp'?"),
        ("zzzz://h", "unknown transport 'zzzz'"),
        (f"redis://:{SECRET}@h/0;reddis://:{SECRET}@g/0", "did you mean 'redis'?"),
        (f"user:{SECRET}@host:5672", "is not a URL (no scheme://)"),
    ],
)
def test_config_unknown_broker_scheme_expect_nearest_suggested_password_masked(
    clean_env: pytest.MonkeyPatch, url: str, expected: str
) -> None:
    """A broker URL kombu cannot resolve names the variable and the nearest alias."""
    text = _error(clean_env, BROKER_URL=url)
    assert "SPAKKY_CELERY__BROKER_URL" in text
    assert expected in text
    assert SECRET not in text


@pytest.mark.parametrize(
    "url",
    [
        "sqla+sqlite:///tasks.db",
        "redis+socket:///tmp/redis.sock",
        "amqp://u:p@h//;amqp://u:p@g//",
        "myproject.transport:Transport://h",
    ],
)
def test_config_known_or_custom_broker_scheme_expect_accepted(
    clean_env: pytest.MonkeyPatch, url: str
) -> None:
    """Aliases with a driver (``+``), failover lists and dotted class paths pass."""
    assert _config(clean_env, BROKER_URL=url).broker_url == url


def test_config_unknown_backend_scheme_expect_nearest_suggested(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """A result backend Celery cannot resolve is refused the same way."""
    text = _error(clean_env, RESULT_BACKEND=f"reddis://:{SECRET}@h/1")
    assert "SPAKKY_CELERY__RESULT_BACKEND" in text
    assert "unknown result backend 'reddis'" in text
    assert "did you mean 'redis'?" in text
    assert SECRET not in text
    for url in ("db+sqlite:///results.db", "rpc://", "cache+memory://"):
        assert _config(clean_env, RESULT_BACKEND=url).result_backend == url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"visibility_timeout": 60}', {"visibility_timeout": 60}),
        ("", {}),
    ],
)
def test_config_broker_transport_options_expect_json_object(
    clean_env: pytest.MonkeyPatch, value: str, expected: dict[str, object]
) -> None:
    """``BROKER_TRANSPORT_OPTIONS`` is a JSON object (empty means none)."""
    config = _config(clean_env, BROKER_TRANSPORT_OPTIONS=value)
    assert config.broker_transport_options == expected


@pytest.mark.parametrize("value", ["[1, 2]", "{not json", "3"])
def test_config_broker_transport_options_not_object_expect_error(
    clean_env: pytest.MonkeyPatch, value: str
) -> None:
    """Anything but a JSON object is refused, naming the variable."""
    text = _error(clean_env, BROKER_TRANSPORT_OPTIONS=value)
    assert "SPAKKY_CELERY__BROKER_TRANSPORT_OPTIONS: must be a JSON object" in text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BROKER_SOCKET_TIMEOUT", "0"),
        ("VISIBILITY_TIMEOUT", "-1"),
        ("RESULT_BACKEND_TIMEOUT", "0"),
        ("RESULT_BACKEND_MAX_RETRIES", "-1"),
        ("MAX_HEADER_BYTES", "0"),
    ],
)
def test_config_out_of_range_expect_error_naming_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    """Timeouts and budgets must be positive (retries may be zero)."""
    assert f"SPAKKY_CELERY__{variable}" in _error(clean_env, **{variable: value})


def test_config_repr_expect_no_urls(clean_env: pytest.MonkeyPatch) -> None:
    """Printing the config never shows the broker or backend URL (passwords)."""
    config = _config(
        clean_env,
        BROKER_URL=f"redis://:{SECRET}@h/0",
        RESULT_BACKEND=f"redis://:{SECRET}@h/1",
    )
    assert SECRET not in repr(config)
    assert SECRET not in str(config)


def test_transport_options_redis_expect_socket_timeouts_and_visibility(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Redis: bounded socket waits; the visibility timeout when set; extras last."""
    config = _config(
        clean_env,
        BROKER_URL="redis://h:6379/0",
        BROKER_CONNECTION_TIMEOUT="2",
        BROKER_SOCKET_TIMEOUT="3",
        VISIBILITY_TIMEOUT="60",
        BROKER_TRANSPORT_OPTIONS='{"socket_timeout": 5, "max_connections": 4}',
    )
    assert broker_transport_options(config) == {
        "socket_timeout": 5,
        "socket_connect_timeout": 2.0,
        "visibility_timeout": 60.0,
        "max_connections": 4,
    }


def test_transport_options_amqp_expect_publisher_confirms(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """AMQP: publisher confirms (off when disabled); no Redis-only options."""
    on = _config(clean_env, BROKER_URL="amqp://u:p@h//", VISIBILITY_TIMEOUT="60")
    assert broker_transport_options(on) == {"confirm_publish": True}
    off = _config(clean_env, BROKER_URL="amqp://u:p@h//", PUBLISH_CONFIRM="false")
    assert broker_transport_options(off) == {"confirm_publish": False}
    assert broker_transport_options(_config(clean_env)) == {}


def test_build_app_reliability_settings_expect_celery_conf(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """Late acks, result backend timeouts and our own keys reach ``app.conf``."""
    config = _config(
        clean_env,
        RESULT_BACKEND="redis://h:6379/1",
        TASK_ACKS_LATE="true",
        TASK_REJECT_ON_WORKER_LOST="true",
        RESULT_BACKEND_TIMEOUT="4",
        RESULT_BACKEND_MAX_RETRIES="2",
        BROKER_SOCKET_TIMEOUT="6",
        MAX_HEADER_BYTES="2048",
    )
    conf = build_celery_app(config).conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.redis_socket_timeout == 4.0
    assert conf.redis_socket_connect_timeout == 4.0
    assert conf.result_backend_transport_options["retry_policy"]["max_retries"] == 2
    assert conf[PUBLISH_TIMEOUT_KEY] == 6.0
    assert conf[MAX_HEADER_BYTES_KEY] == 2048


def test_build_app_non_redis_backend_expect_no_redis_retry_policy(
    clean_env: pytest.MonkeyPatch,
) -> None:
    """The Redis result retry policy is only set for a Redis result backend."""
    conf = build_celery_app(_config(clean_env, RESULT_BACKEND="rpc://")).conf
    assert not conf.result_backend_transport_options
