"""Timing: samples, their statistics, and sides compared in the same run.

Every row times its sides (ours, the raw library, the old distribution) in
the same run: each side is warmed up, then sampled once per repeat, the
order of the sides rotating from repeat to repeat so that drift of the
machine's speed falls on all of them alike.

Imports only the standard library: the old distribution's driver uses it too.
"""

import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial


@dataclass(frozen=True, slots=True, kw_only=True)
class Stat:
    """One measured quantity over the repeats."""

    median: float
    min: float
    max: float

    @classmethod
    def of(cls, samples: list[float]) -> "Stat":
        return cls(
            median=statistics.median(samples), min=min(samples), max=max(samples)
        )


def stats_of(samples: Mapping[str, list[float]]) -> dict[str, Stat]:
    """The statistics of each side's samples (a side without any is left out)."""
    return {side: Stat.of(values) for side, values in samples.items() if values}


type Sampler = Callable[[int], float]
"""Runs ``number`` calls of one side and returns the time of one, in µs."""
type AsyncSampler = Callable[[int], Awaitable[float]]
"""``Sampler`` for awaited calls."""


def per_call_us(call: Callable[[], object], number: int) -> float:
    """Mean time of one call over ``number`` calls, in microseconds."""
    start = time.perf_counter()
    for _ in range(number):
        call()
    return (time.perf_counter() - start) / number * 1e6


async def per_call_us_async(
    call: Callable[[], Awaitable[object]], number: int
) -> float:
    """Mean time of one awaited call over ``number`` calls, in microseconds."""
    start = time.perf_counter()
    for _ in range(number):
        await call()
    return (time.perf_counter() - start) / number * 1e6


def sampler(call: Callable[[], object]) -> Sampler:
    """The sampler of a call made in this process."""
    return partial(per_call_us, call)


def async_sampler(call: Callable[[], Awaitable[object]]) -> AsyncSampler:
    """The sampler of an awaited call made in this process."""
    return partial(per_call_us_async, call)


def warm_up(number: int) -> int:
    """How many calls warm a side up before it is sampled."""
    return max(number // 10, 3)


def rotation[T](sides: list[T], repeat: int) -> Iterator[T]:
    """Every side once per repeat; each repeat starts one side later."""
    for index in range(repeat):
        shift = index % len(sides)
        yield from sides[shift:] + sides[:shift]


def compare(
    samplers: Mapping[str, Sampler], *, number: int, repeat: int
) -> dict[str, Stat]:
    """Sample every side ``repeat`` times, rotating, after a warm-up of each."""
    samples: dict[str, list[float]] = {name: [] for name in samplers}
    for sample in samplers.values():
        sample(warm_up(number))
    for name in rotation(list(samplers), repeat):
        samples[name].append(samplers[name](number))
    return stats_of(samples)


async def compare_async(
    samplers: Mapping[str, AsyncSampler], *, number: int, repeat: int
) -> dict[str, Stat]:
    """``compare`` for awaited calls, all inside the caller's running loop."""
    samples: dict[str, list[float]] = {name: [] for name in samplers}
    for sample in samplers.values():
        await sample(warm_up(number))
    for name in rotation(list(samplers), repeat):
        samples[name].append(await samplers[name](number))
    return stats_of(samples)
