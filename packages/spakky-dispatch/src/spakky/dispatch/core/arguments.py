"""Checking a ``@task`` call against its method's signature, where it is made.

A call that Python would refuse on the method itself is refused by the
dispatcher too, before anything is sent, with the message Python would give.
The signature is resolved once, at registration; calls that pass plain
positional arguments to a plain signature take a fast path.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from inspect import Parameter, Signature, getattr_static, signature
from typing import TYPE_CHECKING

from spakky.dispatch.core.error import TaskArgumentsError

if TYPE_CHECKING:
    from spakky.dispatch.core.binding import TaskBinding

_EMPTY = Parameter.empty
_POSITIONAL = (Parameter.POSITIONAL_ONLY, Parameter.POSITIONAL_OR_KEYWORD)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskSignature:
    """What a caller of a task must pass: the method's signature without ``self``."""

    signature: Signature
    """The method's signature as callers see it (``self`` removed)."""

    qualname: str
    """``Class.method``, as Python names the method in its own errors."""

    plain: tuple[str, ...] | None
    """Parameter names when every one is positional-or-keyword, else None."""

    required: int
    """How many of ``plain``'s parameters have no default."""

    @classmethod
    def of(cls, handler_type: type[object], method_name: str) -> "TaskSignature | None":
        """The signature of ``handler_type.method_name``; None when it has none."""
        method = getattr(handler_type, method_name)
        try:
            full = signature(method)
        except (TypeError, ValueError):  # a callable Python cannot describe
            return None
        parameters = list(full.parameters.values())
        if not isinstance(getattr_static(handler_type, method_name), staticmethod):
            parameters = parameters[1:]  # ``self`` (``cls``) is bound by the call
        plain = all(p.kind is Parameter.POSITIONAL_OR_KEYWORD for p in parameters)
        return cls(
            signature=full.replace(parameters=parameters),
            qualname=f"{handler_type.__qualname__}.{method_name}",
            plain=tuple(p.name for p in parameters) if plain else None,
            required=sum(1 for p in parameters if p.default is _EMPTY),
        )

    def problem(
        self, args: tuple[object, ...], kwargs: Mapping[str, object]
    ) -> str | None:
        """Why the call ``(*args, **kwargs)`` does not bind, or None when it does."""
        plain = self.plain
        given = len(args)
        if plain is not None and given <= len(plain):
            # Without defaults first (Python's rule), the first ``required``
            # names are the ones a call must fill.
            if not kwargs:
                if given >= self.required:
                    return None
            elif _fills(plain, given, self.required, kwargs):
                return None
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as error:
            return explain(self.signature, self.qualname, args, kwargs) or (
                f"{self.qualname}() {error}"
            )
        return None


def _fills(
    plain: tuple[str, ...], given: int, required: int, kwargs: Mapping[str, object]
) -> bool:
    """Whether ``kwargs`` complete ``given`` positional arguments of ``plain``."""
    rest = plain[given:]
    for name in kwargs:
        if name not in rest:
            return False
    for name in plain[given:required]:  # noqa: SIM110  # a loop beats all(...) here
        if name not in kwargs:
            return False
    return True


def explain(
    call: Signature,
    qualname: str,
    args: tuple[object, ...],
    kwargs: Mapping[str, object],
) -> str | None:
    """Python's own message for a call that does not bind (None if unusual).

    ``call`` has no ``self``; like Python, counts of positional arguments
    include it.
    """
    parameters = list(call.parameters.values())
    positional = [p for p in parameters if p.kind in _POSITIONAL]
    kinds = {p.kind for p in parameters}
    given = len(args)
    if given > len(positional) and Parameter.VAR_POSITIONAL not in kinds:
        low = 1 + sum(1 for p in positional if p.default is _EMPTY)
        high = 1 + len(positional)
        takes = f"{high}" if low == high else f"from {low} to {high}"
        noun = "argument" if high == 1 else "arguments"
        return (
            f"{qualname}() takes {takes} positional {noun} but {given + 1} were given"
        )
    for parameter in positional[:given]:
        if parameter.name in kwargs and parameter.kind is not Parameter.POSITIONAL_ONLY:
            return f"{qualname}() got multiple values for argument {parameter.name!r}"
    as_keywords = [
        repr(p.name)
        for p in positional
        if p.kind is Parameter.POSITIONAL_ONLY and p.name in kwargs
    ]
    if as_keywords and Parameter.VAR_KEYWORD not in kinds:
        return (
            f"{qualname}() got some positional-only arguments passed as keyword "
            f"arguments: {', '.join(as_keywords)}"
        )
    named = {p.name for p in parameters if p.kind not in _VARIADIC}
    for name in kwargs:
        if name not in named and Parameter.VAR_KEYWORD not in kinds:
            return f"{qualname}() got an unexpected keyword argument {name!r}"
    missing = [
        p.name
        for p in positional[given:]
        if p.default is _EMPTY
        and (p.name not in kwargs or p.kind is Parameter.POSITIONAL_ONLY)
    ]
    if missing:
        return f"{qualname}() missing {_names(missing, 'positional')}"
    keyword_only = [
        p.name
        for p in parameters
        if p.kind is Parameter.KEYWORD_ONLY
        and p.default is _EMPTY
        and p.name not in kwargs
    ]
    if keyword_only:
        return f"{qualname}() missing {_names(keyword_only, 'keyword-only')}"
    return None


_VARIADIC = (Parameter.VAR_POSITIONAL, Parameter.VAR_KEYWORD)


def _names(names: list[str], kind: str) -> str:
    """``1 required positional argument: 'a'``, ``2 ...: 'a' and 'b'``, as Python."""
    quoted = [repr(name) for name in names]
    if len(quoted) == 1:
        listed = quoted[0]
    elif len(quoted) == 2:
        listed = " and ".join(quoted)
    else:
        listed = ", ".join(quoted[:-1]) + ", and " + quoted[-1]
    noun = "argument" if len(names) == 1 else "arguments"
    return f"{len(names)} required {kind} {noun}: {listed}"


def check_arguments(
    task: "TaskBinding", args: tuple[object, ...], kwargs: Mapping[str, object]
) -> None:
    """Refuse a call of ``task`` that does not bind to its method's signature.

    Raises:
        TaskArgumentsError: Names the method and what is wrong, as Python would.
    """
    shape = task.signature
    if shape is None:
        return
    problem = shape.problem(args, kwargs)
    if problem is not None:
        raise TaskArgumentsError(f"{problem} (task {task.name})")
