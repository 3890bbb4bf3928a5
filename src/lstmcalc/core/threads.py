"""BLAS threads for the recurrence.

Each step of the recurrence is one small product (h_{t-1} @ W_h^T, B x n by n x 4n). Split
across threads it gains nothing on a quiet machine and loses badly on a busy one: a thread
that waits for a core holds the step up (measured at m = 64, n = 128, T = 20,000 on two busy
cores: 4.5 s with OpenBLAS's threads, 0.94 s with one). So the loop runs BLAS single-threaded
when a step's product is small, and the input projection's products of those steps with it:
on two threads they gain 11 ms quiet and lose 120 ms busy (m = 64, n = 128, T = 20,000,
`python benchmarks/busy.py`).
Threads are set through threadpoolctl where it is installed (`lstmcalc[fast]`); without it,
BLAS keeps its own setting. The numbers are the same either way: OpenBLAS splits a product's
rows and columns between threads, never the sums, so each entry's bits do not change.
"""

import contextlib
import functools
from typing import Any

SMALL = 1 << 20  # multiply-adds per step below which one thread runs the step faster
FEW = 16  # steps below which the switch is not worth its cost


@functools.lru_cache(maxsize=1)
def _controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def limited(work_per_step: int, steps: int) -> bool:
    """Whether recurrence() runs BLAS on one thread for these steps."""
    return work_per_step < SMALL and steps >= FEW and _controller() is not None


def recurrence(work_per_step: int, steps: int) -> contextlib.AbstractContextManager[Any]:
    """The context the recurrent loop runs in: BLAS on one thread when its steps are small
    and many, else as it is."""
    if not limited(work_per_step, steps):
        return contextlib.nullcontext()
    one: contextlib.AbstractContextManager[Any] = _controller().limit(limits=1,
                                                                      user_api="blas")
    return one
