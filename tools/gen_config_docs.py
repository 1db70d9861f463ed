"""Render the settings reference in docs/ from the settings classes themselves.

Each entry of ``SOURCES`` names a pydantic-settings class and the marker of
the block it owns in a docs page::

    <!-- BEGIN GENERATED: celery-config -->
    ... the table: variable, type, default, meaning ...
    <!-- END GENERATED: celery-config -->

The variable is the class's ``env_prefix`` plus the field name, the type and
default come from the pydantic field, and the meaning is the one-line string
literal written under the field in the class's source (read with ``ast``).

Usage::

    python tools/gen_config_docs.py           # rewrite the blocks
    python tools/gen_config_docs.py --check   # exit 1 if a page is out of date

To document another settings class, add one ``SettingsSource`` line below.
Optional sources whose package (or class) is not installed are skipped.
"""

import argparse
import ast
import importlib
import inspect
import json
import re
import sys
import textwrap
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal, Union, get_args, get_origin

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATOR = "tools/gen_config_docs.py"


@dataclass(frozen=True, slots=True)
class SettingsSource:
    """One settings class and the generated block that documents it."""

    marker: str
    """Name in ``<!-- BEGIN GENERATED: <marker> -->``."""

    target: str
    """The class, as ``package.module:ClassName``."""

    optional: bool = False
    """Skip quietly when the package or class does not exist (yet)."""

    page: str = "configuration.md"
    """Page under docs/ that holds the block."""


SOURCES: tuple[SettingsSource, ...] = (
    SettingsSource("celery-config", "spakky.dispatch.celery:CeleryConfig"),
    SettingsSource(
        "dispatch-auth-config", "spakky.dispatch.auth:TaskAuthConfig", optional=True
    ),
    SettingsSource(
        "taskiq-config",
        "spakky.dispatch.taskiq:TaskiqConfig",
        page="configuration-taskiq.md",
    ),
    SettingsSource(
        "dispatch-outbox-config",
        "spakky.dispatch.outbox:TaskOutboxConfig",
        optional=True,
    ),
)
"""Every documented settings class; add a line here to document another."""


class GeneratorError(Exception):
    """The generator cannot do its job; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Row:
    """One environment variable of the reference table."""

    variable: str
    type: str
    default: str
    meaning: str


# -- loading -------------------------------------------------------------------


def load(source: SettingsSource) -> type[BaseSettings] | None:
    """Import the class of ``source``; None when it is optional and absent.

    Raises:
        GeneratorError: A required class is missing, or the target is not a
            pydantic-settings class.
    """
    module_name, _, attribute = source.target.partition(":")
    if not module_name or not attribute:
        raise GeneratorError(
            f"{source.marker}: target {source.target!r} must be package.module:Class"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        absent = error.name is not None and (
            module_name == error.name or module_name.startswith(f"{error.name}.")
        )
        if source.optional and absent:
            return None
        raise GeneratorError(
            f"{source.marker}: cannot import {module_name} ({error}); run "
            "`python -m uv sync` first"
        ) from error
    found = getattr(module, attribute, None)
    if found is None:
        if source.optional:
            return None
        raise GeneratorError(f"{source.marker}: {module_name} has no {attribute}")
    if not (isinstance(found, type) and issubclass(found, BaseSettings)):
        raise GeneratorError(
            f"{source.marker}: {source.target} is not a pydantic-settings "
            "BaseSettings class"
        )
    return found


# -- reading the class -----------------------------------------------------------


def field_docstrings(cls: type[BaseSettings]) -> dict[str, str]:
    """The string literal under each field, from the source of ``cls`` and its bases."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseSettings)):
            continue
        if klass is BaseSettings:
            continue
        docs.update(_class_docstrings(klass))
    return docs


