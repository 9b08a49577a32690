"""The naive loop: a grouped 2-D convolution written exactly as the notes describe it.

Each output channel has one kernel. The kernel slides over every input channel *of its
group*, one channel at a time, and the per-channel results are summed. This is the slowest
strategy and the easiest to read: it is the oracle every other strategy is tested against.
"""

from __future__ import annotations

import numpy as np

from .validate import check_conv_args, ieee_quietly


def correlate2d_single(x, k, stride=(1, 1), dilation=(1, 1)):
    """Slide one kernel over one (already padded) channel: a single-channel convolution.

    Deep-learning "convolution" is cross-correlation: the kernel is not flipped.

    Parameters
    ----------
    x : ndarray of shape (H, W)
    k : ndarray of shape (kH, kW)
    stride, dilation : (int, int)

    Returns
    -------
    ndarray of shape (H_out, W_out)
        ``out[i, j] = sum_{a, b} x[i*sH + a*dH, j*sW + b*dW] * k[a, b]``

    Examples
    --------
    >>> x = np.arange(16.0).reshape(4, 4)
    >>> correlate2d_single(x, np.ones((2, 2)))
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]])
    """
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw = k.shape
    h_out = (x.shape[0] - dh * (kh - 1) - 1) // sh + 1
    w_out = (x.shape[1] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((h_out, w_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = x[i * sh : i * sh + dh * (kh - 1) + 1 : dh, j * sw : j * sw + dw * (kw - 1) + 1 : dw]
            out[i, j] = np.sum(window * k)
    return out


@ieee_quietly
def conv2d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Grouped 2-D convolution by explicit loops over batch, output and input channels.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
    bias : ndarray of shape (C_out,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), 'valid' or 'same'
    groups : int
        The channels are split into ``groups`` equal groups. Output channel ``o`` belongs
        to group ``g = o // (C_out // groups)`` and sees only the ``C_in // groups`` input
        channels ``g * C_in // groups, ..., (g + 1) * C_in // groups - 1``.

    Returns
    -------
    ndarray of shape (N, C_out, H_out, W_out)
        ``H_out = (H + pad_top + pad_bottom - dH * (kH - 1) - 1) // sH + 1``, likewise W_out.

    Examples
    --------
    >>> x = np.ones((1, 4, 3, 3)); w = np.ones((2, 2, 3, 3))
    >>> conv2d_naive(x, w, groups=2)[0, :, 0, 0]   # each output sums 2 channels x 9 taps
    array([18., 18.])
    """
    a = check_conv_args(input, weight, bias, stride, padding, dilation, groups, nd=2)
    x = a.padded_input()
    n_batch, c_in = x.shape[:2]
    c_out = a.out_channels
    in_per_group, out_per_group = c_in // a.groups, c_out // a.groups
    out = np.zeros((n_batch, c_out, *a.out_spatial), dtype=x.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            g = o // out_per_group  # the group this output channel belongs to
            for c_local in range(in_per_group):
                c = g * in_per_group + c_local  # the input channel, counted over all groups
                out[n, o] += correlate2d_single(x[n, c], a.weight[o, c_local], a.stride, a.dilation)
    return a.finish(out)
