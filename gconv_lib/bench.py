"""Time gconv_lib against torch on fixed suites of layers and on whole networks.

Run ``python -m gconv_lib.bench`` (options: ``--suite``, ``--threads``, ``--repeats``,
``--quick``, ``--out``). The suites (:mod:`gconv_lib.bench_suites`): ``layers`` (conv2d,
batch 8), ``small`` (layers torch runs in well under a millisecond), ``backward``
(``conv2d_backward`` against torch's convolution backward, all three gradients),
``transposed`` (``conv_transpose2d``), ``conv1d``, ``conv3d``, and ``networks``: every
``Conv2d`` of eight ImageNet networks (:mod:`gconv_lib.networks`) at batch 1 and 8, each
network's summed time against torch's.

Both libraries run in this one process, on the same float32 input, with the
same number of threads (set explicitly and printed), and each time quoted is the median
of ``2 * repeats`` calls: two rounds (gconv_lib then torch, torch then gconv_lib) of a
warm-up call and ``repeats`` timed calls each (see :func:`time_calls`). The table also
gives the achieved GFLOP/s (two floating-point operations per multiply-add) and the peak
memory gconv_lib allocates in one call, measured by :mod:`tracemalloc` in a separate,
untimed call, both in MiB and as a multiple of the bytes of input + weight + output
(for ``backward``: input, weight, ``grad_output`` and the three gradients).

For every depthwise layer (one input channel per group; 1-d, 2-d, 3-d or transposed) the
table also gives **pure NumPy's floor** (:func:`floor_call`), timed in the same rounds:
``kH * kW`` multiply and add passes over the output's element count, in cache-sized chunks,
on the same threads: the time of the plain element-wise way to compute the layer, without
even its copies. It is the yardstick for depthwise layers, not torch: pure NumPy cannot do
them the way a compiled kernel does. (It is not a strict lower bound: ``np.einsum``, which
gconv_lib's ``"channels_last"`` path uses, adds each product as it makes it, one pass per
tap, and its sums alone can take less than the floor.)

Times move with the machine: on the 2-core VM this was written on, torch's depthwise layers
took 2-3x longer in some processes than in others (with glibc's ``MALLOC_MMAP_THRESHOLD_``
and ``MALLOC_TRIM_THRESHOLD_`` raised they were fast every time), and any other busy process
slows both libraries. While other processes kept both cores busy, torch's 2-thread times
jumped to multiples of about 16 ms (a layer of 1 ms took 16, 32 or 48 ms: its OpenMP
threads waiting for a core), and two gconv_lib workers ran no faster than one. Run the
benchmark on an idle machine, more than once; ``--threads 1`` is the least disturbed.

The pieces are reusable, for example to time a layer at several ``groups``::

    from gconv_lib import bench
    layer = bench.Layer("grouped", 128, 128, 3, 28, groups=32, padding=1)
    x, w = layer.arrays()
    seconds = bench.time_call(lambda: gl.conv2d(x, w, padding=1, groups=32), repeats=5)
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass, replace
from math import prod
from pathlib import Path

import numpy as np

from . import fast
from .backward import conv2d_backward
from .bench_suites import CONV1D, CONV3D, LAYERS, SMALL, TRANSPOSED, Layer, backward_suite
from .conv import conv1d, conv2d, conv3d
from .networks import NETWORKS
from .threads import run_jobs
from .transpose import conv_transpose2d

SUITE = LAYERS  # the first suite, the one ``--suite layers`` runs


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


def time_in_numpy(fn, names=("matmul", "copyto", "einsum", "multiply"), repeats: int = 5,
                  module=fast) -> dict:
    """Where one call of ``fn()`` spends its time: seconds per call inside each NumPy function
    ``names`` that ``module`` (by default :mod:`gconv_lib.fast`) calls, and ``"total"``.

    ``module``'s name ``np`` is swapped, during the calls, for NumPy with those functions
    timed; the rest (Python, NumPy calls not named, ``+=``, and the timing wrappers' own
    overhead) is ``total`` minus their sum, and ``total`` is measured with the wrappers in
    place. Run it with one thread (:func:`set_threads`): with more, the workers' times add
    up and can exceed the wall time. Returns the mean over ``repeats`` calls after one
    untimed.

    Examples
    --------
    >>> x, w = np.ones((1, 8, 16, 16), np.float32), np.ones((8, 8, 3, 3), np.float32)
    >>> split = time_in_numpy(lambda: conv2d(x, w, padding=1), repeats=2)
    >>> sorted(split), split["matmul"] > 0, split["matmul"] + split["copyto"] < split["total"]
    (['copyto', 'einsum', 'matmul', 'multiply', 'total'], True, True)
    """
    seconds = dict.fromkeys(names, 0.0)

    class TimedNumPy:  # NumPy, with the named functions' time added up
        def __getattr__(self, name):
            function = getattr(np, name)
            if name not in seconds:
                return function

            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    seconds[name] += time.perf_counter() - start
            return timed

    fn()
    real, module.np = module.np, TimedNumPy()
    try:
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        total = time.perf_counter() - start
    finally:
        module.np = real
    return {**{name: t / repeats for name, t in seconds.items()}, "total": total / repeats}


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
    """Measurements of one layer. Times in seconds, memory in bytes; ``floor`` only for
    depthwise layers (see :func:`floor_call`)."""

    layer: Layer
    ours: float
    torch: float
    peak: int
    io_bytes: int
    max_abs_diff: float
    floor: float | None = None

    @property
    def ratio(self) -> float:
        return self.ours / self.torch

    @property
    def peak_ratio(self) -> float:
        return self.peak / self.io_bytes


def calls(layer: Layer, x: np.ndarray, w: np.ndarray):
    """``(ours, theirs)``: gconv_lib's and torch's call of ``layer`` on ``x`` and ``w``.

    Each returns a tuple of arrays (torch's as tensors): the output, or the three gradients.
    """
    import torch
    import torch.nn.functional as F

    xt, wt, kw = torch.from_numpy(x), torch.from_numpy(w), layer.kwargs
    if layer.op == "transposed":
        return (lambda: (conv_transpose2d(x, w, **kw),), lambda: (F.conv_transpose2d(xt, wt, **kw),))
    ours, theirs = {1: (conv1d, F.conv1d), 2: (conv2d, F.conv2d), 3: (conv3d, F.conv3d)}[layer.nd]
    if layer.op == "conv":
        return lambda: (ours(x, w, **kw),), lambda: (theirs(xt, wt, **kw),)
    dy = np.random.default_rng(1).standard_normal((layer.batch, layer.out_channels, *layer.out_spatial),
                                                  dtype=x.dtype)
    nd, dyt = layer.nd, torch.from_numpy(dy)
    # what torch's autograd runs for a convolution's backward: all three gradients at once
    backward = lambda: torch.ops.aten.convolution_backward(
        dyt, xt, wt, [layer.out_channels], [layer.stride] * nd, [layer.padding] * nd, [1] * nd,
        False, [0] * nd, layer.groups, [True, True, True])
    return lambda: conv2d_backward(dy, x, w, **kw), backward


def floor_call(layer: Layer, chunk_bytes: int = 1 << 20):
    """Pure NumPy's floor for a depthwise ``layer``: a function that runs ``kH * kW`` multiply
    passes and ``kH * kW - 1`` add passes over the output's element count (``k ** nd`` taps
    in ``nd`` dimensions; for a transposed layer over its multiply-adds / taps values, the
    input's positions times the output channels per group).

    The passes run chunk by chunk (``chunk_bytes`` per chunk, so that the accumulator stays
    in the cache) on gconv_lib's threads, as its own depthwise tiles do; what they leave
    out (copying the input's windows, writing the output) only adds to gconv_lib's time.
    """
    n_taps = layer.kernel_size ** layer.nd
    size = layer.macs() // n_taps  # the output's element count, for a forward layer
    rng = np.random.default_rng(2)
    src, taps = rng.standard_normal(size, dtype=np.float32), rng.standard_normal(n_taps, dtype=np.float32)
    step = max(1, chunk_bytes // src.itemsize)
    jobs = [(lo, min(size, lo + step)) for lo in range(0, size, step)]

    def make_worker():
        acc, tmp = np.empty(step, src.dtype), np.empty(step, src.dtype)

        def passes(lo, hi):
            a, t, s = acc[: hi - lo], tmp[: hi - lo], src[lo:hi]
            np.multiply(s, taps[0], out=a)
            for k in range(1, n_taps):
                np.multiply(s, taps[k], out=t)
                a += t
        return passes

    return lambda: run_jobs(jobs, make_worker, blas=False)


def run_layer(layer: Layer, repeats: int = 5) -> Result:
    """Time and measure one layer with the thread counts already set (see :func:`set_threads`)."""
    import torch

    x, w = layer.arrays()
    ours, theirs = calls(layer, x, w)
    fns = [ours, theirs] + ([floor_call(layer)] if layer.depthwise else [])
    with torch.no_grad():
        out = ours()
        diff = max(float(np.max(np.abs(o - t.numpy()), initial=0)) for o, t in zip(out, theirs()))
        times = time_calls(fns, repeats)
    io_bytes = x.nbytes + w.nbytes + sum(o.nbytes for o in out)
    if layer.op == "backward":
        io_bytes += 4 * layer.batch * layer.out_channels * prod(layer.out_spatial)  # grad_output
    floor = times[2] if layer.depthwise else None
    return Result(layer, times[0], times[1], peak_memory(ours), io_bytes, diff, floor)


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


COLUMNS = ("layer", "shape", "batch", "gconv_lib ms", "torch ms", "ratio", "gconv_lib GFLOP/s",
           "torch GFLOP/s", "peak MiB", "peak / (in+w+out)", "floor ms", "/ floor")


def row(r: Result) -> list[str]:
    """The table cells of one :class:`Result`."""
    gflops = r.layer.flops() / 1e9
    floor = ["", ""] if r.floor is None else [f"{r.floor * 1e3:.2f}", f"{r.ours / r.floor:.2f}"]
    return [r.layer.name, r.layer.shape, str(r.layer.batch), f"{r.ours * 1e3:.2f}", f"{r.torch * 1e3:.2f}",
            f"{r.ratio:.2f}", f"{gflops / r.ours:.1f}", f"{gflops / r.torch:.1f}",
            f"{r.peak / 2**20:.1f}", f"{r.peak_ratio:.2f}", *floor]


def _spread(values) -> str:
    return f"median {statistics.median(values):.2f}, worst {max(values):.2f}"


def to_markdown(results: list[Result], threads: int, repeats: int) -> str:
    """A Markdown table of the results, with a header line and the median ratios.

    The summary gives the ratio to torch over all layers, over the layers that are not
    depthwise, and for depthwise layers the ratio to pure NumPy's floor.
    """
    lines = [f"Threads: {threads} (torch and gconv_lib). float32, "
             f"median of {2 * repeats} calls (2 rounds of {repeats}).", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(row(r)) + " |" for r in results]
    if results:
        lines.append("")
        other = [r.ratio for r in results if r.floor is None]
        floors = [r.ours / r.floor for r in results if r.floor is not None]
        if other and floors:
            lines.append(f"Not depthwise, gconv_lib/torch: {_spread(other)}.")
        if floors:
            lines.append(f"Depthwise, gconv_lib/floor: {_spread(floors)}.")
        lines.append(f"Median ratio gconv_lib/torch: {statistics.median(r.ratio for r in results):.2f}; "
                     f"worst: {max(r.ratio for r in results):.2f}; worst peak / (in+w+out): "
                     f"{max(r.peak_ratio for r in results):.2f}.")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class NetworkResult:
    """A network's summed time over every Conv2d, in seconds, at one batch size."""

    name: str
    batch: int
    layers: int
    distinct: int
    macs: int
    ours: float
    torch: float

    @property
    def ratio(self) -> float:
        return self.ours / self.torch


def run_network(net, batch: int = 1, repeats: int = 5) -> NetworkResult:
    """Time every Conv2d of ``net`` (a :class:`gconv_lib.networks.Network`) in both libraries.

    Layers that occur more than once (repeated blocks) are timed once and counted as often
    as they occur. Biases are left out (both libraries add them in one pass).
    """
    import torch

    ours = theirs = 0.0
    counts = Counter(net.convs)
    for conv, count in counts.items():
        layer = Layer(net.name, conv.in_channels, conv.out_channels, conv.kernel_size, conv.size,
                      conv.groups, conv.stride, conv.padding, batch)
        with torch.no_grad():
            t_ours, t_torch = time_calls(calls(layer, *layer.arrays()), repeats)
        ours, theirs = ours + count * t_ours, theirs + count * t_torch
    return NetworkResult(net.name, batch, len(net.convs), len(counts), net.macs() * batch, ours, theirs)


def networks_markdown(results: list[NetworkResult]) -> str:
    """A Markdown table of :func:`run_network` results, with each batch's geometric mean."""
    cols = ("network", "batch", "Conv2d layers (distinct)", "GMACs (whole network)", "gconv_lib ms",
            "torch ms", "ratio")
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    lines += [f"| {r.name} | {r.batch} | {r.layers} ({r.distinct}) | {r.macs / 1e9:.2f} | "
              f"{r.ours * 1e3:.1f} | {r.torch * 1e3:.1f} | {r.ratio:.2f} |" for r in results]
    lines.append("")
    for batch in sorted({r.batch for r in results}):
        ratios = [r.ratio for r in results if r.batch == batch]
        mean = math.exp(statistics.fmean(math.log(v) for v in ratios))
        lines.append(f"Batch {batch}: geometric mean of the ratios {mean:.2f}, worst {max(ratios):.2f}.")
    return "\n".join(lines) + "\n"


def machine() -> str:
    """Where and when the figures were measured: date, CPU, cores, load, library versions."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"Measured {datetime.datetime.now():%Y-%m-%d %H:%M} on {cpu}, {os.cpu_count()} CPUs, "
            f"load average {load} at the start; NumPy {np.__version__}, torch {torch.__version__}.")


def suites() -> dict:
    """The layer suites by name (``networks`` is run by :func:`run_network`)."""
    return {"layers": SUITE, "small": SMALL, "backward": backward_suite(), "transposed": TRANSPOSED,
            "conv1d": CONV1D, "conv3d": CONV3D}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gconv_lib.bench", description=__doc__.split("\n")[0])
    names = [*suites(), "networks"]
    parser.add_argument("--suite", default="all",
                        help=f"comma-separated suites: {', '.join(names)} (default all)")
    parser.add_argument("--threads", type=int, default=2, help="threads for both libraries (default 2)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per layer and round, two rounds (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="batch 1 and 3 repeats (networks: batch 1 only), for a smoke test")
    parser.add_argument("--out", type=Path, default=Path("_build/bench.md"),
                        help="where to write the Markdown tables (default _build/bench.md)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    chosen = names if args.suite == "all" else args.suite.split(",")
    unknown = [name for name in chosen if name not in names]
    if unknown:
        parser.error(f"--suite must name suites among {', '.join(names)}, but got {', '.join(unknown)}")

    print(f"threads: {args.threads} (torch.set_num_threads; gconv_lib's pool, one BLAS thread per worker); "
          f"repeats: 2 rounds of {repeats}", flush=True)
    parts = [machine() + "\n"]
    for name in chosen:
        print(f"{name}:", flush=True)
        if name == "networks":
            set_threads(args.threads)
            results = []
            for batch in ((1,) if args.quick else (1, 8)):
                for build in NETWORKS:
                    results.append(run_network(build(), batch, repeats))
                    r = results[-1]
                    print(f"  {r.name} batch {r.batch}: {r.ours * 1e3:.1f} ms / {r.torch * 1e3:.1f} ms "
                          f"= {r.ratio:.2f}", flush=True)
            table = (f"Threads: {args.threads} (torch and gconv_lib). float32, every Conv2d, median of "
                     f"{2 * repeats} calls per distinct layer.\n\n" + networks_markdown(results))
        else:
            show = lambda r: print("  " + " | ".join(row(r)), flush=True)
            results = run_suite(suites()[name], repeats, args.threads, args.quick, progress=show)
            table = to_markdown(results, args.threads, repeats)
        parts.append(f"## {name}\n\n{table}")
    text = "\n".join(parts)
    print()
    print(text, end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