def _class_docstrings(klass: type[object]) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(klass))
    except (OSError, TypeError) as error:
        raise GeneratorError(
            f"cannot read the source of {klass.__qualname__} ({error})"
        ) from error
    tree = ast.parse(source)
    node = next(
        (n for n in tree.body if isinstance(n, ast.ClassDef)),
        None,
    )
    if node is None:  # pragma: no cover - getsource returned a class
        return {}
    docs: dict[str, str] = {}
    body = node.body
    for statement, following in pairwise(body):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = following.value.value
    return docs


def env_prefix(cls: type[BaseSettings]) -> str:
    """The ``env_prefix`` of the class's ``model_config``."""
    return str(cls.model_config.get("env_prefix") or "")


def rows(cls: type[BaseSettings]) -> list[Row]:
    """One row per field of ``cls``, in declaration order.

    Raises:
        GeneratorError: A field has no docstring.
    """
    docs = field_docstrings(cls)
    prefix = env_prefix(cls)
    missing = [name for name in cls.model_fields if not docs.get(name, "").strip()]
    if missing:
        raise GeneratorError(
            f"{cls.__module__}.{cls.__qualname__}: fields {missing} have no "
            "docstring; write a one-line string literal under each field"
        )
    return [
        Row(
            variable=variable_cell(f"{prefix}{name.upper()}"),
            type=type_cell(field),
            default=default_cell(field),
            meaning=meaning_cell(docs[name]),
        )
        for name, field in cls.model_fields.items()
    ]


# -- rendering -----------------------------------------------------------------


def variable_cell(variable: str) -> str:
    """The variable in code, breakable only after its underscores.

    A narrow column then wraps ``SPAKKY_CELERY__TASK_REJECT_ON_WORKER_LOST``
    between words (``<wbr>``), never inside one.
    """
    return "<code>" + re.sub(r"(_+)(?=[A-Za-z0-9])", r"\1<wbr>", variable) + "</code>"


def type_name(annotation: object) -> str:
    """A readable name of a type annotation: ``list[str]``, ``float``, ``None``."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = get_origin(annotation)
    arguments = get_args(annotation)
    if origin is Annotated:
        return type_name(arguments[0])
    if origin is Union or origin is types.UnionType:
        return " | ".join(type_name(argument) for argument in arguments)
    if origin is Literal:
        return " | ".join(repr(argument) for argument in arguments)
    if origin is not None:
        inner = ", ".join(type_name(argument) for argument in arguments)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).removeprefix("typing.")


def _unions(annotation: object) -> list[object]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unions(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return list(get_args(annotation))
    return [annotation]


def _constraints(field: FieldInfo) -> Iterator[str]:
    for item in field.metadata:
        if isinstance(item, annotated_types.Gt):
            yield f"> {item.gt}"
        elif isinstance(item, annotated_types.Ge):
            yield f">= {item.ge}"
        elif isinstance(item, annotated_types.Lt):
            yield f"< {item.lt}"
        elif isinstance(item, annotated_types.Le):
            yield f"<= {item.le}"
        elif isinstance(item, annotated_types.MinLen):
            yield (
                "not empty" if item.min_length == 1 else f"length >= {item.min_length}"
            )
        elif isinstance(item, annotated_types.MaxLen):
            yield f"length <= {item.max_length}"


def type_cell(field: FieldInfo) -> str:
    """The type column: each alternative in code, then any bounds."""
    names = [
        "`" + type_name(member).replace("|", "\\|") + "`"
        for member in _unions(field.annotation)
    ]
    text = " or ".join(names)
    bounds = list(_constraints(field))
    return f"{text}, {', '.join(bounds)}" if bounds else text


def default_cell(field: FieldInfo) -> str:
    """The default as it would be written in the environment."""
    if field.is_required():
        return "*(required)*"
    value = field.get_default(call_default_factory=True)
    return f"`{env_value(value)}`"


def env_value(value: object) -> str:
    """How ``value`` is spelled in an environment variable."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def meaning_cell(docstring: str) -> str:
    """A docstring as one table cell: reST literals as Markdown code, one line."""
    text = " ".join(docstring.split())
    text = text.replace("``", "`")
    return text.replace("|", "\\|")


