"""``CeleryConfig``: settings read from ``SPAKKY_CELERY__*`` environment variables."""

from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kombu.exceptions import SerializerNotInstalled
from kombu.serialization import dumps
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from spakky.core.pod.annotations.lazy import Lazy
from spakky.core.stereotype.configuration import Configuration

from spakky.dispatch.celery.error import CeleryConfigurationError

ENV_PREFIX = "SPAKKY_CELERY__"
"""Prefix of every variable read by ``CeleryConfig``."""

SERIALIZERS = ("json", "pickle", "yaml", "msgpack")
"""Serializer names Celery understands."""


def _split_list(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _check_serializer(name: str) -> str:
    if name not in SERIALIZERS:
        raise ValueError(f"unknown serializer {name!r}; use one of {list(SERIALIZERS)}")
    try:
        dumps(None, serializer=name)
    except SerializerNotInstalled as error:
        raise ValueError(
            f"serializer {name!r} is not installed; install its package "
            f"(for msgpack: pip install msgpack, for yaml: pip install pyyaml)"
        ) from error
    return name


@Lazy()
@Configuration()
class CeleryConfig(BaseSettings):
    """Celery settings for a Spakky application.

    Every field is read from ``SPAKKY_CELERY__<FIELD>`` (case-insensitive). The
    pod is lazy: an application that supplies its own ``Celery`` pod needs none
    of these variables.
    """

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
    )

    broker_url: str = Field(min_length=1)
    """Broker URL, e.g. ``amqp://user:pass@host:5672//`` or ``redis://host:6379/0``."""

    result_backend: str | None = None
    """Result backend URL; None stores no results."""

    app_name: str = "spakky-celery"
    """Name of the Celery application (its ``main``)."""

    task_serializer: str = "json"
    """Serializer of task messages: json, pickle, yaml or msgpack."""

    result_serializer: str = "json"
    """Serializer of stored results: json, pickle, yaml or msgpack."""

    accept_content: Annotated[list[str], NoDecode] = ["json"]
    """Content types a worker accepts (JSON list or comma-separated)."""

    default_queue: str = Field(default="celery", min_length=1)
    """Queue that tasks without an explicit queue are sent to and consumed from."""

    timezone: str = "UTC"
    """IANA timezone of schedules, e.g. ``Asia/Seoul``."""

    enable_utc: bool = True
    """Whether Celery keeps internal dates in UTC."""

    broker_connection_timeout: float = Field(default=4.0, gt=0)
    """Seconds to wait for a broker connection before a dispatch fails."""

    publish_retry: bool = True
    """Whether a dispatch retries publishing when the connection drops."""

    publish_max_retries: int = Field(default=3, ge=0)
    """Retries of one publish before the dispatch fails."""

    publish_retry_interval: float = Field(default=0.2, ge=0)
    """Seconds between publish retries."""

    def __init__(self) -> None:
        try:
            super().__init__()
        except ValidationError as error:
            raise CeleryConfigurationError(_describe(error)) from None

    @field_validator("task_serializer", "result_serializer")
    @classmethod
    def _serializer(cls, value: str) -> str:
        return _check_serializer(value)

    @field_validator("accept_content", mode="before")
    @classmethod
    def _accept_content_list(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("accept_content")
    @classmethod
    def _accept_content(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("accept at least one content type, e.g. json")
        for name in value:
            if name in SERIALIZERS:
                _check_serializer(name)
            elif "/" not in name:
                raise ValueError(
                    f"unknown content type {name!r}; use serializer names "
                    f"{list(SERIALIZERS)} or MIME types"
                )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as UTC or "
                "Asia/Seoul"
            ) from error
        return value


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "?"
        variable = f"{ENV_PREFIX}{field.upper()}"
        if item["type"] == "missing":
            problems.append(f"{variable} is required but not set")
        else:
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{variable}: {message}")
    return "; ".join(problems)
