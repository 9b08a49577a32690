"""The gradient of a convolution with respect to its weight, by tiles of gathered windows.

For ``out = conv(x, w, stride, padding, dilation, groups)`` and ``dy = dL/d out``, the
weight tap ``w[o, c, *t]`` met input value ``x_padded[n, c, *(s * p + d * t)]`` at every
output position ``p`` of every image ``n``, so

    ``grad_w[o, c, t] = sum over (n, p) of dy[n, o, p] * x_padded[n, c, s * p + d * t]``.

Per group that is one matrix product: ``dy`` of the group, ``(C_out/G, N * P)``, times the
gathered windows ``cols[(c, t), (n, p)]``, ``(C_in/G * K, N * P)``, transposed. The sum runs
over the long axis ``N * P`` (thousands of positions) and yields a small ``(C_out/G,
C_in/G * K)`` block: the shape BLAS is fast on. It is computed with the longer of the two
sides first (``cols @ dy.T`` when there are more windows than outputs): OpenBLAS took 0.8 ms
for ``(288, 6272) @ (6272, 16)`` and 1.4 ms for the same product the other way round.

**Tiles.** The windows are never gathered for the whole input: a tile is a band of output
rows of one image, or several whole images when one image is small, holding about
:data:`TILE_BYTES` of windows. One worker job owns a block of groups (or, for few groups, a
block of each group's input channels) and runs its tiles in a fixed order, adding each
tile's product into its own block of ``grad_w``. No two jobs write the same values, and the
tiles and the order of the sums depend on the layer alone, never on the thread count, so
the result is bit-identical for any number of threads.

**Cost.** One copy of the padded input, the windows of one tile per worker, and for tiles of
several images a copy of their part of ``dy`` (so that ``N * P`` is one axis). The
products are BLAS matrix products on one thread per worker (:mod:`gconv_lib.threads`).

**inf and NaN.** The padding zeros are gathered like input values, so an infinite ``dy``
next to the border gives NaN, as torch's float64 kernels do; the rows at the end that the
stride never reaches are not gathered at all.
"""

from __future__ import annotations

import functools
from math import prod

import numpy as np

from .fast import MIN_TILES, _Scratch
from .threads import run_jobs
from .validate import ConvArgs

#: Target size in bytes of one tile's gathered windows.
TILE_BYTES = 2 << 20


