"""Transposed convolution: the grouped convolution run backwards.

A convolution maps ``C_in`` channels to ``C_out`` channels; its transpose runs the same
wiring backwards. Written as a matrix, ``conv(x) = A @ x``, and the transposed convolution
computes ``A.T @ y``. That is what the gradient of a convolution with respect to its input
is, and what "deconvolution" layers compute.

``A.T @ y`` is again a convolution, with three changes:

1. **Zeros between the samples**: the forward stride ``s`` skipped ``s - 1`` positions,
   so ``s - 1`` zeros are put back between neighbouring samples of ``y``
   (:func:`insert_zeros`).
2. **Border of ``d * (k - 1) - padding`` zeros** on each side (a crop where that is
   negative), plus ``output_padding`` extra zeros at the end, so every output position
   collects all the taps that touched it.
3. **The kernel flipped** along every spatial axis, and **in/out channels swapped within
   each group** (:func:`transpose_weight`): the wiring between groups stays
   block-diagonal, only each block is transposed.

Then a stride-1 grouped convolution with the same ``dilation`` and ``groups`` gives the
result. Weights follow PyTorch: a transposed convolution's weight has shape
``(C_in, C_out // groups, *kernel)``, the weight of the convolution it transposes.

That is the way to see it, and the three helpers below build it. :func:`conv_transpose_nd`
computes the same sums without the zeros, as PyTorch does: for each kernel tap, one
grouped matrix product of the weight's tap with the input, *scattered* (added) into the
output positions that tap reaches, ``stride`` apart; then the ``padding`` is cut off.
Multiplying the weight by the inserted zeros would give the same numbers for finite
values, but ``inf * 0`` is NaN: an infinite weight would turn finite outputs into NaN.
"""

from __future__ import annotations

import functools

import numpy as np

from .fast import conv_nd_fast
from .threads import run_jobs
from .validate import ConvArgs, ConvTransposeArgs, check_conv_transpose_args, ieee_quietly


def insert_zeros(x, stride):
    """Put ``stride - 1`` zeros between neighbouring samples along every spatial axis.

    Parameters
    ----------
    x : ndarray of shape (N, C, *spatial)
    stride : tuple of int, one per spatial axis

    Returns
    -------
    ndarray of shape (N, C, *[(size - 1) * s + 1 for each spatial size and stride])

    Examples
    --------
    >>> insert_zeros(np.array([[[1.0, 2.0, 3.0]]]), (2,))
    array([[[1., 0., 2., 0., 3.]]])
    """
    if all(s == 1 for s in stride):
        return x
    spread = tuple((size - 1) * s + 1 for size, s in zip(x.shape[2:], stride))
    out = np.zeros(x.shape[:2] + spread, dtype=x.dtype)  # (N, C, *spread)
    out[(Ellipsis, *(slice(None, None, s) for s in stride))] = x
    return out


def pad_or_crop(x, pairs):
    """Add zeros (positive) or remove entries (negative) at both ends of each spatial axis.

    Parameters
    ----------
    x : ndarray of shape (N, C, *spatial)
    pairs : sequence of (before, after) int pairs, one per spatial axis

    Returns
    -------
    ndarray of shape (N, C, *[size + before + after])

    Examples
    --------
    >>> pad_or_crop(np.arange(1.0, 6.0).reshape(1, 1, 5), [(1, -2)])
    array([[[0., 1., 2., 3.]]])
    """
    crop = tuple(slice(max(-b, 0), size - max(-a, 0)) for size, (b, a) in zip(x.shape[2:], pairs))
    x = x[(slice(None), slice(None), *crop)]
    if all(b <= 0 and a <= 0 for b, a in pairs):
        return x
    return np.pad(x, ((0, 0), (0, 0), *((max(b, 0), max(a, 0)) for b, a in pairs)))


