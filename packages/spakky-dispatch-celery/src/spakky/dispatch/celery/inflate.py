"""What a worker accepts of a message's ``compression`` header, and a bounded inflate.

kombu inflates a body named compressed by its ``compression`` header before
anything else reads it, in one call and without a bound: 261 KB of zlib
inflate to 256 MB, enough to kill a worker with a memory limit. A worker of
ours inflates only the method the application itself compresses with
(``TASK_COMPRESSION``), streaming, and refuses a body that would grow past
``MAX_MESSAGE_BYTES``. Every refusal is a ``MessageRefused`` whose text names
the reason and sizes, never the contents.
"""

import bz2
import lzma
import zlib
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Default cap on the inflated size of a compressed body (16 MiB)."""

type _Inflater = Callable[[bytes, int], bytes]


class MessageRefused(Exception):
    """A message a worker does not process; its text is safe to log."""


def _zlib(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise MessageRefused(f"its body inflates to more than {limit} bytes")
    if not inflater.eof:
        raise MessageRefused("its compressed body is truncated")
    return out


def _streaming(
    make: Callable[[], bz2.BZ2Decompressor | lzma.LZMADecompressor],
) -> _Inflater:
    def inflate(data: bytes, limit: int) -> bytes:
        out = make().decompress(data, max_length=limit + 1)
        if len(out) > limit:
            raise MessageRefused(f"its body inflates to more than {limit} bytes")
        return out

    return inflate


_INFLATERS: dict[str, _Inflater] = {
    "application/x-gzip": _zlib,
    "application/x-bz2": _streaming(bz2.BZ2Decompressor),
    "application/x-lzma": _streaming(lzma.LZMADecompressor),
}
"""Methods whose output can be bounded while inflating (kombu content types)."""

BOUNDED_METHODS = ("gzip", "zlib", "bzip2", "lzma", "xz")
"""Names of ``TASK_COMPRESSION`` values a worker can inflate with a bound."""


_ALIASES = {
    "gzip": "application/x-gzip",
    "zlib": "application/x-gzip",
    "bzip2": "application/x-bz2",
    "bzip": "application/x-bz2",
    "lzma": "application/x-lzma",
    "xz": "application/x-lzma",
}
"""kombu's names of the bounded methods (``kombu.compression``'s registrations)."""


def content_type(method: str) -> str:
    """kombu's content type for a compression name or alias (``gzip``...)."""
    return _ALIASES.get(method, method)


@dataclass(frozen=True, slots=True, kw_only=True)
class InflatePolicy:
    """Which ``compression`` a worker accepts and how far a body may inflate."""

    accepted: frozenset[str] = frozenset()
    """kombu content types of the accepted methods; empty accepts none."""

    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    """Largest inflated body, in bytes."""

    @classmethod
    def for_compression(
        cls, method: str | None, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> "InflatePolicy":
        """The policy of an application that compresses with ``method`` (or not)."""
        accepted = frozenset({content_type(method)}) if method else frozenset()
        return cls(
            accepted=frozenset(accepted & _INFLATERS.keys()), max_bytes=max_bytes
        )

    def inflate(self, body: bytes, method: object) -> bytes:
        """``body`` inflated by ``method``; raises ``MessageRefused`` when refused."""
        name = content_type(method) if isinstance(method, str) else None
        if name is None or name not in self.accepted:
            shown = _printable(method)
            if not self.accepted:
                raise MessageRefused(
                    f"it is compressed ({shown}) but this application configures "
                    "no compression (SPAKKY_CELERY__TASK_COMPRESSION)"
                )
            raise MessageRefused(
                f"it is compressed with {shown}, which this application does not use"
            )
        try:
            return _INFLATERS[name](body, self.max_bytes)
        except MessageRefused:
            raise
        except (zlib.error, OSError, lzma.LZMAError, EOFError, MemoryError) as error:
            raise MessageRefused(
                f"its compressed body cannot be inflated ({type(error).__name__})"
            ) from None


def _printable(value: object) -> str:
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
