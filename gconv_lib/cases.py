"""The cases of ``groups`` the book names, and the thin wrapper for depthwise convolution."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

from .conv import conv2d
from .validate import _is_int, _require_int, check_depthwise_groups


@dataclass(frozen=True)
class LayerCase:
    """What kind of layer ``(in_channels, out_channels, groups)`` is.

    Attributes
    ----------
    kind : str
        One of ``"normal"``, ``"grouped in>out"``, ``"grouped in<out"``,
        ``"grouped in=out"``, ``"depthwise"``, ``"depthwise with multiplier"``,
        ``"invalid"``.
    valid : bool
    reason : str
        Why the layer is invalid, or a one-line description of what it does.
    in_per_group, out_per_group : int
        Channels each group reads and writes (0 when invalid).
    """

    kind: str
    valid: bool
    reason: str
    in_per_group: int = 0
    out_per_group: int = 0


def valid_groups(in_channels, out_channels):
    """Every ``groups`` value PyTorch accepts for these channel counts.

    They are the divisors of ``gcd(in_channels, out_channels)``.

    Examples
    --------
    >>> valid_groups(8, 4)
    [1, 2, 4]
    >>> valid_groups(6, 6)
    [1, 2, 3, 6]
    """
    _check_counts(in_channels, out_channels)
    common = gcd(in_channels, out_channels)
    return [g for g in range(1, common + 1) if common % g == 0]


def _check_counts(in_channels, out_channels):
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        _require_int(value, name)
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, but got {name}={value!r}")


def _plural(count, noun):
    """``1 input``, ``2 inputs``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def classify(in_channels, out_channels, groups):
    """Name the case of a convolution layer, or say why it is invalid.

    Parameters
    ----------
    in_channels, out_channels, groups : int

    Returns
    -------
    LayerCase
        An invalid ``groups`` (not a positive int, or not dividing both channel counts)
        gives ``kind='invalid'`` with the reason, as PyTorch would refuse the layer.

    Raises
    ------
    TypeError, ValueError
        When ``in_channels`` or ``out_channels`` is not a positive int.

    Examples
    --------
    >>> classify(8, 4, 2).kind
    'grouped in>out'
    >>> classify(8, 4, 4).reason
    '4 groups, each 2 inputs -> 1 output'
    >>> classify(8, 4, 3).reason
    'groups (3) must divide in_channels (8)'
    >>> classify(32, 64, 32).kind
    'depthwise with multiplier'
    """
    _check_counts(in_channels, out_channels)
    if not _is_int(groups) or groups < 1:
        return LayerCase("invalid", False, f"groups must be a positive integer, but got groups={groups!r}")
    in_channels, out_channels, groups = int(in_channels), int(out_channels), int(groups)
    if in_channels % groups:
        return LayerCase("invalid", False, f"groups ({groups}) must divide in_channels ({in_channels})")
    if out_channels % groups:
        return LayerCase("invalid", False, f"groups ({groups}) must divide out_channels ({out_channels})")
    cin_g, cout_g = in_channels // groups, out_channels // groups
    each = f"{groups} groups, each {_plural(cin_g, 'input')} -> {_plural(cout_g, 'output')}"
    if groups == 1:
        kind, what = "normal", "every output channel sees every input channel"
    elif groups == in_channels and out_channels == in_channels:
        kind, what = "depthwise", "each output channel sees exactly one input channel"
    elif groups == in_channels:
        kind = "depthwise with multiplier"
        what = f"each input channel feeds its own {cout_g} output channels (multiplier K={cout_g})"
    elif in_channels > out_channels:
        kind, what = "grouped in>out", each
    elif in_channels < out_channels:
        kind, what = "grouped in<out", each
    else:
        kind, what = "grouped in=out", each
    return LayerCase(kind, True, what, cin_g, cout_g)


def depthwise_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=None):
    """Depthwise 2-D convolution: ``conv2d`` with ``groups = C_in``.

    Every input channel is convolved with its own ``K`` kernels (the channel multiplier),
    giving ``C_out = K * C_in`` output channels; channels are never mixed.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray of shape (K * C_in, 1, kH, kW)
        Output channels ``c * K, ..., c * K + K - 1`` come from input channel ``c``.
    bias : ndarray of shape (K * C_in,), optional
    stride, padding, dilation
        As in :func:`gconv_lib.conv2d`.
    groups : int, optional
        Always ``C_in``; accepted only so that this function has the signature of every
        other strategy. Another int raises ValueError, anything not an int TypeError.

    Returns
    -------
    ndarray of shape (N, K * C_in, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((1, 3, 4, 4)); w = np.ones((6, 1, 3, 3))   # K = 2
    >>> depthwise_conv2d(x, w).shape
    (1, 6, 2, 2)
    """
    c_in = check_depthwise_groups(input, weight, groups)
    return conv2d(input, weight, bias, stride, padding, dilation, groups=c_in)
