"""``settings_problems``: a settings error names variables, never values."""

from typing import ClassVar

import pytest
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from spakky.dispatch.core import InvalidSettingsError
from spakky.dispatch.core.adapter import check_timezone, reporting_settings_errors
from spakky.dispatch.core.settings import settings_problems

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
    problems = settings_problems(error, "EXAMPLE__")
    assert problems is not None
    assert SECRET not in "".join(problems)
    assert problems == [
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
    """A model-level check gives its message alone; the prefix is found by class."""
    error = _errors(monkeypatch, URL="x", RETRIES="7")
    assert settings_problems(error, "EXAMPLE__") == [
        "EXAMPLE__RETRIES=7 is not allowed with this URL"
    ]
    error = _errors(monkeypatch, URL="x", RETRIES="-1")
    assert settings_problems(error) == [
        "EXAMPLE__RETRIES: Input should be greater than or equal to 0"
    ]
    assert settings_problems(error, "") == [
        "RETRIES: Input should be greater than or equal to 0"
    ]


class ReportedSettings(ExampleSettings):
    """A settings class of ours: its errors become ``InvalidSettingsError``."""

    def __init__(self) -> None:
        with reporting_settings_errors("EXAMPLE__"):
            super().__init__()


def test_reporting_settings_errors_expect_invalid_settings_error_without_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The validation error becomes the core's error, naming variables, no value."""
    monkeypatch.setenv("EXAMPLE__TOKEN", SECRET)
    with pytest.raises(InvalidSettingsError) as raised:
        ReportedSettings()
    text = str(raised.value)
    assert text.startswith("Settings are invalid; fix the environment variables")
    assert "EXAMPLE__URL is required but not set" in text
    assert "EXAMPLE__TOKEN: must be at least 40 characters" in text
    assert SECRET not in text
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_reporting_settings_errors_other_error_expect_unchanged() -> None:
    """An error that is not a validation error passes through as it is."""
    with pytest.raises(KeyError), reporting_settings_errors("EXAMPLE__"):
        raise KeyError("x")


def test_check_timezone_expect_iana_names_only() -> None:
    """An IANA name passes; anything else is refused, naming examples."""
    assert check_timezone("Asia/Seoul") == "Asia/Seoul"
    with pytest.raises(ValueError, match="use an IANA name such as UTC"):
        check_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="unknown timezone"):
        check_timezone("../etc")
