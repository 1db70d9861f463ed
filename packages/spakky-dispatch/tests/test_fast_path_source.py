"""``source_text`` and ``source_digest``: how every guard reads a function's source.

A changed body must change the digest; objects without code and unreadable
files fall back to ``inspect.getsource``. (Each adapter's tests check that
the text equals ``inspect.getsource``'s on the functions its guards hash.)
"""

import importlib
import inspect
import linecache
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spakky.dispatch.core.adapter import source_digest, source_text


class Sample:
    """An object a guard could read."""

    def method(self) -> int:
        return 1


def _collapsed(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def fresh() -> Iterator[None]:
    """``source_text``'s cache empty for the test, and again after it."""
    source_text.cache_clear()
    yield
    source_text.cache_clear()


def _module(tmp_path: Path, name: str, body: str) -> Any:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    linecache.checkcache(str(path))
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.mark.usefixtures("fresh")
def test_source_digest_changed_body_expect_other_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A changed line anywhere in the body, the last one included, changes the
    digest; a comment after the last statement is not part of it (the one
    difference from ``inspect.getsource``, which is no code)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    head = "import functools\n\n\n@functools.lru_cache\ndef guarded(x):\n"
    body = "    total = (\n        x +\n        1\n    )\n    return total\n"
    first = _module(tmp_path, "guarded_a", head + body)
    assert _collapsed(source_text(first.guarded)) == _collapsed(
        inspect.getsource(first.guarded)
    )
    assert "@functools.lru_cache" in source_text(first.guarded)
    changed = _module(tmp_path, "guarded_b", head + body.replace("1\n", "2\n"))
    commented = _module(tmp_path, "guarded_c", head + body + "    # trailing\n")
    assert source_digest(changed.guarded) != source_digest(first.guarded)
    assert source_digest(commented.guarded) == source_digest(first.guarded)


@pytest.mark.usefixtures("fresh")
def test_source_text_without_code_expect_inspect_getsource() -> None:
    """An object without a code object (a class) is read by ``inspect``."""
    assert source_text(Sample) == inspect.getsource(Sample)


@pytest.mark.usefixtures("fresh")
def test_source_text_file_unreadable_expect_inspect_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When ``linecache`` cannot read the file, ``inspect.getsource`` decides:
    its text, or its ``OSError``."""
    monkeypatch.setattr(linecache, "getlines", lambda *_: [])
    monkeypatch.setattr(inspect, "getsource", lambda obj: "def stand_in(): pass\n")
    assert source_text(Sample.method) == "def stand_in(): pass\n"
    source_text.cache_clear()

    def unreadable(obj: object) -> str:
        raise OSError("no source")

    monkeypatch.setattr(inspect, "getsource", unreadable)
    with pytest.raises(OSError, match="no source"):
        source_text(Sample.method)
