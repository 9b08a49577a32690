"""Weight layouts across frameworks: Keras/TensorFlow kernels as PyTorch weights, and back.

The same layer keeps the same numbers in another order in each framework:

.. list-table::
   :header-rows: 1

   * - layer
     - Keras / TensorFlow kernel
     - PyTorch weight
   * - depthwise, multiplier ``M``
     - ``(kH, kW, C, M)``
     - ``(C * M, 1, kH, kW)``
   * - grouped, ``g`` groups
     - ``(kH, kW, C_in // g, C_out)``
     - ``(C_out, C_in // g, kH, kW)``

**The multiplier** ``M`` (output channels per input channel of a depthwise layer) has a
different name in each framework: Keras ``DepthwiseConv2D(depth_multiplier=M)``,
TensorFlow ``tf.nn.depthwise_conv2d``'s filter ``[filter_height, filter_width,
in_channels, channel_multiplier]``, and in PyTorch no argument at all: a depthwise layer
with multiplier ``K`` is ``nn.Conv2d(C, K * C, kernel_size, groups=C)``, out_channels =
K x in_channels. It is not MobileNet's *width multiplier* alpha, which thins every layer
of a network (``C`` channels become ``alpha * C``) and is no argument of any convolution.

**The order of the output channels** is the same in both: TensorFlow documents output
channel ``k * M + q`` as filter ``q`` of input channel ``k``, so the ``M`` outputs of one
input channel sit next to each other; PyTorch's ``groups=C`` puts output channel ``o`` in
group ``o // M``, which reads input channel ``o // M``. Converting is therefore a reshape of
the ``(C, M)`` axes into ``C * M`` *in that order*, with the kernel axes moved to the back.
A grouped kernel's output channels are split into ``g`` consecutive groups in both
frameworks (Keras: "the output is the concatenation of all the groups results along the
channel axis"), so it only needs its axes transposed.

Activations follow the same rule: TensorFlow's NHWC ``x`` is PyTorch's NCHW
``x.transpose(0, 3, 1, 2)``.

:func:`tf_depthwise_conv2d` and :func:`tf_conv2d` compute TensorFlow's documented formulas
literally, in NumPy and NHWC, with 'VALID' padding, so the conversions can be checked
against TensorFlow's definition without TensorFlow; :func:`matches_tf` does that check.
"""

from __future__ import annotations

import numpy as np

from .conv import conv2d
from .cost import _pair
from .validate import _require_int, _shape


def _four_axes(array, name, layout, what):
    """``array`` as an ndarray with 4 non-empty axes, else ValueError naming the layout."""
    array = np.asarray(array)
    if array.ndim != 4 or 0 in array.shape:
        raise ValueError(f"{what} must have 4 non-empty axes {layout}, "
                         f"but {name} has shape {_shape(array.shape)}")
    return array


def keras_depthwise_to_torch(kernel):
    """A Keras ``DepthwiseConv2D`` kernel as the weight of PyTorch's depthwise ``nn.Conv2d``.

    Parameters
    ----------
    kernel : ndarray of shape (kH, kW, C, M)
        ``M`` is Keras's ``depth_multiplier`` (TensorFlow: ``channel_multiplier``).

    Returns
    -------
    ndarray of shape (C * M, 1, kH, kW)
        The weight of ``nn.Conv2d(C, C * M, (kH, kW), groups=C)``: row ``k * M + q`` is
        ``kernel[:, :, k, q]``, filter ``q`` of input channel ``k``.

    Examples
    --------
    >>> kernel = np.arange(2 * 2 * 3 * 2).reshape(2, 2, 3, 2)   # 2x2, C = 3, M = 2
    >>> weight = keras_depthwise_to_torch(kernel)
    >>> weight.shape
    (6, 1, 2, 2)
    >>> bool((weight[1 * 2 + 0, 0] == kernel[:, :, 1, 0]).all())   # row k*M + q
    True
    """
    kernel = _four_axes(kernel, "kernel", "(kH, kW, C, depth_multiplier)", "a DepthwiseConv2D kernel")
    kh, kw, c, m = kernel.shape
    merged = kernel.reshape(kh, kw, c * m)  # (kH, kW, C * M), index k * M + q
    return np.ascontiguousarray(merged.transpose(2, 0, 1)[:, None])  # (C * M, 1, kH, kW)