def transpose_weight(weight, groups=1):
    """The convolution weight that computes a transposed convolution with ``weight``.

    Within each group the two channel axes are swapped, and every kernel is flipped along
    its spatial axes. The groups stay where they were: transposing a block-diagonal
    matrix transposes each block in place.

    Parameters
    ----------
    weight : ndarray of shape (C_in, C_out // groups, *kernel)
        A transposed convolution's weight (equivalently: the weight of the forward
        convolution from ``C_out`` to ``C_in`` channels that it transposes).
    groups : int
        Must divide ``C_in``.

    Returns
    -------
    ndarray of shape (C_out, C_in // groups, *kernel)
        ``out[g * C_out // G + j, i, *t] = weight[g * C_in // G + i, j, *(kernel - 1 - t)]``.

    Examples
    --------
    >>> w = np.arange(4.0).reshape(2, 1, 2)   # C_in=2, C_out=2, groups=2, kernel 2
    >>> transpose_weight(w, groups=2)[:, 0]
    array([[1., 0.],
           [3., 2.]])
    >>> transpose_weight(np.arange(4.0).reshape(2, 2, 1))[:, :, 0]   # groups=1: plain transpose
    array([[0., 2.],
           [1., 3.]])
    """
    c_in, out_per_group, *kernel = weight.shape
    if c_in % groups:
        raise ValueError(f"groups ({groups}) must divide in_channels ({c_in}, weight.shape[0])")
    in_per_group = c_in // groups
    w = weight.reshape(groups, in_per_group, out_per_group, *kernel)  # (G, C_in/G, C_out/G, *k)
    w = w.swapaxes(1, 2)  # (G, C_out/G, C_in/G, *k)
    w = w.reshape(groups * out_per_group, in_per_group, *kernel)  # (C_out, C_in/G, *k)
    return np.flip(w, axis=tuple(range(2, w.ndim)))


#: Bytes of products one job of :func:`conv_transpose_nd` holds at once (all taps of a block
#: of images and groups).
JOB_BYTES = 4 << 20


def _scatter(x, w, canvas, a: ConvTransposeArgs, n0, n1, g0, g1):
    """Add images ``n0..n1``, groups ``g0..g1`` of every tap's products into ``canvas``."""
    n_taps, size = w.shape[1] // canvas.shape[2], a.input.shape[2:]
    w, x = w[g0:g1], x[n0:n1, g0:g1]  # (g_t, C_out/G * K, C_in/G), (n_t, g_t, C_in/G, P)
    products = w * x if w.shape[2] == 1 else np.matmul(w, x)  # (n_t, g_t, C_out/G * K, P)
    products = products.reshape(n1 - n0, g1 - g0, canvas.shape[2], n_taps, *size)  # (.., C_out/G, K, *size)
    for t, tap in enumerate(np.ndindex(*a.kernel)):
        lands = tuple(slice(d * i, d * i + (h - 1) * s + 1, s)
                      for i, h, s, d in zip(tap, size, a.stride, a.dilation))
        canvas[(slice(n0, n1), slice(g0, g1), Ellipsis, *lands)] += products[:, :, :, t]


def _as_forward(a: ConvTransposeArgs) -> ConvArgs | None:
    """The forward convolution equal to ``a``, when computing it cannot change a result.

    With stride 1 nothing is inserted between the samples, and the border of
    ``d * (k - 1) - padding`` zeros is multiplied by the weights: harmless when every weight
    is finite (``0 * w == 0``, and adding 0 keeps every sum, inf and NaN included), but an
    infinite weight would turn those zeros into NaN. So: stride 1, 1-d or 2-d, a finite
    weight and a border that is not negative; else None (the scatter runs).
    """
    if a.nd > 2 or any(s != 1 for s in a.stride) or 0 in (*a.input.shape, *a.out_spatial, a.weight.size):
        return None
    border = [d * (k - 1) - p for d, k, p in zip(a.dilation, a.kernel, a.padding)]
    if min(border) < 0 or not np.isfinite(a.weight).all():
        return None
    padding = tuple((b, b + o) for b, o in zip(border, a.output_padding))  # output_padding at the end
    weight = np.ascontiguousarray(transpose_weight(a.weight, a.groups))  # (C_out, C_in/G, *kernel)
    return ConvArgs(input=a.input, weight=weight, bias=None, stride=a.stride, padding=padding,
                    dilation=a.dilation, groups=a.groups, out_spatial=a.out_spatial,
                    unbatched=a.unbatched, dtype=a.dtype)


