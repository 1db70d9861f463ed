"""``describe_settings_errors``: a settings error names variables, never values."""

from typing import ClassVar

import pytest
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from spakky.dispatch.core import describe_settings_errors

SECRET = "p4ssw0rd-that-must-not-print"


class ExampleSettings(BaseSettings):
    """Settings with a required field, a bound, a validator and a cross-check."""

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_prefix="EXAMPLE__"
    )

    url: str
    retries: int = Field(default=1, ge=0)
    hosts: list[int] = []
    token: str = ""

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        if value and len(value) < 40:
            raise ValueError("must be at least 40 characters")
        return value

    @model_validator(mode="after")
    def _both(self) -> "ExampleSettings":
        if self.retries == 7:
            raise ValueError("EXAMPLE__RETRIES=7 is not allowed with this URL")
        return self


def _errors(monkeypatch: pytest.MonkeyPatch, **values: str) -> ValidationError:
    for name, value in values.items():
        monkeypatch.setenv(f"EXAMPLE__{name}", value)
    with pytest.raises(ValidationError) as caught:
        ExampleSettings()
    return caught.value


def test_describe_expect_variables_and_problems_without_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Missing, bound, nested and validator errors, by variable, with no value."""
    error = _errors(monkeypatch, RETRIES=SECRET, HOSTS=f'[1, "{SECRET}"]', TOKEN=SECRET)
    assert SECRET in str(error), "pydantic's own text quotes the input"
    text = describe_settings_errors(error.errors(include_input=False), "EXAMPLE__")
    assert SECRET not in text
    assert text.split("; ") == [
        "EXAMPLE__URL is required but not set",
        "EXAMPLE__RETRIES: Input should be a valid integer, unable to parse "
        "string as an integer",
        "EXAMPLE__HOSTS[1]: Input should be a valid integer, unable to parse "
        "string as an integer",
        "EXAMPLE__TOKEN: must be at least 40 characters",
    ]


def test_describe_cross_check_and_no_prefix_expect_message_and_field_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model-level check gives its message alone; without a prefix, field names."""
    error = _errors(monkeypatch, URL="x", RETRIES="7")
    assert describe_settings_errors(error.errors()) == (
        "EXAMPLE__RETRIES=7 is not allowed with this URL"
    )
    error = _errors(monkeypatch, URL="x", RETRIES="-1")
    assert describe_settings_errors(error.errors()) == (
        "retries: Input should be greater than or equal to 0"
    )
    assert describe_settings_errors([{}]) == "invalid"