def torch_depthwise_to_keras(weight, in_channels):
    """The weight of PyTorch's depthwise ``nn.Conv2d`` as a Keras ``DepthwiseConv2D`` kernel.

    The inverse of :func:`keras_depthwise_to_torch`. The weight alone does not say how
    its ``C * M`` rows split into channels and multiplier, so ``in_channels`` is needed.

    Parameters
    ----------
    weight : ndarray of shape (C * M, 1, kH, kW)
        The weight of ``nn.Conv2d(C, C * M, (kH, kW), groups=C)``.
    in_channels : int
        ``C``, the layer's ``in_channels`` (and ``groups``).

    Returns
    -------
    ndarray of shape (kH, kW, C, M)
        ``M = weight.shape[0] // C`` is Keras's ``depth_multiplier``.

    Examples
    --------
    >>> weight = np.zeros((6, 1, 3, 3))
    >>> torch_depthwise_to_keras(weight, in_channels=3).shape
    (3, 3, 3, 2)
    >>> torch_depthwise_to_keras(weight, in_channels=4)
    Traceback (most recent call last):
    ...
    ValueError: a depthwise weight has C * M rows, a multiple of in_channels (4), but weight has \
shape (6, 1, 3, 3)
    """
    weight = _four_axes(weight, "weight", "(C * M, 1, kH, kW)", "a depthwise weight")
    _require_int(in_channels, "in_channels")
    if in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, but got in_channels={in_channels}")
    cm, one, kh, kw = weight.shape
    if one != 1:
        raise ValueError(f"a depthwise weight (C * M, 1, kH, kW) reads 1 input channel per output "
                         f"channel, but weight has shape {_shape(weight.shape)}")
    if cm % in_channels:
        raise ValueError(f"a depthwise weight has C * M rows, a multiple of in_channels ({in_channels}), "
                         f"but weight has shape {_shape(weight.shape)}")
    taps = weight[:, 0].transpose(1, 2, 0)  # (kH, kW, C * M)
    return np.ascontiguousarray(taps.reshape(kh, kw, in_channels, cm // in_channels))  # (kH, kW, C, M)


def keras_conv_to_torch(kernel, groups=None):
    """A Keras ``Conv2D`` kernel (any ``groups``) as the weight of PyTorch's ``nn.Conv2d``.

    Parameters
    ----------
    kernel : ndarray of shape (kH, kW, C_in // groups, C_out)
        The kernel of ``keras.layers.Conv2D(C_out, (kH, kW), groups=groups)`` (TensorFlow:
        the ``filters`` of ``tf.nn.conv2d``).
    groups : int, optional
        When given, checked to divide ``C_out`` (the kernel's shape does not depend on
        it otherwise: the same transpose serves every ``groups``).

    Returns
    -------
    ndarray of shape (C_out, C_in // groups, kH, kW)
        The weight of ``nn.Conv2d(C_in, C_out, (kH, kW), groups=groups)``.

    Examples
    --------
    >>> kernel = np.zeros((3, 5, 2, 8))       # Conv2D(8, (3, 5), groups=4) on 8 channels
    >>> keras_conv_to_torch(kernel, groups=4).shape
    (8, 2, 3, 5)
    """
    kernel = _four_axes(kernel, "kernel", "(kH, kW, C_in // groups, C_out)", "a Conv2D kernel")
    if groups is not None:
        _require_int(groups, "groups")
        if groups < 1:
            raise ValueError(f"groups must be a positive integer, but got groups={groups}")
        if kernel.shape[3] % groups:
            raise ValueError(f"groups ({groups}) must divide out_channels ({kernel.shape[3]}, the last axis "
                             f"of a (kH, kW, C_in // groups, C_out) kernel), but kernel has shape "
                             f"{_shape(kernel.shape)}")
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))  # (C_out, C_in // groups, kH, kW)


