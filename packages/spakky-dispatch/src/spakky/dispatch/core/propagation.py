"""Ordered composition of header propagators."""

import sys
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from types import MappingProxyType, TracebackType

from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.call import TaskCall
from spakky.dispatch.core.error import HeaderPropagationError
from spakky.dispatch.core.ports import IHeaderPropagator

_LAST = Order()
_NOTHING: AbstractContextManager[None] = nullcontext()
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_NO_KWARGS: Mapping[str, object] = MappingProxyType({})

type _Entry = tuple[IHeaderPropagator, frozenset[str]]


def _name(propagator: IHeaderPropagator) -> str:
    kind = type(propagator)
    return f"{kind.__module__}.{kind.__qualname__}"


def _order_of(propagator: IHeaderPropagator) -> tuple[int, str]:
    order = Order.get_or_default(type(propagator), _LAST).order
    return order, type(propagator).__qualname__


@Pod()
class HeaderPropagation:
    """Runs every registered ``IHeaderPropagator`` in ascending ``@Order``.

    Two propagators may not claim the same header, so each owns its headers.
    """

    _propagators: tuple[_Entry, ...]
    _plans: dict[str, tuple[TaskBinding, tuple[_Entry, ...]]]

    def __init__(self, propagators: list[IHeaderPropagator] | None = None) -> None:
        ordered = sorted(propagators or (), key=_order_of)
        owners: dict[str, IHeaderPropagator] = {}
        entries: list[_Entry] = []
        for propagator in ordered:
            fields = frozenset(propagator.fields())
            for name in fields:
                owner = owners.setdefault(name, propagator)
                if owner is not propagator:
                    raise HeaderPropagationError(
                        f"header {name!r} is claimed by both {_name(owner)} and "
                        f"{_name(propagator)}; register only one of them"
                    )
            entries.append((propagator, fields))
        self._propagators = tuple(entries)
        self._plans = {}

    @property
    def propagators(self) -> Sequence[IHeaderPropagator]:
        """The propagators, in the order they run."""
        return tuple(propagator for propagator, _ in self._propagators)

    @property
    def fields(self) -> frozenset[str]:
        """Every header name some propagator owns."""
        return frozenset().union(*(fields for _, fields in self._propagators))

    def inject(self, call: TaskCall) -> dict[str, str]:
        """Collect the outgoing headers of every propagator for ``call``.

        Raises:
            HeaderPropagationError: A propagator wrote a header it does not own
                or a value that is not a string.
        """
        headers: dict[str, str] = {}
        for propagator, fields in self._propagators:
            written: dict[str, str] = {}
            propagator.inject(written, call)
            for name, value in written.items():
                if name not in fields or not isinstance(value, str):
                    raise HeaderPropagationError(
                        f"{type(propagator).__qualname__} wrote header {name!r} "
                        f"({type(value).__name__}); it may only write str values "
                        f"of {sorted(fields)}"
                    )
            headers.update(written)
        return headers

    def restore(
        self,
        headers: Mapping[str, object],
        task: TaskBinding,
        task_id: str | None = None,
        args: tuple[object, ...] = (),
        kwargs: Mapping[str, object] = _NO_KWARGS,
    ) -> AbstractContextManager[None]:
        """Activate every propagator's context from received ``headers``.

        Each propagator sees only its own headers, and only string values, and
        the call (``task``, the message's ``task_id``, ``args`` and ``kwargs``
        as received); the contexts are torn down in reverse order, also when
        the task raises. Propagators whose ``needs_restore(task)`` is false are
        skipped; which ones run is decided once per task, and the call is only
        described when one of them runs.
        """
        plan = self._plans.get(task.name)
        entries = plan[1] if plan is not None and plan[0] is task else self._plan(task)
        if not entries:
            return _NOTHING
        call = TaskCall(task=task, task_id=task_id, args=args, kwargs=kwargs)
        if len(entries) > 1:
            return _Restored(entries, headers, call)
        propagator, fields = entries[0]
        return propagator.restore(
            _own(headers, fields) if headers else _NO_HEADERS, call
        )

    def _plan(self, task: TaskBinding) -> tuple[_Entry, ...]:
        """The propagators that restore a context for ``task``, in run order."""
        entries = tuple(
            entry for entry in self._propagators if entry[0].needs_restore(task)
        )
        self._plans[task.name] = (task, entries)
        return entries


def _own(headers: Mapping[str, object], fields: frozenset[str]) -> dict[str, str]:
    """The string values of ``headers`` named in ``fields``."""
    return {
        name: value for name in fields if isinstance(value := headers.get(name), str)
    }


class _Restored:
    """Several propagators' contexts entered in order and exited in reverse.

    A propagator that refuses (its ``__enter__`` raises) stops the task: those
    entered before it are exited with its error, which then propagates even if
    one of them would suppress it (fail-closed).
    """

    __slots__ = ("_call", "_entries", "_headers", "_stack")

    _entries: tuple[_Entry, ...]
    _headers: Mapping[str, object]
    _call: TaskCall
    _stack: ExitStack

    def __init__(
        self,
        entries: tuple[_Entry, ...],
        headers: Mapping[str, object],
        call: TaskCall,
    ) -> None:
        self._entries = entries
        self._headers = headers
        self._call = call
        self._stack = ExitStack()

    def __enter__(self) -> None:
        stack, headers, call = self._stack, self._headers, self._call
        try:
            for propagator, fields in self._entries:
                stack.enter_context(propagator.restore(_own(headers, fields), call))
        except BaseException:
            stack.__exit__(*sys.exc_info())
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        return bool(self._stack.__exit__(exc_type, exc_value, traceback))
