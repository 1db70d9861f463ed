"""``CeleryConfig``: settings read from ``SPAKKY_CELERY__*`` environment variables."""

import json
from typing import Annotated, ClassVar, Self

from kombu.exceptions import SerializerNotInstalled
from kombu.serialization import dumps
from kombu.serialization import registry as _codecs  # type: ignore[attr-defined]
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from spakky.core.pod.annotations.lazy import Lazy
from spakky.core.stereotype.configuration import Configuration

from spakky.dispatch.celery.inflate import BOUNDED_METHODS, DEFAULT_MAX_MESSAGE_BYTES
from spakky.dispatch.celery.urls import check_backend_url, check_broker_url
from spakky.dispatch.core.adapter import (
    DEFAULT_MAX_HEADER_BYTES,
    check_timezone,
    reporting_settings_errors,
)

ENV_PREFIX = "SPAKKY_CELERY__"
"""Prefix of every variable read by ``CeleryConfig``."""

SERIALIZERS = ("json", "pickle", "yaml", "msgpack")
"""Serializer names Celery understands."""

UNSAFE_SERIALIZERS = frozenset({"pickle", "yaml"})
"""Serializers whose decoding can run code chosen by whoever writes the message."""


def _split_list(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
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


_UNSAFE_CONTENT_TYPES = {
    "application/x-python-serialize": "pickle",
    "application/x-yaml": "yaml",
}


def _serializer_name(content: str) -> str:
    """The serializer behind a content name or MIME type (``application/x-yaml``)."""
    known = {**_UNSAFE_CONTENT_TYPES, **_codecs.type_to_name}
    return str(known.get(content, content))


def _parse_object(value: object) -> object:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ValueError('must be a JSON object, e.g. {"visibility_timeout": 3600}')
    return value


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

    broker_url: str = Field(min_length=1, repr=False)
    """Broker URL, e.g. ``amqp://user:pass@host:5672//`` or ``redis://host:6379/0``."""

    result_backend: str | None = Field(default=None, repr=False)
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

    publish_confirm: bool = True
    """Wait for the broker to confirm each publish (AMQP publisher confirms)."""

    fast_publish: bool = True
    """Publish with spakky's guarded fast paths (false: Celery's own send_task)."""

    broker_socket_timeout: float = Field(default=10.0, gt=0)
    """Seconds a publish waits on a connected broker that does not answer."""

    broker_transport_options: Annotated[dict[str, object], NoDecode] = {}
    """Extra kombu transport options (JSON object), applied over ours."""

    visibility_timeout: float | None = Field(default=None, gt=0)
    """Redis/SQS: seconds before an unacknowledged message is delivered again."""

    task_acks_late: bool = False
    """Acknowledge a message after its task ran, not before (at-least-once)."""

    task_reject_on_worker_lost: bool = False
    """With late acks: redeliver a task whose worker process died while running it."""

    result_backend_timeout: float = Field(default=10.0, gt=0)
    """Seconds to connect to, or wait for an answer from, the result backend."""

    result_backend_max_retries: int = Field(default=3, ge=0)
    """Retries of a result backend operation that lost its connection."""

    max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, gt=0)
    """Budget in bytes of the propagation headers added to one message."""

    task_compression: str | None = None
    """Compress task messages with gzip, bzip2 or lzma; workers accept only this."""

    max_message_bytes: int = Field(default=DEFAULT_MAX_MESSAGE_BYTES, gt=0)
    """Largest size in bytes a worker inflates a compressed message body to."""

    max_redeliveries: int = Field(default=5, ge=0)
    """Times a message may come back unfinished before a worker rejects it."""

    dead_letter_limit: int = Field(default=10_000, ge=0)
    """Redis: refused messages kept in ``<queue>.dead-letter`` (0 drops them)."""

    allow_unsafe_serializers: bool = False
    """Allow pickle and yaml, which can run code sent by anyone who can publish."""

    def __init__(self) -> None:
        with reporting_settings_errors(ENV_PREFIX):
            super().__init__()

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        return check_broker_url(value)

    @field_validator("result_backend")
    @classmethod
    def _result_backend(cls, value: str | None) -> str | None:
        return check_backend_url(value)

    @field_validator("broker_transport_options", mode="before")
    @classmethod
    def _transport_options(cls, value: object) -> object:
        return _parse_object(value)

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

    @field_validator("task_compression")
    @classmethod
    def _compression(cls, value: str | None) -> str | None:
        if value is not None and value not in BOUNDED_METHODS:
            raise ValueError(
                f"unknown compression {value!r}; use one of {list(BOUNDED_METHODS)} "
                "(workers inflate these with a size bound), or leave it unset"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)

    @model_validator(mode="after")
    def _safe_serializers(self) -> Self:
        if self.allow_unsafe_serializers:
            return self
        used = [
            (variable, name)
            for variable, names in (
                ("TASK_SERIALIZER", [self.task_serializer]),
                ("RESULT_SERIALIZER", [self.result_serializer]),
                ("ACCEPT_CONTENT", self.accept_content),
            )
            for name in names
            if _serializer_name(name) in UNSAFE_SERIALIZERS
        ]
        if used:
            named = ", ".join(f"{ENV_PREFIX}{var}={name}" for var, name in used)
            raise ValueError(
                f"{named}: pickle and yaml messages can run any code chosen by "
                "whoever can write to the broker or result backend; use json or "
                "msgpack, or, only if every producer is trusted, set "
                f"{ENV_PREFIX}ALLOW_UNSAFE_SERIALIZERS=true"
            )
        return self
