"""``TaskAuthConfig``: settings read from ``SPAKKY_DISPATCH_AUTH__*`` variables."""

from typing import ClassVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from spakky.core.stereotype.configuration import Configuration

from spakky.dispatch.auth.error import TaskAuthConfigurationError

ENV_PREFIX = "SPAKKY_DISPATCH_AUTH__"
"""Prefix of every variable read by ``TaskAuthConfig``."""


@Configuration()
class TaskAuthConfig(BaseSettings):
    """Worker-side auth settings: the retry policy of the ERROR outcome.

    When a task's snapshot verifier or requirement checker is unavailable, the
    task is retried ``max_retries`` times, ``retry_delay`` seconds apart, and
    then fails with the ERROR decision. Whether snapshots are sent at all is
    spakky-auth's ``SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED``.
    """

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
    )

    max_retries: int = Field(default=3, ge=0)
    """Retries of a task whose auth could not be evaluated; 0 fails at once."""

    retry_delay: float = Field(default=2.0, ge=0)
    """Seconds between two retries of such a task."""

    def __init__(self) -> None:
        try:
            super().__init__()
        except ValidationError as error:
            raise TaskAuthConfigurationError(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{ENV_PREFIX}{field.upper()}: {message}")
    return "; ".join(problems)
