"""1-d and 3-d convolutions run by the 2-d fast path (:mod:`gconv_lib.fast`), folded.

**3-d: the depth taps become channels.** Output depth ``od`` of a 3-d convolution reads
input depths ``sD * od + dD * i`` for its ``kD`` depth taps ``i``. Copying those slices
side by side, ``folded[n, od, (c, i)] = x_padded[n, c, sD * od + dD * i]``, gives a 2-d
input of ``N * D_out`` images and ``C_in * kD`` channels; the weight
``(C_out, C_in/G, kD, kH, kW)`` read as ``(C_out, C_in/G * kD, kH, kW)`` is its 2-d weight,
with the same groups (group ``g``'s channels ``(c, i)`` stay side by side). So a 3-d layer
costs one copy of ``kD * D_out / D`` times its input, and the 2-d path's tiles and threads;
the full im2col it replaces held ``kD * kH * kW`` times the input (about 15x input + weight
+ output on the benchmark's layers).

**1-d: a long row becomes many rows.** The 2-d path tiles by output rows; a 1-d convolution
is one row, so one tile held a column buffer for the whole sequence (342 MiB for a 49 MiB
output on 1 x 64 x 200,000). A sequence of ``L_out`` outputs is cut into rows of
:data:`ROW` outputs; row ``r`` reads the padded input from ``sD * ROW * r`` on, so the rows
are overlapping windows of one padded copy of the input (a strided view, not a copy of
each window), and the 2-d path tiles them like any image. Peak: the padded input, the
output and one tile's buffers per thread.

**3-d depthwise** (one input and one output channel per group) is not folded: its folded
2-d layer would have ``kD`` channels per group, a matrix product of ``1 x kD*kH*kW`` per
group and tile. With stride 1 it runs by *flat shifts* in three dimensions, as
:mod:`gconv_lib.fast`'s ``"taps"`` does in two: each channel's padded input is one row of
``D_p * H_p * W_p`` values, the output is computed on the padded ``(H_p, W_p)`` grid of
every output depth, so tap ``(i, j, k)`` reads the contiguous slice starting at
``dD * i * H_p * W_p + dH * j * W_p + dW * k``, and two element-wise passes per tap
(multiply, add) run over rows of thousands of values; the wrapped rows and columns are
cropped at the end (on 28 x 28 maps with a 3x3x3 kernel, 15 % more values than the output).
Otherwise each slab of output depths is computed channels-last, as ``"channels_last"`` does
in 2-d: the slab's padded input copied to ``(depth, rows, columns, C)``, its windows a
strided view, one ``np.einsum`` over the taps, whose inner loop runs over the channels only
(96 of them took the einsum 1.75x NumPy's floor, where the flat shifts take about 1.3x).

Every output value is summed by one matrix product or one einsum, in an order that depends
on the layer and its fixed tiles only, so the results are bit-identical across thread counts.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from .fast import MIN_TILES, TILE_BYTES, _Scratch, conv_nd_fast
from .threads import run_jobs
from .validate import ConvArgs

#: Outputs per row when a long 1-d convolution is cut into rows.
ROW = 2048


def _empty(a: ConvArgs) -> bool:
    return 0 in (*a.input.shape, *a.out_spatial, a.weight.size)


def conv1d_folded(a: ConvArgs) -> np.ndarray:
    """Run a checked 1-d convolution; returns ``(N, C_out, L_out)`` before bias."""
    l_out = a.out_spatial[0]
    if l_out <= 2 * ROW or _empty(a):
        return conv_nd_fast(a)  # one row is a few tiles already
    (s,), (d,), (k,) = a.stride, a.dilation, a.kernel
    n, c_in, length = a.input.shape
    before = a.padding[0][0]
    rows = -(-l_out // ROW)
    width = s * (ROW - 1) + d * (k - 1) + 1  # the padded input one row of outputs reads
    padded = np.zeros((n, c_in, s * ROW * (rows - 1) + width), a.input.dtype)  # (N, C_in, padded)
    kept = min(length, padded.shape[2] - before)  # the input the outputs read
    padded[:, :, before : before + kept] = a.input[:, :, :kept]
    item = padded.itemsize
    x = as_strided(padded, (n, c_in, rows, width), (*padded.strides[:2], s * ROW * item, item),
                   writeable=False)  # (N, C_in, rows, width): overlapping windows
    a2 = replace(a, input=x, weight=a.weight[:, :, None], stride=(1, s), padding=((0, 0), (0, 0)),
                 dilation=(1, d), out_spatial=(rows, ROW))
    out = conv_nd_fast(a2).reshape(n, a.out_channels, rows * ROW)  # (N, C_out, rows * ROW)
    return out if rows * ROW == l_out else np.ascontiguousarray(out[:, :, :l_out])


def conv3d_folded(a: ConvArgs) -> np.ndarray:
    """Run a checked 3-d convolution; returns ``(N, C_out, D_out, H_out, W_out)`` before bias."""
    if _empty(a):
        from .im2col import conv_nd_im2col

        return conv_nd_im2col(a)
    if a.weight.shape[1] == 1 and a.out_channels == a.groups:
        return _depthwise3d_shifts(a) if a.stride == (1, 1, 1) else _depthwise3d(a)
    n, c_in, depth, h, w = a.input.shape
    (sd, *_), (dd, *_), (kd, kh, kw) = a.stride, a.dilation, a.kernel
    d_out, (front, _) = a.out_spatial[0], a.padding[0]
    folded = np.empty((n, d_out, c_in, kd, h, w), a.input.dtype)  # (N, D_out, C_in, kD, H, W)
    for i in range(kd):
        # output depth od reads input depth sD * od + dD * i - front: keep those inside the input
        lo = min(max(0, -((dd * i - front) // sd)), d_out)
        hi = max(lo, min(d_out, -((dd * i - front - depth) // sd)))
        folded[:, :lo, :, i] = 0
        folded[:, hi:, :, i] = 0
        first = sd * lo + dd * i - front
        folded[:, lo:hi, :, i] = a.input[:, :, first : first + sd * (hi - lo) : sd].transpose(0, 2, 1, 3, 4)
    c_out, h_out, w_out = a.out_channels, *a.out_spatial[1:]
    a2 = replace(a, input=folded.reshape(n * d_out, c_in * kd, h, w),  # (N * D_out, C_in * kD, H, W)
                 weight=a.weight.reshape(c_out, -1, kh, kw),  # (C_out, C_in/G * kD, kH, kW)
                 stride=a.stride[1:], padding=a.padding[1:], dilation=a.dilation[1:],
                 out_spatial=a.out_spatial[1:])
    out = conv_nd_fast(a2).reshape(n, d_out, c_out, h_out, w_out)  # (N, D_out, C_out, H_out, W_out)
    del folded, a2
    return np.ascontiguousarray(out.transpose(0, 2, 1, 3, 4))  # (N, C_out, D_out, H_out, W_out)


def _slab(a: ConvArgs, out: np.ndarray, scratch: _Scratch, n: int, d0: int, d1: int):
    """Depthwise ``out[n, :, d0:d1]``, channels innermost (see the module docstring)."""
    spans = [d * (k - 1) + 1 for d, k in zip(a.dilation, a.kernel)]
    outs = (d1 - d0, *a.out_spatial[1:])
    sizes = [(o - 1) * s + span for o, s, span in zip(outs, a.stride, spans)]  # padded input read
    starts = [d0 * a.stride[0] - a.padding[0][0], -a.padding[1][0], -a.padding[2][0]]  # input index of [0]
    xin = scratch.get("slab", (*sizes, a.groups))  # (depth_in, rows_in, cols_in, C)
    xin[...] = 0
    inside = [slice(max(0, -st), max(0, min(size, length - st)))
              for st, size, length in zip(starts, sizes, a.input.shape[2:])]
    source = tuple(slice(st + q.start, st + q.stop) for st, q in zip(starts, inside))
    if all(q.stop > q.start for q in inside):
        np.copyto(xin[tuple(inside)], a.input[(n, slice(None), *source)].transpose(1, 2, 3, 0))
    windows = sliding_window_view(xin, spans, axis=(0, 1, 2))  # (.., .., .., C, *spans)
    windows = windows[(*(slice(None, None, s) for s in a.stride), slice(None),
                       *(slice(None, None, d) for d in a.dilation))]  # (D_t, H_out, W_out, C, *kernel)
    weights = a.weight[:, 0].transpose(1, 2, 3, 0).copy()  # (kD, kH, kW, C)
    acc = scratch.get("acc", (*outs, a.groups))  # (D_t, H_out, W_out, C)
    np.einsum("dhwcijk,ijkc->dhwc", windows, weights, out=acc)
    np.copyto(out[n, :, d0:d1], acc.transpose(3, 0, 1, 2))  # np.copyto: the GIL is let go


def _depthwise3d(a: ConvArgs) -> np.ndarray:
    """A checked 3-d depthwise convolution, by slabs of output depths (see :func:`_slab`)."""
    n, (d_out, h_out, w_out) = a.input.shape[0], a.out_spatial
    out = np.empty((n, a.out_channels, d_out, h_out, w_out), a.input.dtype)
    per_depth = h_out * w_out * a.groups * a.input.itemsize  # accumulator bytes of one output depth
    depths = max(1, min(d_out, TILE_BYTES["channels_last"] // per_depth))
    depths = min(depths, max(1, -(-d_out * n // MIN_TILES)))  # a few slabs per call at least
    jobs = [(i, d0, min(d_out, d0 + depths)) for i in range(n) for d0 in range(0, d_out, depths)]
    run_jobs(jobs, lambda: functools.partial(_slab, a, out, _Scratch(a.input.dtype)), blas=False,
             work=out.size * a.weight[0].size * 8)
    return out


def _shifts_tile(a: ConvArgs, out: np.ndarray, scratch: _Scratch, n: int, c0: int, c1: int):
    """Stride-1 depthwise ``out[n, c0:c1]`` by flat shifts (see the module docstring)."""
    (dd, dh, dw), (kd, kh, kw) = a.dilation, a.kernel
    (pf, _), (pt, _), (pl, _) = a.padding
    d, h, w = a.input.shape[2:]
    d_out, h_out, w_out = a.out_spatial
    hp, wp = h_out + dh * (kh - 1), w_out + dw * (kw - 1)  # the padded rows and columns read
    plane, span = hp * wp, d_out * hp * wp  # L: the output values per channel, wrapped included
    offsets = [dd * i * plane + dh * j * wp + dw * k for i in range(kd) for j in range(kh) for k in range(kw)]
    padded = scratch.get("padded", (c1 - c0, max(offsets) + span))  # (C_t, L + the last shift)
    padded[...] = 0
    grid = padded[:, : (d_out + dd * (kd - 1)) * plane].reshape(c1 - c0, -1, hp, wp)  # (C_t, D_p, H_p, W_p)
    keep = [min(size, p_size - pad) for size, p_size, pad in zip((d, h, w), grid.shape[1:], (pf, pt, pl))]
    if min(keep) > 0:  # the input the outputs read, where the padding puts it
        np.copyto(grid[:, pf : pf + keep[0], pt : pt + keep[1], pl : pl + keep[2]],
                  a.input[n, c0:c1, : keep[0], : keep[1], : keep[2]])
    weights = a.weight[c0:c1].reshape(c1 - c0, -1)  # (C_t, K)
    acc, tmp = scratch.get("acc", (c1 - c0, span)), scratch.get("tmp", (c1 - c0, span))
    for t, off in enumerate(offsets):
        np.multiply(padded[:, off : off + span], weights[:, t, None], out=acc if t == 0 else tmp)
        if t:
            acc += tmp
    np.copyto(out[n, c0:c1], acc.reshape(c1 - c0, d_out, hp, wp)[:, :, :h_out, :w_out])


def _depthwise3d_shifts(a: ConvArgs) -> np.ndarray:
    """A checked stride-1 3-d depthwise convolution, by flat shifts (see :func:`_shifts_tile`)."""
    n, c = a.input.shape[:2]
    out = np.empty((n, c, *a.out_spatial), a.input.dtype)
    span = math.prod(a.out_spatial[:1]) * math.prod(
        o + d * (k - 1) for o, d, k in zip(a.out_spatial[1:], a.dilation[1:], a.kernel[1:]))
    channels = max(1, min(c, TILE_BYTES["taps"] // (span * a.input.itemsize)))
    channels = min(channels, max(1, -(-c * n // MIN_TILES)))  # a few tiles per call at least
    jobs = [(i, c0, min(c, c0 + channels)) for i in range(n) for c0 in range(0, c, channels)]
    run_jobs(jobs, lambda: functools.partial(_shifts_tile, a, out, _Scratch(a.input.dtype)), blas=False,
             work=out.size * a.weight[0].size * 8)
    return out
