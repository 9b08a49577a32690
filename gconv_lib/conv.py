"""The public convolutions: ``conv1d``, ``conv2d`` and ``conv3d`` with PyTorch's meaning.

They check their arguments once (:mod:`gconv_lib.validate`) and run the default strategy,
:mod:`gconv_lib.fast` (stride phases, flat shifts, tiles and a thread pool); ``conv1d`` and
``conv3d`` run on it folded into 2-d convolutions (:mod:`gconv_lib.fold`: a long sequence
cut into rows, the depth taps made channels).
"""

from __future__ import annotations

from .fast import conv_nd_fast
from .fold import conv1d_folded, conv3d_folded
from .validate import check_conv_args

_RUN = {1: conv1d_folded, 2: conv_nd_fast, 3: conv3d_folded}


def _conv(nd, input, weight, bias, stride, padding, dilation, groups):
    a = check_conv_args(input, weight, bias, stride, padding, dilation, groups, nd=nd)
    return a.finish(_RUN[nd](a))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) with the semantics of ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, H, W) or (C_in, H, W)
        float16, float32 or float64 (float16 is computed in float32 and rounded once).
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
        Same dtype as ``input``.
    bias : ndarray of shape (C_out,), optional
    stride : int or (int, int), default 1
    padding : int, (int, int), 'valid' or 'same', default 0
        Zeros added on both sides. ``'same'`` keeps H and W (stride must be 1); when the
        total padding ``dilation * (k - 1)`` is odd, the extra row/column goes at the end.
    dilation : int or (int, int), default 1
        Spacing between kernel taps.
    groups : int, default 1
        Split the ``C_in`` input channels and the ``C_out`` output channels into
        ``groups`` equal groups. Group ``g`` convolves its ``C_in // groups`` input
        channels into its ``C_out // groups`` output channels and sees nothing else, so
        each kernel has ``C_in // groups`` channels. ``groups`` must divide both
        ``C_in`` and ``C_out``. ``groups = 1`` is a normal convolution;
        ``groups = C_in`` is a depthwise convolution.

    Returns
    -------
    ndarray of shape (N, C_out, H_out, W_out), the dtype of ``input``
        (``(C_out, H_out, W_out)`` for an unbatched input), where
        ``H_out = (H + 2 * pH - dH * (kH - 1) - 1) // sH + 1`` and likewise ``W_out``.

    Raises
    ------
    ValueError
        For every configuration PyTorch rejects (an input with no rows or columns
        included, unless the batch is empty); the message states the rule and the values,
        e.g. ``groups (3) must divide in_channels (8)``.
    TypeError
        For arrays that are not float16/float32/float64 NumPy arrays, or mixed dtypes.

    Examples
    --------
    Eight input channels, four outputs, two groups: each output sees four inputs.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((1, 8, 6, 6))
    >>> w = rng.standard_normal((4, 8 // 2, 5, 5))
    >>> conv2d(x, w, groups=2).shape
    (1, 4, 2, 2)
    >>> conv2d(x, w, padding="same", groups=2).shape
    (1, 4, 6, 6)
    >>> conv2d(x, rng.standard_normal((4, 3, 5, 5)), groups=3)
    Traceback (most recent call last):
    ...
    ValueError: groups (3) must divide in_channels (8)
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution with the semantics of ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, L) or (C_in, L)
    weight : ndarray of shape (C_out, C_in // groups, k)
    bias : ndarray of shape (C_out,), optional
    stride, dilation : int or (int,)
    padding : int, (int,), 'valid' or 'same'
    groups : int
        As in :func:`conv2d`.

    Returns
    -------
    ndarray of shape (N, C_out, L_out)
        ``L_out = (L + 2 * p - d * (k - 1) - 1) // s + 1``

    Examples
    --------
    >>> import numpy as np
    >>> conv1d(np.ones((1, 2, 5)), np.ones((2, 1, 3)), groups=2)
    array([[[3., 3., 3.],
            [3., 3., 3.]]])
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution with the semantics of ``torch.nn.functional.conv3d``.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, D, H, W) or (C_in, D, H, W)
    weight : ndarray of shape (C_out, C_in // groups, kD, kH, kW)
    bias : ndarray of shape (C_out,), optional
    stride, dilation : int or (int, int, int)
    padding : int, (int, int, int), 'valid' or 'same'
    groups : int
        As in :func:`conv2d`.

    Returns
    -------
    ndarray of shape (N, C_out, D_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> conv3d(np.ones((1, 4, 3, 3, 3)), np.ones((4, 1, 3, 3, 3)), groups=4).ravel()
    array([27., 27., 27., 27.])
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)
