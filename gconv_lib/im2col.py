"""Vectorised grouped convolution: gather every window (im2col), then one matrix product per group.

For each output position the kernel sees a window of ``C_in // groups * kH * kW`` input
values. Laying those windows out as the rows of a matrix ("im2col") turns the convolution
into a batched matrix product with the weight reshaped to ``(groups, C_out // groups,
C_in // groups * kH * kW)``. The code is written once for any number of spatial dimensions
and is used by :func:`conv2d_im2col` (and the 1-d and 3-d front ends).

Cost: the window matrix has ``N * C_in * H_out * W_out * kH * kW`` entries, that is
``kH * kW`` times the input for stride 1; that buffer is the price of calling BLAS.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .validate import ConvArgs, check_conv_args, ieee_quietly


@ieee_quietly
def conv_nd_im2col(a: ConvArgs) -> np.ndarray:
    """Run a checked convolution (see :func:`gconv_lib.validate.check_conv_args`) by im2col.

    Returns the batched result ``(N, C_out, *out_spatial)`` before bias and un-batching.
    """
    x = a.padded_input()
    n_batch, c_in = x.shape[:2]
    nd, g = a.nd, a.groups
    spatial_axes = tuple(range(2, 2 + nd))
    spans = tuple(d * (k - 1) + 1 for k, d in zip(a.kernel, a.dilation))

    # All windows, as a view: (N, C_in, *padded_out, *span)
    windows = sliding_window_view(x, spans, axis=spatial_axes)
    # Keep every stride-th window and every dilation-th tap: (N, C_in, *out, *kernel)
    windows = windows[(slice(None), slice(None))
                      + tuple(slice(None, None, s) for s in a.stride)
                      + tuple(slice(None, None, d) for d in a.dilation)]
    windows = windows[(slice(None), slice(None)) + tuple(slice(0, o) for o in a.out_spatial)]

    n_pos = int(np.prod(a.out_spatial))
    n_taps = int(np.prod(a.kernel))
    in_per_group, out_per_group = c_in // g, a.out_channels // g
    # (N, G, C_in/G, *out, *kernel) -> (N, G, *out, C_in/G, *kernel)
    cols = windows.reshape(n_batch, g, in_per_group, *a.out_spatial, *a.kernel)
    cols = np.moveaxis(cols, 2, 2 + nd)
    cols = cols.reshape(n_batch, g, n_pos, in_per_group * n_taps)  # (N, G, P, C_in/G*K)
    w = a.weight.reshape(g, out_per_group, in_per_group * n_taps)  # (G, C_out/G, C_in/G*K)
    out = cols @ w.transpose(0, 2, 1)  # (N, G, P, C_out/G)
    out = out.transpose(0, 1, 3, 2)  # (N, G, C_out/G, P)
    return np.ascontiguousarray(out).reshape(n_batch, a.out_channels, *a.out_spatial)


def conv2d_im2col(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D convolution as one batched matrix product over gathered windows.

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
    >>> x = np.ones((1, 4, 3, 3)); w = np.ones((2, 2, 3, 3))
    >>> conv2d_im2col(x, w, groups=2)[0, :, 0, 0]
    array([18., 18.])
    """
    a = check_conv_args(input, weight, bias, stride, padding, dilation, groups, nd=2)
    return a.finish(conv_nd_im2col(a))
