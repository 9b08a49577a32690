"""Two ways to see a grouped convolution as ordinary (groups=1) convolutions.

1. **Split -> convolve -> concatenate** (:func:`conv2d_split`): cut the input channels and
   the output channels into ``groups`` equal slices, run one dense convolution per slice,
   and stack the results along the channel axis.
2. **One dense convolution with a block-diagonal weight** (:func:`conv2d_block_diagonal`):
   scatter the grouped weight ``(C_out, C_in // groups, kH, kW)`` into a dense weight
   ``(C_out, C_in, kH, kW)`` that is zero wherever an output channel may not see an input
   channel (:func:`block_diagonal_weight`).

Both give the same numbers as ``conv2d(..., groups=groups)``; the book uses them to show
what ``groups`` means, and the tests use them as invariants.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .im2col import conv2d_im2col, conv_nd_im2col
from .validate import _require_int, check_conv_args


def conv2d_split(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D convolution as ``groups`` independent dense convolutions, concatenated.

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
        Group ``g`` produces output channels ``g * C_out // groups`` to
        ``(g + 1) * C_out // groups - 1`` from input channels ``g * C_in // groups`` to
        ``(g + 1) * C_in // groups - 1``.

    Examples
    --------
    >>> x = np.ones((1, 4, 3, 3)); w = np.ones((2, 2, 3, 3))
    >>> conv2d_split(x, w, groups=2)[0, :, 0, 0]
    array([18., 18.])
    """
    a = check_conv_args(input, weight, bias, stride, padding, dilation, groups, nd=2)
    in_per_group = a.in_channels // a.groups
    out_per_group = a.out_channels // a.groups
    pieces = []
    for g in range(a.groups):
        x_g = a.input[:, g * in_per_group : (g + 1) * in_per_group]  # (N, C_in/G, H, W)
        w_g = a.weight[g * out_per_group : (g + 1) * out_per_group]  # (C_out/G, C_in/G, kH, kW)
        pieces.append(conv2d_im2col(x_g, w_g, None, a.stride, padding, a.dilation, groups=1))
    out = np.concatenate(pieces, axis=1)  # (N, C_out, H_out, W_out)
    return a.finish(out)


def block_diagonal_weight(weight, groups):
    """The dense weight that makes a groups=1 convolution equal a grouped one.

    Parameters
    ----------
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
    groups : int
        Must divide C_out.

    Returns
    -------
    ndarray of shape (C_out, C_in, kH, kW), with ``C_in = weight.shape[1] * groups``
        Block ``g`` (output rows ``g * C_out // groups ...``, input columns
        ``g * C_in // groups ...``) holds that group's kernels; every other entry is 0.

    Examples
    --------
    >>> w = np.arange(1.0, 5.0).reshape(4, 1, 1, 1)   # depthwise 4 -> 4
    >>> block_diagonal_weight(w, groups=4)[:, :, 0, 0]
    array([[1., 0., 0., 0.],
           [0., 2., 0., 0.],
           [0., 0., 3., 0.],
           [0., 0., 0., 4.]])
    """
    if not isinstance(weight, np.ndarray):
        raise TypeError(f"weight must be a NumPy array of shape (C_out, C_in // groups, *kernel), "
                        f"but got {type(weight).__name__}")
    if weight.ndim < 3:
        raise ValueError(f"weight must have shape (C_out, C_in // groups, *kernel), "
                         f"but got shape {weight.shape}")
    _require_int(groups, "groups")
    if groups < 1:
        raise ValueError(f"groups must be a positive integer, but got groups={groups!r}")
    groups = int(groups)
    c_out, in_per_group = weight.shape[:2]
    if c_out % groups:
        raise ValueError(f"groups ({groups}) must divide out_channels ({c_out}, weight.shape[0])")
    out_per_group = c_out // groups
    dense = np.zeros((c_out, in_per_group * groups, *weight.shape[2:]), dtype=weight.dtype)
    for g in range(groups):
        rows = slice(g * out_per_group, (g + 1) * out_per_group)
        cols = slice(g * in_per_group, (g + 1) * in_per_group)
        dense[rows, cols] = weight[rows]
    return dense


def conv2d_block_diagonal(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D convolution as ONE dense convolution with a block-diagonal weight.

    Same parameters and result as :func:`conv2d_split`; it does ``groups`` times the
    multiply-adds of the grouped convolution, most of them by zero.

    Examples
    --------
    >>> x = np.ones((1, 4, 3, 3)); w = np.ones((2, 2, 3, 3))
    >>> conv2d_block_diagonal(x, w, groups=2)[0, :, 0, 0]
    array([18., 18.])
    """
    a = check_conv_args(input, weight, bias, stride, padding, dilation, groups, nd=2)
    dense = block_diagonal_weight(a.weight, a.groups)  # (C_out, C_in, kH, kW)
    return a.finish(conv_nd_im2col(replace(a, weight=dense, groups=1)))
