"""Shared test data: tolerances and the 2-d convolution cases, valid by construction.

``TOL`` is the one place the tests take tolerances from (it is the library's own
:data:`gconv_lib.torch_check.TOLERANCES`, the numbers the book calls "equal"). ``CASES``
covers every ``groups`` case the book names, with stride, every padding form, dilation,
bias, batch 1 and > 1, unbatched input, non-square kernels and inputs. A test that takes the
``conv_case`` fixture runs once per case, with the case's name as its id; one that takes
``float_dtype`` runs for float64 and float32; ``two_threads`` gives gconv_lib's pool 2 threads
for a test, and :func:`run_while_the_thread_count_changes` runs calls in threads of their own
while the count changes.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

import numpy as np
import pytest

import gconv_lib as gl
from gconv_lib.torch_check import TOLERANCES

TOL = TOLERANCES
DTYPES = {"f64": np.float64, "f32": np.float32}


def pair(v):
    """An int or a pair, as a pair."""
    return (v, v) if np.isscalar(v) else tuple(v)


@dataclass(frozen=True)
class ConvCase:
    """One conv2d configuration whose shapes are valid by construction.

    The weight is built as ``(c_out, c_in // groups, kH, kW)``, so ``groups`` divides both
    channel counts whenever ``c_in = groups * a`` and ``c_out = groups * b``.
    ``n=None`` means an unbatched ``(C_in, H, W)`` input.
    """

    c_in: int
    c_out: int
    groups: int
    kernel: int | tuple[int, int]
    size: int | tuple[int, int]
    n: int | None = 2
    stride: object = 1
    padding: object = 0
    dilation: object = 1
    bias: bool = True
    kwargs: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        assert self.c_in % self.groups == 0 and self.c_out % self.groups == 0, self
        object.__setattr__(self, "kwargs", dict(stride=self.stride, padding=self.padding,
                                                dilation=self.dilation, groups=self.groups))

    def arrays(self, dtype=np.float64, seed=0):
        """Random ``(x, w, b)``: x (N, C_in, H, W) or (C_in, H, W), w (C_out, C_in/g, kH, kW)."""
        rng = np.random.default_rng(seed)
        batch = () if self.n is None else (self.n,)
        x = rng.standard_normal((*batch, self.c_in, *pair(self.size))).astype(dtype)
        w = rng.standard_normal((self.c_out, self.c_in // self.groups, *pair(self.kernel))).astype(dtype)
        b = rng.standard_normal(self.c_out).astype(dtype) if self.bias else None
        return x, w, b

    @property
    def is_depthwise(self):
        return self.groups == self.c_in


CASES = {
    "normal 3->5": ConvCase(3, 5, 1, 3, 7),
    "normal 1->1 batch 1": ConvCase(1, 1, 1, 3, 5, n=1),
    "grouped in>out 8->4 g=2, pad 1": ConvCase(8, 4, 2, 3, 6, padding=1),
    "grouped in>out 8->4 g=4 (1 output per group)": ConvCase(8, 4, 4, (3, 5), (9, 8), n=1),
    "grouped in<out 4->8 g=2, stride 2": ConvCase(4, 8, 2, 3, 9, stride=2, padding=1),
    "grouped in<out 2->6 g=2, no bias": ConvCase(2, 6, 2, 2, 5, bias=False),
    "grouped in=out 6->6 g=3, dilation 2": ConvCase(6, 6, 3, 3, 9, dilation=2),
    "grouped in=out 6->6 g=2, pad pair (1, 2)": ConvCase(6, 6, 2, 3, (5, 7), padding=(1, 2)),
    "depthwise 4->4, same": ConvCase(4, 4, 4, 3, 6, padding="same"),
    "depthwise 5->5, batch 3": ConvCase(5, 5, 5, 3, 5, n=3, padding=1),
    "depthwise multiplier 3->9, stride (2, 1)": ConvCase(3, 9, 3, 3, (8, 7), stride=(2, 1)),
    "depthwise multiplier 2->4, same even kernel": ConvCase(2, 4, 2, (2, 4), (5, 6), padding="same"),
    "same even kernel, dilation (1, 2)": ConvCase(4, 6, 2, (4, 2), (7, 6), padding="same",
                                                  dilation=(1, 2)),
    "same odd kernel, dilation 2": ConvCase(2, 2, 1, 3, 6, padding="same", dilation=2),
    "valid, stride 2": ConvCase(4, 2, 2, 3, (8, 9), stride=2, padding="valid"),
    "non-square everything": ConvCase(6, 4, 2, (1, 3), (5, 9), stride=(1, 2), padding=(0, 2),
                                      dilation=(3, 1)),
    "pointwise 1x1 grouped": ConvCase(6, 9, 3, 1, 4),
    "kernel as large as input": ConvCase(4, 4, 2, (5, 3), (5, 3)),
    "stride leaves a tail unused": ConvCase(2, 3, 1, 2, 8, stride=3),
    "unbatched (C, H, W), grouped": ConvCase(4, 6, 2, 3, 5, n=None, padding=1),
    "unbatched depthwise, same": ConvCase(3, 3, 3, 2, 4, n=None, padding="same"),
}


@pytest.fixture(params=list(CASES.values()), ids=list(CASES.keys()))
def conv_case(request) -> ConvCase:
    """Each entry of :data:`CASES` in turn."""
    return request.param


@pytest.fixture(params=list(DTYPES.values()), ids=list(DTYPES.keys()))
def float_dtype(request):
    """float64 and float32."""
    return np.dtype(request.param)


@pytest.fixture
def two_threads():
    """gconv_lib's pool set to 2 threads for a test, then the count from before."""
    before = gl.get_num_threads()
    gl.set_num_threads(2)
    yield 2
    gl.set_num_threads(before)


def run_while_the_thread_count_changes(calls, counts=(1, 2, 3, 4)):
    """Run each of ``calls`` in a thread of its own while this thread cycles gconv_lib's thread
    count through ``counts``; then restore the count.

    Returns the exceptions the calls raised and how many times the count changed.
    """
    errors = []

    def run(call):
        try:
            call()
        except BaseException as e:  # returned to the test
            errors.append(e)

    before = gl.get_num_threads()
    workers = [threading.Thread(target=run, args=(call,)) for call in calls]
    changes = 0
    try:
        for t in workers:
            t.start()
        while any(t.is_alive() for t in workers):
            gl.set_num_threads(counts[changes % len(counts)])
            changes += 1
        for t in workers:
            t.join()
    finally:
        gl.set_num_threads(before)
    return errors, changes


@pytest.fixture(autouse=True, scope="session")
def torch_single_thread():
    """Run torch on one thread: the tests' tensors are tiny, and on a small machine torch's
    thread pool makes each call ~100x slower than the work itself. (torch is imported by the
    test modules that use it, at collection; a run without them never imports it.)"""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