def torch_conv_to_keras(weight):
    """The weight of PyTorch's ``nn.Conv2d`` (any ``groups``) as a Keras ``Conv2D`` kernel.

    The inverse of :func:`keras_conv_to_torch`.

    Parameters
    ----------
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)

    Returns
    -------
    ndarray of shape (kH, kW, C_in // groups, C_out)

    Examples
    --------
    >>> torch_conv_to_keras(np.zeros((8, 2, 3, 5))).shape
    (3, 5, 2, 8)
    """
    weight = _four_axes(weight, "weight", "(C_out, C_in // groups, kH, kW)", "a Conv2d weight")
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))  # (kH, kW, C_in // groups, C_out)


def _valid_output(input, filter_shape, strides, dilations, fn):
    """Strides, dilations and the 'VALID' output size (H_out, W_out), checked."""
    strides, dilations = _pair(strides, "strides", fn), _pair(dilations, "dilations", fn)
    out = tuple((size - d * (k - 1) - 1) // s + 1
                for size, k, s, d in zip(input.shape[1:3], filter_shape[:2], strides, dilations))
    if min(out) < 1:
        raise ValueError(f"the output would be empty: 'VALID' output size {out} for input of shape "
                         f"{_shape(input.shape)} and a {filter_shape[0]}x{filter_shape[1]} filter "
                         f"with dilations {dilations}")
    return strides, dilations, out


def _tap(input, di, dj, strides, dilations, out):
    """``input[b, s_h * i + r_h * di, s_w * j + r_w * dj, :]`` for every (b, i, j)."""
    (sh, sw), (rh, rw), (h_out, w_out) = strides, dilations, out
    return input[:, rh * di: rh * di + sh * (h_out - 1) + 1: sh,
                 rw * dj: rw * dj + sw * (w_out - 1) + 1: sw]  # (N, H_out, W_out, C_in)


def tf_depthwise_conv2d(input, filter, strides=1, dilations=1):
    """TensorFlow's documented depthwise convolution, in NumPy (NHWC, 'VALID' padding).

    ``tf.nn.depthwise_conv2d`` is documented, for the default NHWC format, as::

        output[b, i, j, k * channel_multiplier + q] =
            sum_{di, dj} filter[di, dj, k, q] *
                         input[b, strides[1] * i + dilations[0] * di,
                                  strides[2] * j + dilations[1] * dj, k]

    This function computes exactly that sum, one ``(di, dj)`` tap at a time, with no
    padding; it shares no code with gconv_lib's convolutions, so it is an independent
    reference for :func:`keras_depthwise_to_torch`.

    Parameters
    ----------
    input : ndarray of shape (N, H, W, C)
    filter : ndarray of shape (kH, kW, C, M)
        ``M`` is ``channel_multiplier`` (Keras: ``depth_multiplier``).
    strides, dilations : int or (int, int)
        ``(s_h, s_w)`` and ``(r_h, r_w)``, TensorFlow's ``strides[1:3]`` and ``dilations``.
        (TensorFlow itself refuses strides > 1 together with dilations > 1; the formula
        does not need that rule.)

    Returns
    -------
    ndarray of shape (N, H_out, W_out, C * M)
        ``H_out = (H - r_h * (kH - 1) - 1) // s_h + 1``, and ``W_out`` alike.

    Examples
    --------
    TensorFlow's own example (its documentation prints the same numbers):

    >>> x = np.array([[1., 2.], [3., 4.], [5., 6.]]).reshape((1, 3, 2, 1))
    >>> kernel = np.array([[1., 2.], [3., 4.]]).reshape((2, 1, 1, 2))
    >>> tf_depthwise_conv2d(x, kernel)
    array([[[[10., 14.],
             [14., 20.]],
    <BLANKLINE>
            [[18., 26.],
             [22., 32.]]]])
    """
    input = _four_axes(input, "input", "(N, H, W, C)", "an NHWC input")
    filter = _four_axes(filter, "filter", "(kH, kW, C, channel_multiplier)", "a depthwise filter")
    n, c, (kh, kw, c_filter, m) = input.shape[0], input.shape[3], filter.shape
    if c != c_filter:
        raise ValueError(f"input channels (input.shape[3] = {c}) must equal the filter's in_channels "
                         f"(filter.shape[2] = {c_filter}) in a depthwise convolution")
    strides, dilations, out = _valid_output(input, filter.shape, strides, dilations, "tf_depthwise_conv2d")
    result = np.zeros((n, *out, c, m), dtype=np.result_type(input, filter))  # (N, H_out, W_out, C, M)
    for di in range(kh):
        for dj in range(kw):
            # (N, H_out, W_out, C, 1) * (C, M): input channel k times its M filters
            result += _tap(input, di, dj, strides, dilations, out)[..., None] * filter[di, dj]
    return result.reshape(n, *out, c * m)  # (N, H_out, W_out, C * M): channel k * M + q


