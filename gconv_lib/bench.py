"""Time ``gconv_lib.conv2d`` against ``torch.nn.functional.conv2d`` on a fixed suite of layers.

Run ``python -m gconv_lib.bench`` (options: ``--threads``, ``--repeats``, ``--quick``,
``--out``). Both libraries run in this one process, on the same float32 input, with the
same number of threads (set explicitly and printed), and each time quoted is the median
of ``2 * repeats`` calls: two rounds (gconv_lib then torch, torch then gconv_lib) of a
warm-up call and ``repeats`` timed calls each (see :func:`time_calls`). The table also
gives the achieved GFLOP/s (two floating-point operations per multiply-add) and the peak
memory gconv_lib allocates in one call, measured by :mod:`tracemalloc` in a separate,
untimed call, both in MiB and as a multiple of the bytes of input + weight + output.

Times move with the machine: on the 2-core VM this was written on, torch's depthwise layers
took 2-3x longer in some processes than in others (with glibc's ``MALLOC_MMAP_THRESHOLD_``
and ``MALLOC_TRIM_THRESHOLD_`` raised they were fast every time), and any other busy process
slows both libraries. Run the benchmark on an idle machine, more than once.

The pieces are reusable, for example to time a layer at several ``groups``::

    from gconv_lib import bench
    layer = bench.Layer("grouped", 128, 128, 3, 28, groups=32, padding=1)
    x, w = layer.arrays()
    seconds = bench.time_call(lambda: gl.conv2d(x, w, padding=1, groups=32), repeats=5)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import fast
from .conv import conv2d
from .cost import macs


@dataclass(frozen=True)
class Layer:
    """One convolution of the benchmark: ``conv2d(x, w, stride, padding, groups=groups)``.

    Attributes
    ----------
    name : str
    in_channels, out_channels, kernel_size, size : int
        ``x`` has shape ``(batch, in_channels, size, size)``, ``w`` has shape
        ``(out_channels, in_channels // groups, kernel_size, kernel_size)``.
    groups, stride, padding, batch : int
    """

    name: str
    in_channels: int
    out_channels: int
    kernel_size: int
    size: int
    groups: int = 1
    stride: int = 1
    padding: int = 0
    batch: int = 8

    @property
    def kwargs(self) -> dict:
        """The keyword arguments of the call, for gconv_lib and torch alike."""
        return dict(stride=self.stride, padding=self.padding, groups=self.groups)

    @property
    def shape(self) -> str:
        """A short description: ``64->64 k3 56px g1 s1``."""
        return (f"{self.in_channels}->{self.out_channels} k{self.kernel_size} {self.size}px "
                f"g{self.groups} s{self.stride}")

    def arrays(self, seed: int = 0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
        """A random input ``(N, C_in, H, W)`` and weight ``(C_out, C_in // groups, k, k)``."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((self.batch, self.in_channels, self.size, self.size), dtype=dtype)
        w = rng.standard_normal((self.out_channels, self.in_channels // self.groups,
                                 self.kernel_size, self.kernel_size), dtype=dtype)
        return x, w

    def flops(self) -> int:
        """Floating-point operations of one call: 2 per multiply-add."""
        return 2 * macs(self.in_channels, self.out_channels, self.kernel_size, self.size,
                        groups=self.groups, stride=self.stride, padding=self.padding,
                        batch=self.batch)


#: The fixed benchmark suite (batch 8, float32).
SUITE = (
    Layer("dense 3x3 (ResNet)", 64, 64, 3, 56, padding=1),
    Layer("grouped 3x3 (ResNeXt 32x4d)", 128, 128, 3, 56, groups=32, padding=1),
    Layer("grouped 1x1 (ShuffleNet g=3)", 240, 240, 1, 28, groups=3),
    Layer("grouped 3x3 in>out", 256, 128, 3, 28, groups=8, padding=1),
    Layer("grouped 3x3 in<out", 64, 256, 3, 28, groups=16, padding=1),
    Layer("depthwise 3x3 s1 (MobileNet)", 32, 32, 3, 112, groups=32, padding=1),
    Layer("depthwise 3x3 s2 (MobileNetV2)", 144, 144, 3, 56, groups=144, stride=2, padding=1),
    Layer("depthwise 7x7 (ConvNeXt)", 96, 96, 7, 56, groups=96, padding=3),
)


def set_threads(n: int) -> None:
    """Give torch and gconv_lib ``n`` threads each.

    gconv_lib's are its pool's workers; NumPy's BLAS runs on one thread inside each of them
    while gconv_lib computes (:mod:`gconv_lib.threads`), so it too uses ``n`` cores in all.
    """
    import torch

    torch.set_num_threads(n)
    fast.set_num_threads(n)


def time_call(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` calls, after ``warmup`` calls."""
    return time_calls([fn], repeats, warmup, rounds=1)[0]


def time_calls(fns, repeats: int = 5, warmup: int = 1, rounds: int = 2) -> list[float]:
    """Median wall time in seconds of each of ``fns``, over ``rounds`` rounds of ``repeats`` calls.

    In each round every function gets ``warmup`` untimed calls, then ``repeats`` timed
    calls in a row; the order of the functions flips from one round to the next. Runs in
    a row measure each library in its steady state (calling torch in between would leave
    its OpenMP threads spinning while gconv_lib runs); the rounds give both the same share
    of whatever else the machine is doing.
    """
    times = [[] for _ in fns]
    for r in range(rounds):
        order = list(zip(fns, times))
        for fn, seconds in (order if r % 2 == 0 else order[::-1]):
            for _ in range(warmup):
                fn()
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                seconds.append(time.perf_counter() - start)
    return [statistics.median(seconds) for seconds in times]


def peak_memory(fn) -> int:
    """Peak bytes that Python-visible allocations (NumPy's included) reach during ``fn()``.

    Counted from the memory in use just before the call, so the arguments do not count
    but the result does. Run it untimed: tracing slows every allocation down.
    """
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if not already:
            tracemalloc.stop()


@dataclass(frozen=True)
class Result:
    """Measurements of one layer. Times in seconds, memory in bytes."""

    layer: Layer
    ours: float
    torch: float
    peak: int
    io_bytes: int
    max_abs_diff: float

    @property
    def ratio(self) -> float:
        return self.ours / self.torch

    @property
    def peak_ratio(self) -> float:
        return self.peak / self.io_bytes


def run_layer(layer: Layer, repeats: int = 5) -> Result:
    """Time and measure one layer with the thread counts already set (see :func:`set_threads`)."""
    import torch
    import torch.nn.functional as F

    x, w = layer.arrays()
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    ours = lambda: conv2d(x, w, **layer.kwargs)
    theirs = lambda: F.conv2d(xt, wt, **layer.kwargs)
    with torch.no_grad():
        out = ours()
        diff = float(np.max(np.abs(out - theirs().numpy())))
        t_ours, t_torch = time_calls([ours, theirs], repeats)
    return Result(layer, t_ours, t_torch, peak_memory(ours), x.nbytes + w.nbytes + out.nbytes, diff)


def run_suite(suite=SUITE, repeats: int = 5, threads: int = 2, quick: bool = False,
              progress=None) -> list[Result]:
    """Set ``threads`` for both libraries and run :func:`run_layer` on every layer of ``suite``.

    ``quick`` uses batch 1 instead of the layers' own batch; ``progress``, if given, is
    called with each :class:`Result` as soon as it is measured.
    """
    set_threads(threads)
    results = []
    for layer in suite:
        result = run_layer(replace(layer, batch=1) if quick else layer, repeats)
        if progress is not None:
            progress(result)
        results.append(result)
    return results


COLUMNS = ("layer", "shape", "gconv_lib ms", "torch ms", "ratio", "gconv_lib GFLOP/s",
           "torch GFLOP/s", "peak MiB", "peak / (in+w+out)")


def row(r: Result) -> list[str]:
    """The table cells of one :class:`Result`."""
    gflops = r.layer.flops() / 1e9
    return [r.layer.name, r.layer.shape, f"{r.ours * 1e3:.2f}", f"{r.torch * 1e3:.2f}",
            f"{r.ratio:.2f}", f"{gflops / r.ours:.1f}", f"{gflops / r.torch:.1f}",
            f"{r.peak / 2**20:.1f}", f"{r.peak_ratio:.2f}"]


def to_markdown(results: list[Result], threads: int, repeats: int) -> str:
    """A Markdown table of the results, with a header line and the median ratio."""
    batch = results[0].layer.batch if results else 0
    lines = [f"Threads: {threads} (torch and gconv_lib). Batch {batch}, float32, "
             f"median of {2 * repeats} calls (2 rounds of {repeats}).", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(r)) + " |" for r in results]
    if results:
        ratios = [r.ratio for r in results]
        lines += ["", f"Median ratio gconv_lib/torch: {statistics.median(ratios):.2f}; "
                      f"worst: {max(ratios):.2f}; worst peak / (in+w+out): "
                      f"{max(r.peak_ratio for r in results):.2f}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gconv_lib.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for both libraries (default 2)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per layer and round, two rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="batch 1 and 3 repeats, for a smoke test")
    parser.add_argument("--out", type=Path, default=Path("_build/bench.md"),
                        help="where to write the Markdown table (default _build/bench.md)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats

    print(f"threads: {args.threads} (torch.set_num_threads; gconv_lib's pool, one BLAS thread per worker); "
          f"repeats: 2 rounds of {repeats}", flush=True)
    show = lambda r: print("  " + " | ".join(row(r)), flush=True)
    results = run_suite(SUITE, repeats, args.threads, args.quick, progress=show)
    table = to_markdown(results, args.threads, repeats)
    print()
    print(table, end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
