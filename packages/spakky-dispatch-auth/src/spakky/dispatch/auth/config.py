"""``TaskAuthConfig``: settings read from ``SPAKKY_DISPATCH_AUTH__*`` variables."""

from typing import ClassVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from spakky.core.stereotype.configuration import Configuration

from spakky.dispatch.core.adapter import reporting_settings_errors

ENV_PREFIX = "SPAKKY_DISPATCH_AUTH__"
"""Prefix of every variable read by ``TaskAuthConfig``."""


@Configuration()
class TaskAuthConfig(BaseSettings):
    """Auth settings of callers and workers: binding, age, ERROR retries.

    Every snapshot is bound to one message of ``audience``; a worker refuses
    one older than ``max_age`` seconds (counted from when it was issued, or
    from the call's countdown / eta when that is later) or issued in the
    future, allowing ``clock_leeway`` seconds of clock skew. When a task's
    snapshot verifier or requirement checker is unavailable, the task is
    retried ``max_retries`` times, ``retry_delay`` seconds apart, and then
    fails with the ERROR decision. Whether snapshots are sent at all is
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

    audience: str = Field(default="spakky", min_length=1)
    """Application whose workers a snapshot is signed for; the same value in its callers and workers."""

    max_age: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    """Seconds a worker accepts a snapshot after it was issued (or after the call's countdown / eta)."""

    clock_leeway: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    """Seconds of clock difference between callers and workers that the age checks allow."""

    def __init__(self) -> None:
        with reporting_settings_errors(ENV_PREFIX):
            super().__init__()
