"""The snapshot key check: an empty, malformed or short key stops the start.

spakky-cryptography reads its HMAC key from ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``
(base64url, any letter case, as pydantic-settings reads it). It accepts an
empty value as a 0-byte key, with which anyone can sign any identity, and it
quotes a malformed value in its validation error. This adapter depends on
spakky-auth only, so it checks the documented variable itself, decoded as
spakky-cryptography decodes it, before any signer or verifier is built, and
says what is wrong without ever showing the value.
"""

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Final, override

from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.post_processor import IPostProcessor

from spakky.dispatch.auth.error import WeakSnapshotKeyError

SNAPSHOT_KEY_VARIABLE: Final = "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY"
"""The variable spakky-cryptography reads its snapshot key from."""

MIN_SNAPSHOT_KEY_BYTES: Final = 32
"""Shortest key accepted: 256 bits (RFC 7518 requires an HS256 key at least as
long as the SHA-256 output)."""


def _decoded_length(value: str) -> int | None:
    """Bytes of key ``value`` decodes to, as spakky-cryptography's ``Key`` decodes
    it (url-safe base64, padding restored); None when it does not decode."""
    try:
        padded = (value + "=" * (4 - len(value) % 4)).encode("utf-8")
        return len(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None


def check_snapshot_key(environ: Mapping[str, str] | None = None) -> None:
    """Refuse an unsafe ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``; unset is fine.

    Unset, spakky-cryptography generates a random key per process (then
    callers and workers never agree, and every protected task is refused
    with CHALLENGE, which is safe).

    Args:
        environ: The environment to read; ``os.environ`` by default.

    Raises:
        WeakSnapshotKeyError: The variable (in any letter case) is set but
            empty, not base64url, or shorter than 32 bytes once decoded. The
            error names the variable and the problem, never the value.
    """
    variables = os.environ if environ is None else environ
    for name, value in variables.items():
        if name.upper() != SNAPSHOT_KEY_VARIABLE:
            continue
        if not value.strip():
            raise WeakSnapshotKeyError(f"{name} is set but empty")
        length = _decoded_length(value)
        if length is None:
            raise WeakSnapshotKeyError(f"{name} is not valid base64url")
        if length < MIN_SNAPSHOT_KEY_BYTES:
            raise WeakSnapshotKeyError(
                f"{name} decodes to {length} bytes; at least "
                f"{MIN_SNAPSHOT_KEY_BYTES} are required"
            )


@Order(0)
@Pod()
class SnapshotKeyCheck(IPostProcessor):
    """Runs ``check_snapshot_key`` when the application starts.

    A post-processor with no dependencies is built while the container
    registers post-processors, before the task registration post-processor
    (added after it by the transport plugins) and before any ordinary pod,
    so the check comes before any snapshot signer or verifier is built: the
    worker, the caller and the command line all refuse to start.
    """

    def __init__(self) -> None:
        check_snapshot_key()

    @override
    def post_process(self, pod: object) -> object:
        return pod