def conv_transpose_nd(a: ConvTransposeArgs) -> np.ndarray:
    """Run a checked transposed convolution (see :func:`check_conv_transpose_args`).

    Each input value is multiplied by each kernel tap once (one grouped matrix product
    gives every tap's products for a block of images and groups) and added where that tap
    lands; no product involves an inserted zero or the cropped padding, so infinite and
    NaN values reach exactly the outputs PyTorch gives them to. The blocks of about
    :data:`JOB_BYTES` run on gconv_lib's threads; each adds into its own part of the output,
    in a fixed order, so the result does not depend on the number of threads.

    With stride 1 and a finite weight it is the forward convolution of :func:`_as_forward`
    instead, by :mod:`gconv_lib.fast`'s tiles: the same sums, without holding every tap's
    products (a 3x3 depthwise layer on 56 x 56 at batch 8: 6.5 -> ~1 ms).

    Returns the result of shape ``(N, C_out, *out_spatial)``, with bias, batched or not
    as the caller's input was, in the caller's dtype.
    """
    forward = _as_forward(a)
    if forward is not None:
        return _finish(a, conv_nd_fast(forward))
    n, c_in, *size = a.input.shape
    g, out_per_group, n_taps = a.groups, a.weight.shape[1], int(np.prod(a.kernel))
    x = a.input.reshape(n, g, c_in // g, int(np.prod(size)))  # (N, G, C_in/G, P), P = prod(size)
    w = a.weight.reshape(g, c_in // g, out_per_group * n_taps).swapaxes(1, 2)  # (G, C_out/G * K, C_in/G)
    # the canvas holds every position a tap reaches, and the output_padding past them
    reach = [(h - 1) * s + d * (k - 1) + 1 for h, s, d, k in zip(size, a.stride, a.dilation, a.kernel)]
    canvas_size = [max(r, p + o) for r, p, o in zip(reach, a.padding, a.out_spatial)]
    canvas = np.zeros((n, g, out_per_group, *canvas_size), a.input.dtype)  # (N, G, C_out/G, *canvas)
    per_group = out_per_group * n_taps * x.shape[3] * x.itemsize  # bytes of products, one image and group
    groups_per_job = max(1, min(g, JOB_BYTES // max(1, per_group)))
    images_per_job = max(1, JOB_BYTES // max(1, per_group * g)) if groups_per_job == g else 1
    jobs = [(n0, min(n, n0 + images_per_job), g0, min(g, g0 + groups_per_job))
            for n0 in range(0, n, images_per_job) for g0 in range(0, g, groups_per_job)]
    run_jobs(jobs, lambda: functools.partial(_scatter, x, w, canvas, a), work=x.size * w.shape[1])
    crop = tuple(slice(p, p + o) for p, o in zip(a.padding, a.out_spatial))
    out = canvas.reshape(n, g * out_per_group, *canvas_size)[(Ellipsis, *crop)]  # (N, C_out, *out)
    return _finish(a, out)


@ieee_quietly
def _finish(a: ConvTransposeArgs, out):
    """Add the bias, round to the caller's dtype, drop the batch axis for unbatched input."""
    if a.bias is not None:
        out = out + a.bias.reshape((-1,) + (1,) * a.nd)
    out = np.ascontiguousarray(out, dtype=a.dtype)
    return out[0] if a.unbatched else out  # (N, C_out, *out_spatial)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution with the semantics of ``torch.nn.functional.conv_transpose2d``.

    It is the adjoint of :func:`gconv_lib.conv2d` with the same ``weight``, ``stride``,
    ``padding``, ``dilation`` and ``groups``: ``sum(conv2d(x, w) * y) ==
    sum(x * conv_transpose2d(y, w))``. So it maps a convolution's output shape back to
    its input shape, and it is the gradient of a convolution with respect to its input.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, H, W) or (C_in, H, W)
        float16, float32 or float64 (float16 is computed in float32 and rounded once).
    weight : ndarray of shape (C_in, C_out // groups, kH, kW)
        Note the order (PyTorch's): input channels first.
    bias : ndarray of shape (C_out,), optional
    stride : int or (int, int), default 1
        Spacing of the input samples in the output (the forward convolution's stride).
    padding : int or (int, int), default 0
        Removes ``padding`` rows/columns at each border of the output (the forward
        convolution's padding). No ``'same'``/``'valid'``, as in PyTorch.
    output_padding : int or (int, int), default 0
        Extra rows/columns at the end of the output. With ``stride > 1`` several input
        sizes give the same forward output size; this picks the larger ones. Must be
        smaller than ``stride`` or than ``dilation`` in each dimension.
    groups : int, default 1
        As in :func:`gconv_lib.conv2d`, read backwards: the ``C_in`` input channels
        and the ``C_out`` output channels are cut into ``groups`` groups, and output
        channels of group ``g`` only receive from input channels of group ``g``.
        ``groups`` must divide ``C_in``; then ``C_out = weight.shape[1] * groups``.
    dilation : int or (int, int), default 1

    Returns
    -------
    ndarray of shape (N, C_out, H_out, W_out), the dtype of ``input``
        (``(C_out, H_out, W_out)`` for an unbatched input), where
        ``H_out = (H - 1) * sH - 2 * pH + dH * (kH - 1) + output_padding_H + 1``
        and likewise ``W_out``.

    Raises
    ------
    ValueError
        For every configuration PyTorch rejects, e.g. ``input channels (5, input.shape[1])
        must equal weight.shape[0] (4)``, or an ``output_padding`` not smaller than
        ``stride`` or ``dilation``.
    TypeError
        For arrays that are not float16/float32/float64 NumPy arrays, mixed dtypes, or a
        string ``padding``.

    Notes
    -----
    Equal to :func:`gconv_lib.conv2d` of the input with ``sH - 1`` zeros inserted
    between rows (``sW - 1`` between columns), bordered by ``dH * (kH - 1) - pH`` zeros
    (plus ``output_padding`` at the end), with the weight of :func:`transpose_weight`,
    stride 1, the same dilation and the same groups. Computed without those zeros (see
    :func:`conv_transpose_nd`), so that infinite and NaN values propagate as in PyTorch.

    Examples
    --------
    A stride-2 convolution halves 8 x 8 (and 7 x 7) to 4 x 4; its transpose goes back
    to 7 x 7, or 8 x 8 with ``output_padding=1``.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.standard_normal((1, 4, 4, 4))
    >>> w = rng.standard_normal((4, 3, 3, 3))         # C_in=4, C_out=3 * groups
    >>> conv_transpose2d(y, w, stride=2, padding=1).shape
    (1, 3, 7, 7)
    >>> conv_transpose2d(y, w, stride=2, padding=1, output_padding=1).shape
    (1, 3, 8, 8)
    >>> conv_transpose2d(y, w, groups=2).shape      # C_out = 3 * 2
    (1, 6, 6, 6)
    >>> conv_transpose2d(y, w, groups=3)
    Traceback (most recent call last):
    ...
    ValueError: groups (3) must divide in_channels (4, weight.shape[0])
    """
    a = check_conv_transpose_args(input, weight, bias, stride, padding, output_padding, groups,
                                  dilation, nd=2)
    return conv_transpose_nd(a)
