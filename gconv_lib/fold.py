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

Both give the products of the direct convolution, summed in one matrix product per output
value as in 2-d, so the results are bit-identical across thread counts.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .fast import conv_nd_fast
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
