"""What a convolution layer costs and how it is wired, as functions of ``groups``.

All functions take the constructor arguments of ``torch.nn.Conv2d`` (``in_channels``,
``out_channels``, ``kernel_size``, ``groups``, ...) and need no arrays; with
``transposed=True`` they describe ``torch.nn.ConvTranspose2d`` with the same arguments.

* parameters: ``C_out * (C_in / g) * kH * kW (+ C_out bias)``, so ``g`` times fewer
  weights than a normal convolution; a transposed layer has as many, in a weight of shape
  ``(C_in, C_out / g, kH, kW)``;
* multiply-accumulates: ``N * C_out * H_out * W_out * (C_in / g) * kH * kW``, also ``g``
  times fewer; a transposed layer scatters each of its ``N * C_in * H_in * W_in`` input
  values into ``(C_out / g) * kH * kW`` products;
* connectivity: output channel ``o`` reads input channel ``c`` exactly when both lie in
  the same group (in a transposed layer too);
* :func:`groups_for_weight_count` reads a weight count, such as the two numbers of
  TensorRT's "kernel weights has count X but Y was expected", back as a ``groups`` value.
"""

from __future__ import annotations

import numpy as np

from .cases import classify
from .validate import _as_tuple, _require_int, check_padding, conv_output_size, conv_transpose_output_size


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