def tf_conv2d(input, filters, strides=1, dilations=1):
    """TensorFlow's documented (grouped) convolution, in NumPy (NHWC, 'VALID' padding).

    ``tf.nn.conv2d`` is documented as::

        output[b, i, j, k] =
            sum_{di, dj, q} input[b, strides[1] * i + dilations[0] * di,
                                     strides[2] * j + dilations[1] * dj, q] * filters[di, dj, q, k]

    With ``groups = C_in // filters.shape[2]`` (TensorFlow infers it so; Keras's
    ``Conv2D(groups=g)`` builds such filters), ``q`` runs over the ``C_in // g`` input
    channels of output channel ``k``'s group, ``k // (C_out // g)``: input channel
    ``(k // (C_out // g)) * (C_in // g) + q``. This function computes that sum one tap at a
    time; it shares no code with gconv_lib's convolutions.

    Parameters
    ----------
    input : ndarray of shape (N, H, W, C_in)
    filters : ndarray of shape (kH, kW, C_in // groups, C_out)
    strides, dilations : int or (int, int)

    Returns
    -------
    ndarray of shape (N, H_out, W_out, C_out)

    Examples
    --------
    >>> x = np.ones((1, 3, 3, 4))
    >>> filters = np.ones((2, 2, 2, 6))     # 4 input channels, 2 per group: groups = 2
    >>> tf_conv2d(x, filters)[0, 0, 0]      # 2 x 2 taps x 2 channels of the group
    array([8., 8., 8., 8., 8., 8.])
    """
    input = _four_axes(input, "input", "(N, H, W, C_in)", "an NHWC input")
    filters = _four_axes(filters, "filters", "(kH, kW, C_in // groups, C_out)", "a Conv2D kernel")
    (n, c_in), (kh, kw, cin_g, c_out) = input.shape[::3], filters.shape
    if c_in % cin_g:
        raise ValueError(f"input channels (input.shape[3] = {c_in}) must be a multiple of the filters' "
                         f"in_channels (filters.shape[2] = {cin_g}), their ratio being groups")
    groups = c_in // cin_g
    if c_out % groups:
        raise ValueError(f"groups ({groups} = {c_in} input channels // {cin_g} per group) must divide "
                         f"out_channels (filters.shape[3] = {c_out})")
    strides, dilations, out = _valid_output(input, filters.shape, strides, dilations, "tf_conv2d")
    per_group = filters.reshape(kh, kw, cin_g, groups, c_out // groups)  # (kH, kW, C_in/g, G, C_out/g)
    result = np.zeros((n, *out, groups, c_out // groups), dtype=np.result_type(input, filters))
    for di in range(kh):
        for dj in range(kw):
            tap = _tap(input, di, dj, strides, dilations, out).reshape(n, *out, groups, cin_g)
            # (N, H_out, W_out, G, C_in/g) x (C_in/g, G, C_out/g) -> (N, H_out, W_out, G, C_out/g)
            result += np.einsum("nhwgq,qgk->nhwgk", tap, per_group[di, dj])
    return result.reshape(n, *out, c_out)  # (N, H_out, W_out, C_out): group-major, as in TF


def matches_tf(kernel, weight, groups=1, depthwise=False, input_size=(7, 6), batch=2, strides=1,
               dilations=1, seed=0):
    """Does a PyTorch weight compute what a Keras/TensorFlow kernel computes?

    Runs TensorFlow's formula (:func:`tf_depthwise_conv2d` or :func:`tf_conv2d`) with
    ``kernel`` on a random NHWC input, and :func:`gconv_lib.conv2d` with ``weight`` on the
    same input in NCHW, and compares them (float64, ``np.allclose``). A right conversion
    gives True; a wrong order of the axes gives False as soon as the numbers it mixes up
    differ (random kernels with ``M > 1`` and ``kH != kW`` catch every mix-up).

    Parameters
    ----------
    kernel : ndarray of shape (kH, kW, C_in // groups, C_out), or (kH, kW, C, M) when ``depthwise``
        A Keras ``Conv2D(C_out, (kH, kW), groups=groups)`` kernel, or a
        ``DepthwiseConv2D(depth_multiplier=M)`` one.
    weight : ndarray
        The PyTorch weight to check.
    groups : int, default 1
        The ``Conv2D`` layer's groups, so ``C_in = kernel.shape[2] * groups``. Not given for
        a depthwise kernel, whose groups is ``C``.
    depthwise : bool, default False
        Whether ``kernel`` is a ``DepthwiseConv2D`` kernel.
    input_size : (int, int)
        ``(H, W)`` of the random input.
    batch : int
    strides, dilations : int or (int, int)
    seed : int
        Seed of the random input.

    Returns
    -------
    bool
        False too when ``weight`` does not have the PyTorch layer's shape,
        ``(C * M, 1, kH, kW)`` or ``(C_out, C_in // groups, kH, kW)``.

    Examples
    --------
    >>> kernel = np.random.default_rng(0).standard_normal((3, 3, 4, 2))  # C = 4, M = 2
    >>> matches_tf(kernel, keras_depthwise_to_torch(kernel), depthwise=True)
    True
    >>> wrong = kernel.transpose(3, 2, 0, 1).reshape(8, 1, 3, 3)          # (M, C) order
    >>> matches_tf(kernel, wrong, depthwise=True)
    False
    """
    kernel = _four_axes(kernel, "kernel", "(kH, kW, C_in // groups, C_out)", "a kernel")
    weight = np.asarray(weight)
    kh, kw, c, m = kernel.shape
    if depthwise:
        if groups != 1:
            raise ValueError(f"a depthwise kernel (kH, kW, C, M) has groups = C = {c}: give groups "
                             f"for a Conv2D kernel only, but got groups={groups}")
        c_in, groups, layer = c, c, (c * m, 1, kh, kw)
    else:
        _require_int(groups, "groups")
        if groups < 1:
            raise ValueError(f"groups must be a positive integer, but got groups={groups}")
        c_in, layer = c * groups, (m, c, kh, kw)  # (C_out, C_in // groups, kH, kW)
    if weight.shape != layer:
        return False
    h, w = _pair(input_size, "input_size", "matches_tf")
    x = np.random.default_rng(seed).standard_normal((batch, h, w, c_in))  # (N, H, W, C_in)
    oracle = tf_depthwise_conv2d if depthwise else tf_conv2d
    expected = oracle(x, kernel, strides, dilations)  # (N, H_out, W_out, C_out)
    ours = conv2d(x.transpose(0, 3, 1, 2), weight.astype(np.float64), stride=strides, dilation=dilations,
                  groups=groups)  # (N, C_out, H_out, W_out)
    return bool(np.allclose(ours.transpose(0, 2, 3, 1), expected, rtol=1e-10, atol=1e-10))