def _blocks(size: int, parts: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges cutting ``range(size)`` into ``parts`` near-equal blocks."""
    step = -(-size // max(1, min(parts, size)))
    return [(lo, min(size, lo + step)) for lo in range(0, size, step)]


def _tiles(a: ConvArgs, windows_per_position: int) -> list[tuple[int, int, int, int]]:
    """``(n0, n1, r0, r1)``: images ``[n0, n1)``, first-axis output rows ``[r0, r1)``.

    Each tile gathers about :data:`TILE_BYTES` of windows, ``windows_per_position`` values
    per output position.
    """
    n_batch, (h_out, *rest) = a.input.shape[0], a.out_spatial
    row = prod(rest) * windows_per_position * a.input.itemsize  # bytes per output row
    rows = max(1, TILE_BYTES // max(1, row))
    if rows < h_out:
        return [(n, n + 1, r0, r1) for n in range(n_batch) for r0, r1 in _blocks(h_out, -(-h_out // rows))]
    images = max(1, rows // h_out)
    return [(n0, n1, 0, h_out) for n0, n1 in _blocks(n_batch, -(-n_batch // images))]


def _job(x, dy, gw, a: ConvArgs, tiles, scratch: _Scratch, g0, g1, c0, c1):
    """Add every tile's products into ``gw[g0:g1, :, c0:c1]`` (groups and channels of one job)."""
    g_t, c_t, out_per_group = g1 - g0, c1 - c0, dy.shape[2]
    taps = list(np.ndindex(*a.kernel))
    x = x[:, g0:g1, c0:c1]  # (N, G_t, C_t, *padded)
    # BLAS is faster with the longer side of the result first: C_t*K windows or C_out/G outputs
    windows_first = c_t * len(taps) >= out_per_group
    acc = scratch.get("acc", (g_t, c_t * len(taps), out_per_group) if windows_first
                      else (g_t, out_per_group, c_t * len(taps)))  # (G_t, C_t*K, C_out/G) or its transpose
    for i, (n0, n1, r0, r1) in enumerate(tiles):
        n_t, out_t = n1 - n0, (r1 - r0, *a.out_spatial[1:])
        length = n_t * prod(out_t)  # L_t: the tile's output positions
        xs = np.moveaxis(x[n0:n1], 0, 2)  # (G_t, C_t, n_t, *padded)
        cols = scratch.get("cols", (g_t, c_t, len(taps), n_t, *out_t))  # (G_t, C_t, K, n_t, *out_t)
        for k, tap in enumerate(taps):
            # output position p of the tile reads padded position s * (p + first row) + d * tap
            at = tuple(slice(d * t + s * r, d * t + s * (r + m - 1) + 1, s)
                       for t, s, d, r, m in zip(tap, a.stride, a.dilation, (r0,) + (0,) * a.nd, out_t))
            np.copyto(cols[:, :, k], xs[(Ellipsis, *at)])  # np.copyto: the GIL is let go
        cols = cols.reshape(g_t, c_t * len(taps), length)  # (G_t, C_t*K, L_t)
        d = dy[n0:n1, g0:g1, :, r0:r1]  # (n_t, G_t, C_out/G, *out_t)
        if n_t == 1:
            d = d[0].reshape(g_t, out_per_group, length)  # (G_t, C_out/G, L_t), a view
        else:  # several whole images: their positions made one axis
            d_t = scratch.get("dy", (g_t, out_per_group, n_t, prod(out_t)))  # (G_t, C_out/G, n_t, P)
            np.copyto(d_t, d.reshape(n_t, g_t, out_per_group, -1).transpose(1, 2, 0, 3))
            d = d_t.reshape(g_t, out_per_group, length)  # (G_t, C_out/G, L_t)
        a_, b_ = (cols, d.swapaxes(1, 2)) if windows_first else (d, cols.swapaxes(1, 2))
        if i == 0:
            np.matmul(a_, b_, out=acc)
        else:
            acc += np.matmul(a_, b_, out=scratch.get("part", acc.shape))
    if windows_first:  # (G_t, C_t*K, C_out/G) -> (G_t, C_out/G, C_t, K)
        gw[g0:g1, :, c0:c1] = acc.reshape(g_t, c_t, len(taps), out_per_group).transpose(0, 3, 1, 2)
    else:
        gw[g0:g1, :, c0:c1] = acc.reshape(g_t, out_per_group, c_t, len(taps))


def grad_weight_nd(a: ConvArgs, grad_out: np.ndarray) -> np.ndarray:
    """``dL/d weight`` of the convolution ``a`` (1, 2 or 3-d) for ``grad_out = dL/d out``.

    ``a`` holds the forward call's checked arguments (:func:`~gconv_lib.validate.check_conv_args`);
    ``grad_out`` has the forward output's batched shape ``(N, C_out, *out_spatial)``. Returns
    an array of shape ``(C_out, C_in // groups, *kernel)`` in the compute dtype (zeros for an
    empty batch).
    """
    g, (c_out, c_per_group, *kernel) = a.groups, a.weight.shape
    out_per_group, n_taps = c_out // g, prod(kernel)
    if a.weight.size == 0 or grad_out.size == 0:
        return np.zeros_like(a.weight)
    x = a.padded_input()  # (N, C_in, *padded)
    x = x.reshape(x.shape[0], g, c_per_group, *x.shape[2:])  # (N, G, C_in/G, *padded)
    dy = np.ascontiguousarray(grad_out).reshape(grad_out.shape[0], g, out_per_group, *a.out_spatial)
    gw = np.empty((g, out_per_group, c_per_group, n_taps), a.weight.dtype)  # (G, C_out/G, C_in/G, K)
    # jobs: blocks of groups, or of each group's input channels when there are few groups
    group_blocks = _blocks(g, MIN_TILES)
    channel_blocks = _blocks(c_per_group, -(-MIN_TILES // g) if len(group_blocks) < MIN_TILES else 1)
    jobs = [(g0, g1, c0, c1) for g0, g1 in group_blocks for c0, c1 in channel_blocks]
    g_t, c_t = group_blocks[0][1] - group_blocks[0][0], channel_blocks[0][1] - channel_blocks[0][0]
    tiles = _tiles(a, g_t * c_t * n_taps)
    work = dy.size * c_per_group * n_taps  # multiply-adds
    run_jobs(jobs, lambda: functools.partial(_job, x, dy, gw, a, tiles, _Scratch(x.dtype)), work=work)
    return gw.reshape(c_out, c_per_group, *kernel)
