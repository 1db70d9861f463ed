"""Ordered composition of header propagators."""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager

from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.error import HeaderBudgetExceededError, HeaderPropagationError
from spakky.dispatch.core.ports import IHeaderPropagator

_LAST = Order()


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

    _propagators: tuple[tuple[IHeaderPropagator, frozenset[str]], ...]

    def __init__(self, propagators: list[IHeaderPropagator] | None = None) -> None:
        ordered = sorted(propagators or (), key=_order_of)
        owners: dict[str, IHeaderPropagator] = {}
        entries: list[tuple[IHeaderPropagator, frozenset[str]]] = []
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

    @property
    def propagators(self) -> Sequence[IHeaderPropagator]:
        """The propagators, in the order they run."""
        return tuple(propagator for propagator, _ in self._propagators)

    @property
    def fields(self) -> frozenset[str]:
        """Every header name some propagator owns."""
        return frozenset().union(*(fields for _, fields in self._propagators))

    def inject(self, task: TaskBinding) -> dict[str, str]:
        """Collect the outgoing headers of every propagator for ``task``.

        Raises:
            HeaderPropagationError: A propagator wrote a header it does not own
                or a value that is not a string.
        """
        headers: dict[str, str] = {}
        for propagator, fields in self._propagators:
            written: dict[str, str] = {}
            propagator.inject(written, task)
            for name, value in written.items():
                if name not in fields or not isinstance(value, str):
                    raise HeaderPropagationError(
                        f"{type(propagator).__qualname__} wrote header {name!r} "
                        f"({type(value).__name__}); it may only write str values "
                        f"of {sorted(fields)}"
                    )
            headers.update(written)
        return headers

    @contextmanager
    def restore(
        self, headers: Mapping[str, object], task: TaskBinding
    ) -> Iterator[None]:
        """Activate every propagator's context from received ``headers``.

        Each propagator sees only its own headers, and only string values; the
        contexts are torn down in reverse order, also when the task raises.
        """
        with ExitStack() as stack:
            for propagator, fields in self._propagators:
                own = {
                    name: value
                    for name in fields
                    if isinstance(value := headers.get(name), str)
                }
                stack.enter_context(propagator.restore(own, task))
            yield


def check_header_budget(
    task_name: str, headers: Mapping[str, str], max_bytes: int
) -> None:
    """Refuse a message whose propagation headers exceed ``max_bytes``.

    Transports call this before publishing: a broker such as RabbitMQ closes
    the connection when a message's header frame is too large.

    Raises:
        HeaderBudgetExceededError: The headers are larger than ``max_bytes``;
            the error names the task and the largest headers.
    """
    sizes = _sizes(headers)
    total = sum(sizes.values())
    if total <= max_bytes:
        return
    largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:3]
    raise HeaderBudgetExceededError(
        f"{task_name}: {total} bytes of headers, budget {max_bytes} (largest: "
        + ", ".join(f"{name!r} {size} B" for name, size in largest)
        + ")"
    )


def _sizes(headers: Mapping[str, str]) -> dict[str, int]:
    """Bytes of each header on the wire: its UTF-8 name and value."""
    return {
        name: len(name.encode()) + len(value.encode())
        for name, value in headers.items()
    }
