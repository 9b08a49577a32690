"""What a convolution layer costs and how it is wired, as functions of ``groups``.

All functions take the constructor arguments of ``torch.nn.Conv2d`` (``in_channels``,
``out_channels``, ``kernel_size``, ``groups``, ...) and need no arrays.

* parameters: ``C_out * (C_in / g) * kH * kW (+ C_out bias)``, so ``g`` times fewer
  weights than a normal convolution;
* multiply-accumulates: ``N * C_out * H_out * W_out * (C_in / g) * kH * kW``, also ``g``
  times fewer;
* connectivity: output channel ``o`` reads input channel ``c`` exactly when both lie in
  the same group.
"""

from __future__ import annotations

import numpy as np

from .cases import classify
from .validate import _as_tuple, _require_int, check_padding, conv_output_size


def _pair(value, name, fn="Conv2d"):
    """An int or a sequence of 1 or 2 positive ints, as a pair (TypeError/ValueError otherwise)."""
    pair = _as_tuple(value, 2, name, fn)
    if any(v < 1 for v in pair):
        raise ValueError(f"{name} must be positive, but got {name}={pair}")
    return pair


def _check_layer(in_channels, out_channels, groups):
    _require_int(groups, "groups")
    case = classify(in_channels, out_channels, groups)
    if not case.valid:
        raise ValueError(case.reason)
    return case


def weight_shape(in_channels, out_channels, kernel_size, groups=1):
    """Shape of ``nn.Conv2d(in_channels, out_channels, kernel_size, groups=groups).weight``.

    Returns
    -------
    tuple (C_out, C_in // groups, kH, kW)

    Examples
    --------
    >>> weight_shape(8, 4, 5, groups=4)
    (4, 2, 5, 5)
    """
    _check_layer(in_channels, out_channels, groups)
    kh, kw = _pair(kernel_size, "kernel_size", "weight_shape")
    return (out_channels, in_channels // groups, kh, kw)


def param_count(in_channels, out_channels, kernel_size, groups=1, bias=True):
    """Number of learnable parameters of the layer: weights plus (optionally) bias.

    Equals ``sum(p.numel() for p in nn.Conv2d(...).parameters())``.

    Examples
    --------
    >>> param_count(8, 4, 5, groups=1, bias=False)
    800
    >>> param_count(8, 4, 5, groups=4, bias=False)
    200
    """
    c_out, cin_g, kh, kw = weight_shape(in_channels, out_channels, kernel_size, groups)
    return c_out * cin_g * kh * kw + (c_out if bias else 0)


def macs(in_channels, out_channels, kernel_size, input_size, groups=1, stride=1, padding=0,
         dilation=1, batch=1):
    """Multiply-accumulate operations of one forward pass (bias additions not counted).

    Parameters
    ----------
    in_channels, out_channels, groups : int
    kernel_size, stride, dilation : int or (int, int)
    input_size : int or (H, W)
    padding : int, (int, int), 'valid' or 'same'
    batch : int
        N, the number of images.

    Returns
    -------
    int
        ``N * C_out * H_out * W_out * (C_in // groups) * kH * kW``

    Examples
    --------
    >>> macs(64, 64, 3, 56, padding=1)           # a ResNet 3x3 layer
    115605504
    >>> macs(64, 64, 3, 56, padding=1, groups=64)  # depthwise: 64 times fewer
    1806336
    """
    _check_layer(in_channels, out_channels, groups)
    kernel, size, stride, dilation = (_pair(v, n, "macs") for v, n in (
        (kernel_size, "kernel_size"), (input_size, "input_size"), (stride, "stride"), (dilation, "dilation")))
    _require_int(batch, "batch")
    if batch < 0:
        raise ValueError(f"batch must be non-negative, but got batch={batch}")
    pads = check_padding(padding, kernel, stride, dilation, 2, "macs")
    out = [conv_output_size(s, k, st, p, d) for s, k, st, p, d in zip(size, kernel, stride, pads, dilation)]
    if min(out) < 1:
        raise ValueError(f"the output would be empty: output size {tuple(out)} for input size {size}")
    return batch * out_channels * out[0] * out[1] * (in_channels // groups) * kernel[0] * kernel[1]


def connectivity(in_channels, out_channels, groups=1):
    """Which input channels feed each output channel.

    Returns
    -------
    ndarray of bool, shape (C_out, C_in)
        ``M[o, c]`` is True when output channel ``o`` reads input channel ``c``: a
        block-diagonal matrix with ``groups`` blocks of ``(C_out // groups, C_in // groups)``.

    Examples
    --------
    >>> connectivity(4, 2, groups=2).astype(int)
    array([[1, 1, 0, 0],
           [0, 0, 1, 1]])
    """
    case = _check_layer(in_channels, out_channels, groups)
    group_of_out = np.arange(out_channels) // case.out_per_group  # (C_out,)
    group_of_in = np.arange(in_channels) // case.in_per_group  # (C_in,)
    return group_of_out[:, None] == group_of_in[None, :]  # (C_out, C_in)