def render_table(cls: type[BaseSettings]) -> str:
    """The Markdown table of ``cls``."""
    lines = [
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row.variable} | {row.type} | {row.default} | {row.meaning} |"
        for row in rows(cls)
    ]
    return "\n".join(lines)


def render_block(source: SettingsSource, cls: type[BaseSettings]) -> str:
    """The whole generated block, markers included."""
    module_name = source.target.partition(":")[0]
    return (
        f"{begin(source.marker)}\n"
        f"<!-- generated by {GENERATOR} from {module_name}.{cls.__qualname__}; "
        "edit the class, not this table -->\n\n"
        f"{render_table(cls)}\n\n"
        f"{end(source.marker)}"
    )


def begin(marker: str) -> str:
    """The opening marker line of a block."""
    return f"<!-- BEGIN GENERATED: {marker} -->"


def end(marker: str) -> str:
    """The closing marker line of a block."""
    return f"<!-- END GENERATED: {marker} -->"


# -- pages -----------------------------------------------------------------------


def replace_block(text: str, source: SettingsSource, block: str) -> str:
    """``text`` with the block of ``source`` replaced, or appended if absent.

    Raises:
        GeneratorError: The markers are unbalanced or repeated.
    """
    opening, closing = begin(source.marker), end(source.marker)
    pattern = re.compile(re.escape(opening) + r".*?" + re.escape(closing), re.DOTALL)
    found = len(pattern.findall(text))
    if found == 0:
        if opening in text or closing in text:
            raise GeneratorError(
                f"docs/{source.page}: {source.marker} has only one of its markers; "
                f"put {opening!r} before {closing!r}"
            )
        heading = source.target.partition(":")[2]
        return f"{text.rstrip()}\n\n## `{heading}`\n\n{block}\n"
    if found > 1 or text.count(opening) > 1 or text.count(closing) > 1:
        raise GeneratorError(
            f"docs/{source.page}: the {source.marker} block appears more than once"
        )
    return pattern.sub(lambda _: block, text, count=1)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run found."""

    stale: list[str]
    """``page: marker`` of every block that differs from its class."""

    skipped: list[str]
    """Optional sources that are not installed."""


def generate(sources: Sequence[SettingsSource], docs: Path, *, write: bool) -> Outcome:
    """Render every source into its page; write the pages when ``write``."""
    pages: dict[str, str] = {}
    stale: list[str] = []
    skipped: list[str] = []
    for source in sources:
        cls = load(source)
        if cls is None:
            skipped.append(f"{source.marker} ({source.target} is not installed)")
            continue
        path = docs / source.page
        if source.page not in pages:
            if not path.is_file():
                raise GeneratorError(f"{path} does not exist")
            pages[source.page] = path.read_text(encoding="utf-8")
        before = pages[source.page]
        after = replace_block(before, source, render_block(source, cls))
        if after != before:
            stale.append(f"docs/{source.page}: {source.marker}")
            pages[source.page] = after
    if write:
        for page, text in pages.items():
            path = docs / page
            if path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
    return Outcome(stale=stale, skipped=skipped)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if a generated block is out of date",
    )
    parser.add_argument(
        "--docs", type=Path, default=DOCS, help="docs folder (default: %(default)s)"
    )
    options = parser.parse_args(argv)
    try:
        outcome = generate(SOURCES, options.docs, write=not options.check)
    except GeneratorError as error:
        print(f"gen_config_docs: {error}", file=sys.stderr)
        return 2
    for note in outcome.skipped:
        print(f"gen_config_docs: skipped {note}")
    if options.check and outcome.stale:
        print(
            "gen_config_docs: the settings reference is out of date in "
            + ", ".join(outcome.stale)
            + f"; run `python {GENERATOR}` and commit the result",
            file=sys.stderr,
        )
        return 1
    if outcome.stale:
        print(f"gen_config_docs: updated {', '.join(outcome.stale)}")
    else:
        print("gen_config_docs: the settings reference is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
