"""The fast default path of :func:`gconv_lib.conv2d`: stride phases, flat shifts, tiles, threads.

:mod:`gconv_lib.im2col` shows the idea (gather every window, multiply by the weight);
this module does the same arithmetic in an order that is kind to memory and cores.

**Layout.**

1. **Stride phases.** Output pixel ``(oh, ow)`` reads padded-input pixel
   ``(sH * oh + dH * i, sW * ow + dW * j)`` for tap ``(i, j)``. Splitting the padded input
   into its ``sH * sW`` *phases* ``P[a, b][r, c] = x_padded[sH * r + a, sW * c + b]``
   (one copy of the input, zeros where the padding is) turns every tap into a read of one
   phase at a fixed shift ``(qH, qW) = (dH * i // sH, dW * j // sW)`` with stride 1. For
   stride 1 there is one phase: the padded input itself.
2. **Flat shifts.** A phase of shape ``(Hq, Wq)`` with ``Wq = W_out + max qW`` is flattened
   to one row of ``Hq * Wq`` values. The output is computed on a ``(H_out, Wq)`` grid, so for
   tap ``(i, j)`` all the pixels it reads form the *contiguous* slice
   ``P.ravel()[qH * Wq + qW :][: H_out * Wq]``. The ``Wq - W_out`` extra columns per row are
   wrong values (they wrap into the next row) and are cropped at the end: for a 3x3 layer on
   56 columns that is 2 of 58, about 3 % of extra work, in exchange for contiguous copies
   and contiguous element-wise loops (NumPy's SIMD loops need contiguous data).
3. **Three ways to sum over taps**, chosen per layer by :func:`plan`:

   * ``"gemm"`` (a group sees several input channels, or one and more than four outputs):
     copy the ``C_in/G * kH * kW`` shifted slices of a tile into a column buffer
     ``(G_t, C_in/G * kH * kW, L_t)`` and multiply by the weight ``(G_t, C_out/G, C_in/G *
     kH * kW)``: one ``np.matmul`` call per tile, a stack of one BLAS product per group.
     This is im2col, but only for a tile, never for the whole input. On narrow maps (the
     wrapped columns more than an eighth of a row) with at least 64 output channels per
     group, each tap's exact ``(rows, W_out)`` window is copied instead: slower copies,
     but a product without the wrapped columns (2 of 9 on a 3x3 layer's 7 columns). Two
     special cases skip the column buffer (:class:`Plan`): *pointwise* layers (1x1,
     stride 1, no padding) multiply the input's rows themselves, and *direct* tiles (a
     group with at least 16 inputs and at least twice as many inputs as outputs) run one
     product per tap on the shifted rows and add them.
   * ``"taps"`` (depthwise: one input channel per group): no column buffer;
     ``acc += w[:, tap] * shifted_slice`` over the ``kH * kW`` taps, two element-wise
     passes per tap over a tile of about 1 MiB, which stays in the CPU's caches.
   * ``"channels_last"`` (depthwise with at least 64 channels, and at least four times as
     many as output columns: the late, small maps of MobileNets and ConvNeXt): the tile's
     padded input is copied transposed, channels innermost, and one ``np.einsum`` sums
     the products of its windows (a strided view, no copy) and the weights. NumPy's
     sum-of-products loop adds each product as it makes it, along the contiguous channel
     axis: one pass per tap where ``"taps"`` needs two, no wrapped columns, and one NumPy
     call per tile instead of two per tap. Tiles hold every channel and split the rows.
     On ConvNeXt's 7x7 layers at 28, 14 and 7 pixels about 1.2-1.4x pure NumPy's floor
     (the two passes per tap), where ``"taps"`` took 3-6x.

4. **Tiles and threads.** The work is cut into tiles: one image or several, a range of
   groups (and of a group's output channels), a band of output rows. Tiles are sized by
   the bytes of their buffers, :data:`TILE_BYTES` (for ``"gemm"`` the column buffer,
   about ``kH * kW`` times the tile's input whatever the groups), and then cut further
   for the threads while each stays large (:func:`plan`): into a power-of-two count, up
   to :data:`MIN_TILES`, of ``"gemm"`` tiles that keep at least :data:`MIN_TILE_MACS`
   multiply-adds each, split by groups, then by output channels (a wide layer on a small
   map: ResNet's last stages at batch 1), then by rows while each band keeps at least
   :data:`MIN_SPAN` columns for its product (BLAS runs thin products slowly: ResNet-50's
   3x3 layers on 14 x 14 and 7 x 7 at batch 1 took 1.2-1.3x as long in four bands of a
   few dozen columns as in two tiles of whole images); a call of :data:`TWO_TILE_MACS`
   or more gets two tiles (unless it has more than 4 stride phases). Element-wise (``"taps"``,
   ``"channels_last"``) tiles likewise keep :data:`MIN_TILE_PASSES` output values times
   taps each, and a call of :data:`TWO_TILE_PASSES` or more gets two tiles; a
   ``"channels_last"`` tile keeps 7 rows at least. Several small images share a tile (its
   NumPy calls then work on more values each: a 58-channel 28 x 28 depthwise layer at
   batch 8 runs four images a tile).
   :func:`~gconv_lib.threads.get_num_threads` workers take tiles from a shared list; each
   reuses its own scratch buffers for every tile it runs. NumPy's element-wise loops,
   copies and BLAS release the GIL, so the workers really run at once. While ``"gemm"``
   products run, NumPy's BLAS is held to one thread (:mod:`gconv_lib.threads`), or each
   worker's products would start more threads than there are cores. Copies are made with
   ``np.copyto``: measured with NumPy 2.4, two threads copying windows of rows of 28
   values by ``a[...] = b`` took longer than one thread doing both threads' copies
   (1.06 ms against 0.94), as if the GIL were held, and with ``np.copyto`` 0.60 ms; a
   ResNeXt 3x3 layer on 28 x 28 at batch 1 took 1.6 ms on two threads and 1.0 on one,
   0.9 on two with ``np.copyto``. Each tile writes its own part of the output, so there
   are no races, and neither the tiling nor a product's thread count depends on the
   number of threads, so neither does any result's last bit.

**Memory.**
The output (``N * C_out * H_out * W_out`` values) plus, per worker, the scratch buffers of
one tile: its phases (about its share of the padded input), its column buffer (``"gemm"``:
at most :data:`TILE_BYTES`, or one output row of one group if that is larger) or its
accumulator and temporary (``"taps"``), and its result. So the peak is the output plus a
few MiB per worker, where a full im2col would add ``kH * kW`` times the input (see
``python -m gconv_lib.bench`` for the measured peaks). The sums run in the input's dtype
(float32 stays float32, as in PyTorch); float16 runs in float32 and is rounded once at the end.

**Speed.**
Pure NumPy cannot fuse the multiply and the add of one tap, and every NumPy call costs a
few microseconds of Python and holds the GIL meanwhile; so depthwise layers, whose work is
two element-wise passes per tap, are where this path is furthest from PyTorch's compiled
kernels: the benchmark compares them with pure NumPy's floor (those passes alone) instead.
Layers with several channels per group spend their time in BLAS. A call that is small
(a fraction of a millisecond of arithmetic) runs on the calling thread alone and reuses the
thread's buffers (:mod:`gconv_lib.threads`): waking a pool thread, or mapping fresh pages
for new buffers, would cost as much as the arithmetic.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from .threads import (
    get_num_threads,  # noqa: F401  (gconv_lib.fast.get_num_threads, as before gconv_lib.threads)
    run_jobs,
    set_num_threads,  # noqa: F401
    thread_buffers,
)
from .validate import ConvArgs, check_conv_args

#: Target size in bytes of one tile's column buffer (``"gemm"``) or accumulator (``"taps"``).
#: Measured on the benchmark suite (2 cores): smaller tiles spend more time in Python and in
#: per-call overhead, which holds the GIL; larger ones leave the cache. ``"gemm"`` at 4 MiB
#: rather than 2: grouped layers with a few channels per group took 0.7-0.85x the time
#: (ResNeXt's 3x3 on 56 x 56 at batch 8 7.1 -> 5.2 ms, the 3-d g=32 layer 21 -> 15 ms),
#: the networks' sums 0.95-1.00x; 8 MiB was slower on the backward suite.
TILE_BYTES = {"gemm": 4 << 20, "taps": 1 << 20, "channels_last": 1 << 20}
#: The most tiles a call is cut into for the threads, so that a small batch keeps every
#: worker busy (tiles of :data:`TILE_BYTES` can make more).
MIN_TILES = 8
#: Multiply-adds a ``"gemm"`` tile keeps at least when a layer is cut into more tiles for
#: the threads (a tile costs tens of NumPy calls, and a copy of its columns).
MIN_TILE_MACS = 16 << 20
#: Output values times taps (two element-wise passes each) that a ``"taps"`` or
#: ``"channels_last"`` tile keeps at least when a call is cut into more tiles for the threads.
MIN_TILE_PASSES = 2 << 20
#: An element-wise call of at least this many passes is cut into two tiles at least.
#: Measured at batch 1 on the networks' depthwise layers, 2 threads: two tiles took 0.5-0.9x
#: the time of the 3 to 7 smaller tiles made before (a 3x3 layer on 144 channels of 56 x 56:
#: 1.0-2.0 -> 0.6-0.96 ms), and mostly 0.6-0.9x the time of one tile.
TWO_TILE_PASSES = 1 << 20
#: A ``"gemm"`` call of at least this many multiply-adds is cut into two tiles at least
#: (when groups or output channels can be split, or rows into bands of ``MIN_SPAN / 2``
#: columns). Measured at batch 1 on the networks' 37 layers of 10-33M multiply-adds (one
#: tile before), 2 threads, three A/B runs: their sum 22.6-22.9 -> 19.6-21.8 ms.
TWO_TILE_MACS = 10 << 20
#: Output channels per tile at least when a group's output channels are split: pointwise
#: tiles read the input as it is; others copy their columns, and take twice as many.
MIN_OUT_TILE = 128
#: Columns (output values per channel, wrapped ones included) that a ``"gemm"`` tile's
#: product keeps at least when a call is cut into more tiles for the threads: BLAS runs
#: thin products slower (256 x 4608 x 21 at 66 GFLOP/s, x 49 at 89, one thread).
MIN_SPAN = 400


@dataclass(frozen=True)
class Plan:
    """How :func:`conv_nd_fast` computes one 2-D convolution.

    Attributes
    ----------
    phases : tuple of (a, b)
        The stride phases that some tap reads (row and column offsets modulo the stride).
    taps : tuple of (phase index, flat offset)
        One per kernel tap, in the weight's ``(kH, kW)`` order.
    Hq, Wq : int
        Rows and columns of one phase; the output is computed on ``(H_out, Wq)``.
    method : {"gemm", "taps", "channels_last"}
        How the taps are summed (module docstring, item 3).
    group_tile, row_tile : int
        Groups and output rows per tile.
    pointwise : bool
        A 1x1 kernel with stride 1 and no padding: its tiles multiply the input's rows
        themselves, no phases and no column buffer.
    direct : bool
        ``"gemm"`` without the column buffer: one product per tap, of the tap's weights
        ``(C_out/G, C_in/G)`` and the shifted phase rows (a view), added up. Chosen when a
        group has at least 16 input channels and at least twice as many inputs as outputs:
        then adding ``K`` results of ``C_out/G`` rows moves less memory than copying ``K``
        shifted copies of ``C_in/G`` rows (256 -> 128 channels in 8 groups: 1.6x faster).
    out_tile : int
        Output channels per tile when a group's are split (one group per tile), else 0.
    image_tile : int
        Images per tile (``"taps"`` and ``"channels_last"``; one for ``"gemm"``).
    """

    phases: tuple
    taps: tuple
    Hq: int
    Wq: int
    method: str
    group_tile: int
    row_tile: int
    pointwise: bool = False
    direct: bool = False
    out_tile: int = 0
    image_tile: int = 1

    def n_tiles(self, batch: int, groups: int, out_channels: int, out_rows: int) -> int:
        """How many tiles a call with this plan runs (``out_rows``: ``H_out``).

        Examples
        --------
        >>> x = np.zeros((1, 256, 56, 56), np.float32)
        >>> layer_plan(x, np.zeros((256, 8, 3, 3), np.float32), padding=1, groups=32).n_tiles(1, 32, 256, 56)
        8
        """
        per_group = out_channels // groups
        outs = -(-per_group // self.out_tile) if self.out_tile else 1
        return (-(-batch // self.image_tile) * -(-groups // self.group_tile) * outs
                * -(-out_rows // self.row_tile))


def plan(a: ConvArgs, method: str | None = None, tile_bytes: int | None = None) -> Plan:
    """Work out phases, flat tap offsets, the method and the tile sizes of a 2-D convolution.

    A plan depends on the shapes and arguments only, so it is kept (up to :data:`KEPT_PLANS`
    of them): a network's layers are planned once, not at every call (about 10 us each).
    """
    key = (a.input.shape, a.weight.shape, a.stride, a.padding, a.dilation, a.groups, a.out_spatial,
           a.input.dtype.itemsize, method, tile_bytes, tuple(TILE_BYTES.values()), MIN_TILES)
    p = _PLANS.get(key)
    if p is None:
        if len(_PLANS) >= KEPT_PLANS:
            _PLANS.clear()
        p = _PLANS[key] = _make_plan(a, method, tile_bytes)
    return p


def layer_plan(input, weight, stride=1, padding=0, dilation=1, groups=1) -> Plan:
    """The :class:`Plan` that ``gl.conv2d(input, weight, ...)`` follows: its method and tiles.

    Examples
    --------
    >>> x = np.zeros((1, 256, 56, 56), np.float32)
    >>> layer_plan(x, np.zeros((256, 8, 3, 3), np.float32), padding=1, groups=32).method
    'gemm'
    >>> layer_plan(x, np.zeros((256, 1, 3, 3), np.float32), padding=1, groups=256).method
    'channels_last'
    """
    a = check_conv_args(input, weight, None, stride, padding, dilation, groups, nd=2)
    return plan(a)


#: How many plans :func:`plan` keeps.
KEPT_PLANS = 256
_PLANS: dict = {}


def _make_plan(a: ConvArgs, method: str | None, tile_bytes: int | None) -> Plan:
    (sh, sw), (dh, dw), (kh, kw) = a.stride, a.dilation, a.kernel
    h_out, w_out = a.out_spatial
    qh, qw = [dh * i // sh for i in range(kh)], [dw * j // sw for j in range(kw)]
    ah, aw = [dh * i % sh for i in range(kh)], [dw * j % sw for j in range(kw)]
    wq = w_out + max(qw)
    hq = h_out + max(qh) + (max(qw) > 0)  # one more row: the last shifts wrap past a row end
    phases = tuple(sorted({(ah[i], aw[j]) for i in range(kh) for j in range(kw)}))
    index = {p: k for k, p in enumerate(phases)}
    taps = tuple((index[ah[i], aw[j]], qh[i] * wq + qw[j]) for i in range(kh) for j in range(kw))

    c_per_group = a.weight.shape[1]
    out_per_group = a.out_channels // a.groups
    if method is None:
        method = "taps" if c_per_group == 1 and out_per_group <= 4 else "gemm"
        if method == "taps" and out_per_group == 1 and a.groups >= max(64, 4 * w_out):
            method = "channels_last"  # channel rows long enough for the einsum's inner loop
    tile_bytes = TILE_BYTES[method] if tile_bytes is None else tile_bytes
    item = a.input.dtype.itemsize
    # bytes per group and output row: the column buffer ("gemm") or accumulator ("taps")
    per_row = wq * item * (c_per_group * kh * kw if method == "gemm" else out_per_group)
    # How many tiles the threads want, when each would still be large: "gemm" tiles of
    # MIN_TILE_MACS multiply-adds at least (a tile costs tens of NumPy calls and a copy of
    # its columns), element-wise ones of MIN_TILE_PASSES; a power of two of them (two or four
    # threads get equal shares), at most MIN_TILES. Never from the thread count, so that the
    # tiling, and with it every sum's order, is fixed.
    n_batch = max(1, a.input.shape[0])
    values = n_batch * h_out * w_out * a.out_channels  # the output's
    if method == "gemm":
        # (not with more than 4 stride phases: a tile's phases are ~5 short NumPy calls
        # each, which hold the GIL; ConvNeXt's stride-4 stem took 1.5x as long in two tiles)
        want = _want(values * c_per_group * kh * kw, MIN_TILE_MACS,
                     TWO_TILE_MACS if len(phases) <= 4 else None)
    else:
        want = _want(values * kh * kw, MIN_TILE_PASSES, TWO_TILE_PASSES)
    if method == "channels_last":  # every channel in each tile (the einsum's inner loop): split rows
        rows = max(1, min(h_out, tile_bytes // (w_out * item * a.groups)))
        n_rows = -(-h_out // rows)
        # bands of 7 rows at least: a 7-row map cut 4 + 3 took 0.95-1.8x the time of one tile
        n_rows = min(max(n_rows, h_out // 7), max(n_rows, -(-want // n_batch)))
        images = _image_tile(a, h_out * w_out * item * a.groups, tile_bytes, want) if n_rows == 1 else 1
        return Plan(phases, taps, hq, wq, method, a.groups, -(-h_out // n_rows), image_tile=images)
    pointwise = (method == "gemm" and a.kernel == (1, 1) and a.stride == (1, 1)
                 and not any(sum(pair) for pair in a.padding))
    group_tile = max(1, min(a.groups, tile_bytes // (per_row * h_out)))
    row_tile = h_out if group_tile > 1 else max(1, min(h_out, tile_bytes // per_row))
    # More tiles when the threads want them: split groups first, then (one group per tile)
    # output channels, then rows; tiles of equal size.
    n_groups, n_rows, n_outs = -(-a.groups // group_tile), -(-h_out // row_tile), 1
    if n_batch * n_groups * n_rows < want:
        n_groups = min(a.groups, max(n_groups, -(-want // (n_batch * n_rows))))
    if method == "gemm" and n_groups == a.groups and n_batch * n_groups * n_rows < want:
        # a pointwise tile reads the input's rows as they are; others copy their columns
        # once per tile, so their output channels are split in pieces of 256 at least
        smallest = MIN_OUT_TILE if pointwise else 2 * MIN_OUT_TILE
        n_outs = max(1, min(out_per_group // smallest, -(-want // (n_batch * n_groups * n_rows))))
    if n_batch * n_groups * n_outs * n_rows < want:
        most = h_out  # a "gemm" tile's product keeps MIN_SPAN columns at least
        if method == "gemm" and not pointwise:
            most = max(n_rows, h_out * wq // MIN_SPAN)
        n_rows = min(most, max(n_rows, -(-want // (n_batch * n_groups * n_outs))))
    if method == "gemm" and want > 1 == n_batch * n_groups * n_outs * n_rows:  # two tiles at least
        if out_per_group >= 2 * MIN_OUT_TILE:
            n_outs = 2
        elif h_out * wq >= MIN_SPAN:  # two bands of half MIN_SPAN at least
            n_rows = min(h_out, 2)
    group_tile, row_tile = -(-a.groups // n_groups), -(-h_out // n_rows)
    out_tile = -(-out_per_group // n_outs) if n_outs > 1 else 0
    images = 1
    if method == "taps" and group_tile == a.groups and row_tile == h_out:
        images = _image_tile(a, per_row * h_out * a.groups, tile_bytes, want)
    direct = (method == "gemm" and not pointwise and c_per_group >= 16 and 2 * out_per_group <= c_per_group)
    return Plan(phases, taps, hq, wq, method, group_tile, row_tile, pointwise, direct, out_tile, images)


def _want(work: int, least: int, two: int | None = None) -> int:
    """How many tiles a call of ``work`` is cut into for the threads: a power of two, at most
    :data:`MIN_TILES`, of tiles of ``least`` work at least (one if the call is smaller), and
    two at least if the call's work is ``two`` or more."""
    want = 1 << (min(MIN_TILES, max(1, work // least)).bit_length() - 1)
    return 2 if want == 1 and two is not None and work >= two else want


def _image_tile(a: ConvArgs, image_bytes: int, tile_bytes: int, want: int) -> int:
    """Images per tile when one image is a whole tile and a small one: several, so that the
    NumPy calls of a tile (two per tap) run on more values each, but tiles no larger than
    ``tile_bytes``, and ``want`` tiles at least while there are that many images."""
    n_batch = max(1, a.input.shape[0])
    want = min(n_batch, want)
    images = max(1, min(tile_bytes // max(1, image_bytes), -(-n_batch // want)))
    return -(-n_batch // -(-n_batch // images))  # the same number of images in every tile


class _Scratch:
    """One worker's reusable buffers of one dtype: the thread's own, kept from tile to tile
    and from call to call (:func:`~gconv_lib.threads.thread_buffers`).

    Fresh multi-MiB arrays per tile would each be new pages for the kernel to map (page
    faults), and two threads faulting at once contend for the same lock in the kernel.
    Create it in the worker's thread (in ``make_worker``, see :func:`run_jobs`).
    """

    def __init__(self, dtype):
        self.dtype, self.buffers = np.dtype(dtype), thread_buffers()

    def get(self, name: str, shape: tuple) -> np.ndarray:
        """An uninitialised array of ``shape``, a view into the buffer called ``name``."""
        size, key = math.prod(shape), (name, self.dtype.str)
        buffer = self.buffers.get(key)
        if buffer is None or buffer.size < size:
            buffer = self.buffers[key] = np.empty(size, self.dtype)
        return buffer[:size].reshape(shape)


def _phases(a: ConvArgs, p: Plan, scratch: _Scratch, n: int, c0: int, c1: int, r0: int, r1: int):
    """Phase rows ``[r0, r1)`` of the plan's images from ``n`` on, channels ``[c0, c1)``:
    ``(P, N_t, C_t, r1 - r0, Wq)``."""
    (sh, sw), ((pt, _), (pl, _)) = a.stride, a.padding
    x = a.input[n : n + p.image_tile, c0:c1]  # (N_t, C_t, H, W)
    h, w = x.shape[2:]
    buf = scratch.get("phases", (len(p.phases), x.shape[0], c1 - c0, r1 - r0, p.Wq))
    for k, (ah, aw) in enumerate(p.phases):
        # phase row r is input row sH * r + a - pad_top; keep the rows inside the input
        lo = min(max(r0, -((ah - pt) // sh)), r1)
        hi = max(min(r1, (h - 1 + pt - ah) // sh + 1), lo)
        left = min(max(0, -((aw - pl) // sw)), p.Wq)
        right = max(min(p.Wq, (w - 1 + pl - aw) // sw + 1), left)
        # zeros where the padding (or the rows and columns past the input) are, data inside
        buf[k, :, :, : lo - r0] = 0
        buf[k, :, :, hi - r0 :] = 0
        buf[k, :, :, lo - r0 : hi - r0, :left] = 0
        buf[k, :, :, lo - r0 : hi - r0, right:] = 0
        h0, w0 = sh * lo + ah - pt, sw * left + aw - pl
        np.copyto(buf[k, :, :, lo - r0 : hi - r0, left:right],
                  x[:, :, h0 : h0 + sh * (hi - lo) : sh, w0 : w0 + sw * (right - left) : sw])
    return buf


def _tile(a: ConvArgs, p: Plan, out: np.ndarray, scratch: _Scratch,
          n: int, g0: int, g1: int, r0: int, r1: int, o0: int = 0, o1: int | None = None):
    """Compute ``out[n, channels of groups g0..g1, rows r0..r1]``; of one group, only its
    output channels ``o0..o1`` (``"gemm"`` tiles split by output channels)."""
    c_per_group, out_per_group = a.weight.shape[1], a.out_channels // a.groups
    n_groups, n_taps, n_rows, w_out = g1 - g0, len(p.taps), r1 - r0, out.shape[3]
    first, last = g0 * out_per_group, g1 * out_per_group  # the tile's output channels
    if o1 is not None:
        first, last, out_per_group = first + o0, first + o1, o1 - o0
    target = out[n, first:last, r0:r1]  # (G_t * C_out/G, rows, W_out)
    if p.pointwise:  # the input's rows are the columns: (G_t, C_in/G, rows * W)
        x = a.input[n, g0 * c_per_group : g1 * c_per_group, r0:r1].reshape(n_groups, c_per_group, -1)
        w = a.weight[first:last].reshape(n_groups, out_per_group, c_per_group)
        res = scratch.get("res", (n_groups, out_per_group, x.shape[2]))  # (G_t, C_out/G, rows * W)
        np.matmul(w, x, out=res)
        np.copyto(target, res.reshape(target.shape))
        return
    span = n_rows * p.Wq  # L_t: the tile's output values per channel, wrapped columns included
    reach = max(off for _, off in p.taps) // p.Wq + 1  # phase rows a tile reads past its own
    x = _phases(a, p, scratch, n, g0 * c_per_group, g1 * c_per_group, r0, r1 + reach)
    n_images = x.shape[1]  # (one unless "taps")
    x = x.reshape(len(p.phases), n_images, n_groups, c_per_group, -1)  # (P, N_t, G_t, C_in/G, rows * Wq)
    w = a.weight[first:last]
    if p.method == "gemm":
        x = x[:, 0]  # (P, G_t, C_in/G, rows * Wq)
    if p.direct:
        w = w.reshape(n_groups, out_per_group, c_per_group, n_taps)  # (G_t, C_out/G, C_in/G, K)
        w = w.transpose(3, 0, 1, 2).copy()  # (K, G_t, C_out/G, C_in/G): one weight matrix per tap
        res = scratch.get("res", (n_groups, out_per_group, span))  # (G_t, C_out/G, L_t)
        tmp = scratch.get("tmp", res.shape)
        for t, (k, off) in enumerate(p.taps):
            np.matmul(w[t], x[k, :, :, off : off + span], out=res if t == 0 else tmp)  # (G_t, C_out/G, L_t)
            if t:
                res += tmp
    elif p.method == "gemm" and 8 * (p.Wq - w_out) > w_out and out_per_group >= 64:
        # narrow maps (7 x 7, 14 x 14): the wrapped columns would be a large share of the
        # product (2 of 9 for a 3x3 on 7 columns), so copy each tap's exact window instead.
        # Those copies run W_out values at a time, slower than the wrapped ones: worth it
        # only when each column is used by many output channels.
        x = x.reshape(*x.shape[:3], -1, p.Wq)  # (P, G_t, C_in/G, phase rows, Wq)
        cols = scratch.get("cols", (n_groups, c_per_group, n_taps, n_rows, w_out))
        for t, (k, off) in enumerate(p.taps):
            qh, qw = divmod(off, p.Wq)
            np.copyto(cols[:, :, t], x[k, :, :, qh : qh + n_rows, qw : qw + w_out])
        w = w.reshape(n_groups, out_per_group, c_per_group * n_taps)  # (G_t, C_out/G, C_in/G*K)
        cols = cols.reshape(n_groups, c_per_group * n_taps, n_rows * w_out)  # (G_t, C_in/G*K, L_t)
        res = scratch.get("res", (n_groups, out_per_group, n_rows * w_out))  # (G_t, C_out/G, L_t)
        np.matmul(w, cols, out=res)
        np.copyto(target, res.reshape(target.shape))
        return
    elif p.method == "gemm":
        cols = scratch.get("cols", (n_groups, c_per_group, n_taps, span))  # (G_t, C_in/G, K, L_t)
        for t, (k, off) in enumerate(p.taps):
            np.copyto(cols[:, :, t], x[k, :, :, off : off + span])
        w = w.reshape(n_groups, out_per_group, c_per_group * n_taps)  # (G_t, C_out/G, C_in/G*K)
        cols = cols.reshape(n_groups, c_per_group * n_taps, span)  # (G_t, C_in/G*K, L_t)
        res = scratch.get("res", (n_groups, out_per_group, span))  # (G_t, C_out/G, L_t)
        np.matmul(w, cols, out=res)
    else:  # one input channel per group: C_in/G == 1; N_t images
        w = w.reshape(n_groups, out_per_group, n_taps)  # (G_t, C_out/G, K)
        res = scratch.get("res", (n_images, n_groups, out_per_group, span))  # (N_t, G_t, C_out/G, L_t)
        tmp = scratch.get("tmp", res.shape)
        for t, (k, off) in enumerate(p.taps):
            shifted = x[k, :, :, :, off : off + span]  # (N_t, G_t, 1, L_t)
            np.multiply(shifted, w[:, :, t, None], out=res if t == 0 else tmp)
            if t:
                res += tmp
        target = out[n : n + n_images, first:last, r0:r1]  # (N_t, G_t * C_out/G, rows, W_out)
        res = res.reshape(n_images, n_groups * out_per_group, n_rows, p.Wq)
        np.copyto(target, res[..., :w_out])
        return
    np.copyto(target, res.reshape(n_groups * out_per_group, n_rows, p.Wq)[:, :, :w_out])


def _tile_channels_last(a: ConvArgs, p: Plan, out: np.ndarray, scratch: _Scratch,
                        n: int, g0: int, g1: int, r0: int, r1: int, weights: np.ndarray | None = None):
    """Depthwise ``out[n, channels g0..g1, rows r0..r1]`` with the channels innermost.

    The tile's padded input is copied once, transposed to ``(rows_in, cols_in, C_t)``,
    zeros where the padding is. Its windows are a strided view ``(rows, W_out, C_t, kH,
    kW)``, and one ``np.einsum`` multiplies them by the weights ``(kH, kW, C_t)`` and sums
    over the taps: NumPy's sum-of-products loop runs along the contiguous channel axis and
    adds each product as it is made, one pass per tap where ``"taps"`` needs two.
    ``weights``, if given, are the weights of every channel ``(kH, kW, C_out)`` (copied
    once per call by :func:`conv_nd_fast`).
    """
    (sh, sw), (dh, dw), (kh, kw) = a.stride, a.dilation, a.kernel
    (pt, _), (pl, _) = a.padding
    h, w = a.input.shape[2:]
    c_t, rows, w_out = g1 - g0, r1 - r0, out.shape[3]
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    rows_in, cols_in = (rows - 1) * sh + span_h, (w_out - 1) * sw + span_w
    top = r0 * sh - pt  # the input row of the tile's first padded row
    lo, left = min(max(0, -top), rows_in), min(pl, cols_in)
    hi, right = max(lo, min(rows_in, h - top)), max(left, min(cols_in, pl + w))
    x = a.input[n : n + p.image_tile, g0:g1]  # (N_t, C_t, H, W)
    n_t = x.shape[0]
    xin = scratch.get("channels_last", (n_t, rows_in, cols_in, c_t))  # (N_t, rows_in, cols_in, C_t)
    xin[:, :lo] = 0
    xin[:, hi:] = 0
    xin[:, lo:hi, :left] = 0
    xin[:, lo:hi, right:] = 0
    inside = x[:, :, top + lo : top + hi, left - pl : right - pl]  # (N_t, C_t, rows, cols)
    np.copyto(xin[:, lo:hi, left:right], inside.transpose(0, 2, 3, 1))
    # the windows (N_t, rows, W_out, C_t, kH, kW), a strided view (no copy); np.ndarray
    # itself, as sliding_window_view costs ~15 us
    s_n, s_row, s_col, s_c = xin.strides
    windows = np.ndarray((n_t, rows, w_out, c_t, kh, kw), xin.dtype, xin, 0,
                         (s_n, sh * s_row, sw * s_col, s_c, dh * s_row, dw * s_col))
    if weights is None:
        weights = a.weight[:, 0].transpose(1, 2, 0).copy()  # (kH, kW, C_out)
    weights = weights[:, :, g0:g1]  # (kH, kW, C_t)
    acc = scratch.get("acc", (n_t, rows, w_out, c_t))  # (N_t, rows, W_out, C_t)
    np.einsum("nhwcij,ijc->nhwc", windows, weights, out=acc)
    # back to channels first, small tiles in blocks of pixels: a whole-tile transposed copy
    # writes rows rows * W_out apart all at once, which the caches take worse (up to 1.5x
    # slower); on larger tiles the blocks' Python (it holds the GIL) costs more than they save
    pixels = rows * w_out
    block = _PIXEL_BLOCK if pixels <= 8 * _PIXEL_BLOCK else pixels
    acc, target = acc.reshape(n_t, pixels, c_t), out[n : n + n_t, g0:g1, r0:r1].reshape(n_t, c_t, pixels)
    for p0 in range(0, pixels, block):  # (N_t, C_t, block) each
        np.copyto(target[:, :, p0 : p0 + block], acc[:, p0 : p0 + block].transpose(0, 2, 1))


#: Pixels per block when ``"channels_last"`` copies its result back to channels first.
_PIXEL_BLOCK = 32


def conv_nd_fast(a: ConvArgs, method: str | None = None, tile_bytes: int | None = None) -> np.ndarray:
    """Run a checked 1-d or 2-d convolution by the tiled, threaded path described above.

    Returns the batched result ``(N, C_out, *out_spatial)`` before bias and un-batching,
    like :func:`gconv_lib.im2col.conv_nd_im2col`. A 1-d convolution runs as a 2-d one on
    a single row. ``method`` and ``tile_bytes`` override :func:`plan`'s choices.
    """
    if a.nd == 1:
        a2 = replace(a, input=a.input[:, :, None], weight=a.weight[:, :, None],
                     stride=(1, *a.stride), padding=((0, 0), *a.padding),
                     dilation=(1, *a.dilation), out_spatial=(1, *a.out_spatial))
        return conv_nd_fast(a2, method, tile_bytes)[:, :, 0]
    if a.nd != 2:
        raise ValueError(f"the fast path handles 1-d and 2-d convolutions, not {a.nd}-d")
    p = plan(a, method, tile_bytes)
    n_batch, (h_out, w_out) = a.input.shape[0], a.out_spatial
    out = np.empty((n_batch, a.out_channels, h_out, w_out), a.input.dtype)
    jobs = [(n, g0, min(a.groups, g0 + p.group_tile), r0, min(h_out, r0 + p.row_tile))
            for n in range(0, n_batch, p.image_tile)
            for g0 in range(0, a.groups, p.group_tile)
            for r0 in range(0, h_out, p.row_tile)]
    if p.out_tile:  # one group per tile, its output channels split
        per_group = a.out_channels // a.groups
        jobs = [(*job, o0, min(per_group, o0 + p.out_tile)) for job in jobs
                for o0 in range(0, per_group, p.out_tile)]
    # each worker reuses its own scratch buffers for every tile it takes
    # multiply-adds; an element-wise one (two NumPy passes) costs about 8 of BLAS's
    work = out.size * a.weight[0].size * (1 if p.method == "gemm" else 8)
    tile = _tile
    if p.method == "channels_last":  # the weights channels last, once for every tile
        tile = functools.partial(_tile_channels_last, weights=a.weight[:, 0].transpose(1, 2, 0).copy())
    run_jobs(jobs, lambda: functools.partial(tile, a, p, out, _Scratch(a.input.dtype)),
             blas=p.method == "gemm", work=work)
    return out


def conv2d_fast(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D convolution by stride phases, flat shifts and threaded tiles.

    The strategy behind :func:`gconv_lib.conv2d`; see the module docstring for the layout
    and its memory cost.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
    bias : ndarray of shape (C_out,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), 'valid' or 'same'
    groups : int

    Returns
    -------
    ndarray of shape (N, C_out, H_out, W_out)

    Examples
    --------
    >>> x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(1, 2, 4, 4)
    >>> w = np.ones((2, 1, 2, 2), np.float32)
    >>> conv2d_fast(x, w, stride=2, groups=2)[0]
    array([[[ 10.,  18.],
            [ 42.,  50.]],
    <BLANKLINE>
           [[ 74.,  82.],
            [106., 114.]]], dtype=float32)
    """
    a = check_conv_args(input, weight, bias, stride, padding, dilation, groups, nd=2)
    return a.finish(conv_nd_fast(a))
