"""The snapshot key check: unsafe keys stop the start and are never shown."""

import base64
import os

import pytest
from spakky.plugins.cryptography import CryptographyAuthProviderConfig, Key

from spakky.dispatch.auth import (
    AUTH_COMPONENTS,
    MIN_SNAPSHOT_KEY_BYTES,
    SNAPSHOT_KEY_VARIABLE,
    SnapshotKeyCheck,
    WeakSnapshotKeyError,
    check_snapshot_key,
)

from .auth_fakes import build_app
from .auth_handlers import ReportHandler

SHORT = base64.urlsafe_b64encode(b"sixteen-byte-key").decode().rstrip("=")
"""A well-formed key of 16 bytes."""


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is set but empty"),
        ("   ", "is set but empty"),
        ("a", "is not valid base64url"),
        ("abcde", "is not valid base64url"),
        (SHORT, "decodes to 16 bytes; at least 32 are required"),
        ("x" * 42, "decodes to 31 bytes; at least 32 are required"),
    ],
    ids=["empty", "blank", "one-char", "bad-length", "16-bytes", "31-bytes"],
)
def test_check_unsafe_key_expect_error_naming_variable_not_value(
    value: str, problem: str
) -> None:
    """Empty, malformed or short: refused, and the error never shows the value."""
    with pytest.raises(WeakSnapshotKeyError) as caught:
        check_snapshot_key({SNAPSHOT_KEY_VARIABLE: value})
    text = str(caught.value)
    assert caught.value.detail == f"{SNAPSHOT_KEY_VARIABLE} {problem}"
    assert "Key(size=32).b64_urlsafe" in text
    if len(value.strip()) > 4:
        assert value not in text
        assert value not in repr(caught.value)


def test_check_good_or_unset_key_expect_accepted() -> None:
    """32 random bytes (padded or not), longer keys, or no variable: accepted."""
    key = Key(size=MIN_SNAPSHOT_KEY_BYTES)
    check_snapshot_key({SNAPSHOT_KEY_VARIABLE: key.b64_urlsafe})
    check_snapshot_key({SNAPSHOT_KEY_VARIABLE: key.b64_urlsafe + "="})
    check_snapshot_key({SNAPSHOT_KEY_VARIABLE: Key(size=64).b64_urlsafe})
    check_snapshot_key({"OTHER": ""})
    check_snapshot_key({})


def test_check_key_lengths_expect_same_decoding_as_spakky_cryptography(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What we count is what spakky-cryptography's settings would decode."""
    values = (SHORT, "x" * 42, "x" * 43, Key(size=40).b64_urlsafe, "ab cd+/", "a b")
    for value in values:
        monkeypatch.setenv(SNAPSHOT_KEY_VARIABLE, value)
        try:
            length = CryptographyAuthProviderConfig().snapshot_key.length
        except ValueError:  # pydantic's ValidationError, quoting the value
            with pytest.raises(WeakSnapshotKeyError, match="not valid base64url"):
                check_snapshot_key({SNAPSHOT_KEY_VARIABLE: value})
            continue
        if length >= MIN_SNAPSHOT_KEY_BYTES:
            check_snapshot_key({SNAPSHOT_KEY_VARIABLE: value})
        else:
            with pytest.raises(WeakSnapshotKeyError, match=f"to {length} bytes"):
                check_snapshot_key({SNAPSHOT_KEY_VARIABLE: value})


def test_check_variable_in_other_case_expect_checked_too() -> None:
    """pydantic-settings reads the variable in any case, so we check every case."""
    with pytest.raises(WeakSnapshotKeyError) as caught:
        check_snapshot_key({"spakky_cryptography_snapshot_key": ""})
    assert caught.value.detail == "spakky_cryptography_snapshot_key is set but empty"


def test_check_default_environment_expect_os_environ_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an argument the process environment is checked."""
    monkeypatch.setenv(SNAPSHOT_KEY_VARIABLE, "")
    with pytest.raises(WeakSnapshotKeyError):
        check_snapshot_key()
    monkeypatch.delenv(SNAPSHOT_KEY_VARIABLE)
    check_snapshot_key()
    assert SNAPSHOT_KEY_VARIABLE not in os.environ


def test_key_check_is_first_component_expect_post_processor_passing_pods() -> None:
    """The check is the first auth component and leaves every pod as it is."""
    assert AUTH_COMPONENTS[0] is SnapshotKeyCheck
    marker = object()
    assert SnapshotKeyCheck().post_process(marker) is marker


@pytest.mark.parametrize("value", ["", "!!not*base64!!", SHORT])
def test_app_with_unsafe_key_expect_start_refused_before_provider_built(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The application does not start, and spakky-cryptography's settings (whose
    own error would quote the value) are never built."""
    monkeypatch.setenv(SNAPSHOT_KEY_VARIABLE, value)
    built: list[bool] = []
    original = CryptographyAuthProviderConfig.__init__

    def spy(self: CryptographyAuthProviderConfig) -> None:
        built.append(True)
        original(self)

    monkeypatch.setattr(CryptographyAuthProviderConfig, "__init__", spy)
    with pytest.raises(WeakSnapshotKeyError) as caught:
        build_app(ReportHandler)
    assert built == []
    if value:
        assert value not in str(caught.value)