def weight_shape(in_channels, out_channels, kernel_size, groups=1, transposed=False):
    """Shape of the weight of ``nn.Conv2d`` (or ``nn.ConvTranspose2d``) with these arguments.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``.
    groups : int
        Must divide both channel counts.
    kernel_size : int or (int, int)
    transposed : bool, default False
        True for ``nn.ConvTranspose2d(in_channels, out_channels, kernel_size, groups=groups)``.

    Returns
    -------
    tuple
        ``(C_out, C_in // groups, kH, kW)``; transposed: ``(C_in, C_out // groups, kH, kW)``,
        the weight of the convolution it transposes (which maps ``C_out`` channels to
        ``C_in``).

    Examples
    --------
    >>> weight_shape(8, 4, 5, groups=4)
    (4, 2, 5, 5)
    >>> weight_shape(8, 4, 5, groups=4, transposed=True)
    (8, 1, 5, 5)
    """
    _check_layer(in_channels, out_channels, groups)
    kh, kw = _pair(kernel_size, "kernel_size", "weight_shape")
    if transposed:
        return (in_channels, out_channels // groups, kh, kw)
    return (out_channels, in_channels // groups, kh, kw)


def param_count(in_channels, out_channels, kernel_size, groups=1, bias=True, transposed=False):
    """Number of learnable parameters of the layer: weights plus (optionally) bias.

    Equals ``sum(p.numel() for p in nn.Conv2d(...).parameters())``, or for
    ``nn.ConvTranspose2d(...)`` with ``transposed=True``. Both have
    ``C_out * (C_in // groups) * kH * kW`` weights and ``C_out`` biases; only the weight's
    shape differs (see :func:`weight_shape`).

    Examples
    --------
    >>> param_count(8, 4, 5, groups=1, bias=False)
    800
    >>> param_count(8, 4, 5, groups=4, bias=False)
    200
    >>> param_count(8, 4, 5, groups=4, transposed=True)   # 8 * 1 * 5 * 5 weights + 4 biases
    204
    """
    shape = weight_shape(in_channels, out_channels, kernel_size, groups, transposed)
    return int(np.prod(shape)) + (out_channels if bias else 0)


def groups_for_weight_count(count, in_channels, out_channels, kernel_size):
    """The ``groups`` for which a layer with these channels and kernel has ``count`` weights.

    A layer has ``C_out * (C_in / g) * kH * kW`` weights (bias not counted), so a weight
    count names ``g``. This decodes TensorRT's error ``kernel weights has count X but Y
    expected`` (its longer form spells out ``Expected Weights count is C_in * kH*kW * C_out
    / groups``): ``Y`` is what the layer as declared needs, ``X`` what the file holds. When
    ``X`` gives ``g`` and ``Y`` gives ``1``, the weights are grouped but the layer's
    ``group`` attribute was lost on the way (the converter wrote a dense layer).

    Parameters
    ----------
    count : int
        A number of weights, for example ``X`` or ``Y`` from the message.
    in_channels, out_channels : int
    kernel_size : int or (int, int)

    Returns
    -------
    int or None
        The ``g`` that divides both channel counts with
        ``param_count(in_channels, out_channels, kernel_size, g, bias=False) == count``,
        or None when there is none (the weights belong to another shape altogether).

    Examples
    --------
    A depthwise 3x3 layer on 32 channels, exported without its ``group`` attribute:
    TensorRT says "kernel weights has count 288 but 9216 was expected".

    >>> groups_for_weight_count(288, 32, 32, 3)      # what the weights are
    32
    >>> groups_for_weight_count(9216, 32, 32, 3)     # what the layer was declared as
    1
    >>> groups_for_weight_count(4718592, 512, 512, 3) is None   # 2x too many: not a groups problem
    True
    """
    _require_int(count, "count")
    kh, kw = _pair(kernel_size, "kernel_size", "groups_for_weight_count")
    dense = param_count(in_channels, out_channels, (kh, kw), bias=False)
    if count < 1 or dense % count:
        return None
    g = dense // count
    return g if in_channels % g == 0 and out_channels % g == 0 else None


def macs(in_channels, out_channels, kernel_size, input_size, groups=1, stride=1, padding=0,
         dilation=1, batch=1, transposed=False, output_padding=0):
    """Multiply-accumulate operations of one forward pass (bias additions not counted).

    Parameters
    ----------
    in_channels, out_channels, groups : int
    kernel_size, stride, dilation : int or (int, int)
    input_size : int or (H, W)
        The layer's input size, ``(H_in, W_in)``, for a transposed layer too.
    padding : int, (int, int), 'valid' or 'same'
        A transposed layer takes an int or a pair, as ``nn.ConvTranspose2d`` does.
    batch : int
        N, the number of images.
    transposed : bool, default False
        Count ``nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding,
        output_padding, groups, dilation=dilation)`` instead of ``nn.Conv2d``.
    output_padding : int or (int, int), default 0
        Transposed layers only, as in ``nn.ConvTranspose2d``: must be smaller than
        ``stride`` or ``dilation``. It changes the output size, not the count.

    Returns
    -------
    int
        ``N * C_out * H_out * W_out * (C_in // groups) * kH * kW``: each output value is
        a sum of ``(C_in // groups) * kH * kW`` products.

        Transposed: ``N * C_in * H_in * W_in * (C_out // groups) * kH * kW``: each input
        value is multiplied by the ``(C_out // groups) * kH * kW`` weights of its input
        channel and scattered into the output. That counts every product the scatter
        computes, as ``torch.utils.flop_counter.FlopCounterMode`` does (its FLOPs are
        twice this): with ``padding > 0`` some of them land in the border that is then cut
        off, so fewer than these reach the output.

    Notes
    -----
    Padded zeros count as products in both cases, as in every MAC counter: they are
    multiplied, even though they add nothing.

    Examples
    --------
    >>> macs(64, 64, 3, 56, padding=1)           # a ResNet 3x3 layer
    115605504
    >>> macs(64, 64, 3, 56, padding=1, groups=64)  # depthwise: 64 times fewer
    1806336
    >>> macs(64, 32, 4, 28, groups=4, stride=2, padding=1, transposed=True)  # 28x28 -> 56x56
    6422528
    """
    _check_layer(in_channels, out_channels, groups)
    kernel, size, stride, dilation = (_pair(v, n, "macs") for v, n in (
        (kernel_size, "kernel_size"), (input_size, "input_size"), (stride, "stride"), (dilation, "dilation")))
    _require_int(batch, "batch")
    if batch < 0:
        raise ValueError(f"batch must be non-negative, but got batch={batch}")
    if transposed:
        _check_transposed_sizes(size, kernel, stride, padding, output_padding, dilation)
        return batch * in_channels * size[0] * size[1] * (out_channels // groups) * kernel[0] * kernel[1]
    if any(_as_tuple(output_padding, 2, "output_padding", "macs")):
        raise ValueError(f"output_padding is for transposed layers only, but got "
                         f"output_padding={output_padding!r} with transposed=False")
    pads = check_padding(padding, kernel, stride, dilation, 2, "macs")
    out = [conv_output_size(s, k, st, p, d) for s, k, st, p, d in zip(size, kernel, stride, pads, dilation)]
    if min(out) < 1:
        raise ValueError(f"the output would be empty: output size {tuple(out)} for input size {size}")
    return batch * out_channels * out[0] * out[1] * (in_channels // groups) * kernel[0] * kernel[1]


def _check_transposed_sizes(size, kernel, stride, padding, output_padding, dilation):
    """``nn.ConvTranspose2d``'s rules for padding and output_padding, and a non-empty output."""
    if isinstance(padding, str):
        raise TypeError(f"a transposed layer takes padding as an int or a pair of ints, not {padding!r}")
    pads = _as_tuple(padding, 2, "padding", "macs")
    extra = _as_tuple(output_padding, 2, "output_padding", "macs")
    for name, values in (("padding", pads), ("output_padding", extra)):
        if any(v < 0 for v in values):
            raise ValueError(f"{name} must be non-negative, but got {name}={values}")
    for axis, (op, s, d) in enumerate(zip(extra, stride, dilation)):
        if op >= s and op >= d:
            raise ValueError(
                f"output_padding must be smaller than stride or dilation in every dimension, "
                f"but along spatial axis {axis} output_padding={op}, stride={s}, dilation={d}")
    out = tuple(conv_transpose_output_size(*a) for a in zip(size, kernel, stride, pads, extra, dilation))
    if min(out) < 1:
        raise ValueError(f"the output would be empty: output size {out} for input size {size}")


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
