"""``TaskOutboxConfig``: settings read from ``SPAKKY_DISPATCH_OUTBOX__*`` variables."""

from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from spakky.core.stereotype.configuration import Configuration

from spakky.dispatch.outbox.from_core import reporting_settings_errors

ENV_PREFIX = "SPAKKY_DISPATCH_OUTBOX__"
"""Prefix of every variable read by ``TaskOutboxConfig``."""


@Configuration()
class TaskOutboxConfig(BaseSettings):
    """Transactional dispatch: what happens outside a transaction, and the relay.

    Inside a database transaction a ``@task`` call is stored in the task outbox
    and sent by the relay once the transaction has committed. The relay polls
    the outbox every ``poll_interval`` seconds; a commit in the same process
    wakes it at once.
    """

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
    )

    outside_transaction: Literal["send", "refuse"] = "send"
    """A dispatch with no transaction active: send it at once, or refuse it."""

    relay: Literal["thread", "async", "off"] = "thread"
    """Run the relay in this process: in a thread, on the event loop, or not."""

    poll_interval: float = Field(default=1.0, gt=0)
    """Seconds between two looks at the outbox when nothing wakes the relay."""

    batch_size: int = Field(default=100, ge=1)
    """Messages the relay claims at a time."""

    max_attempts: int = Field(default=5, ge=1)
    """Refusals by the transport before a message is abandoned."""

    claim_timeout: float = Field(default=60.0, gt=0)
    """Seconds after which a claim by a relay that stopped is given up."""

    def __init__(self) -> None:
        with reporting_settings_errors(ENV_PREFIX):
            super().__init__()
