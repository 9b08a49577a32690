"""Gradients of a grouped convolution, computed with gconv_lib's own convolutions.

For ``out = conv2d(x, w, b, stride, padding, dilation, groups)`` and the gradient ``dy``
of some loss with respect to ``out``:

* ``grad_bias[o]`` sums ``dy[:, o]`` over the batch and every position;
* ``grad_input`` is a **grouped transposed convolution** of ``dy`` with the same weight
  (:func:`gconv_lib.transpose.conv_transpose_nd`): each input value collects every tap
  that read it. The group structure is kept, transposed: input channel ``c`` receives
  gradient only from the output channels of its own group, the ones that read it;
* ``grad_weight`` (:mod:`gconv_lib.weight_grad`) is a **grouped correlation** of the
  input with ``dy``: the tap ``w[o, c, a, b]`` met ``x[n, c, i*sH + a*dH, j*sW + b*dW]`` at every output
  position ``(n, i, j)``, so its gradient is the sum of those inputs weighted by
  ``dy[n, o, i, j]``: a convolution in which ``dy`` plays the kernel, with the roles of
  stride and dilation swapped. Only pairs ``(o, c)`` inside one group exist, so it is a
  grouped convolution as well. It is computed as one long matrix product per group (the
  sum over every image and position), by tiles, not as a convolution with ``H_out x W_out``
  taps, which would spend its time in Python, one small copy per tap.

Padding is handled on the padded input: the gradient of the padded input is computed
and its border cut off, so symmetric, asymmetric (``'same'`` with an even kernel) and
no padding are one case. Rows and columns at the end that the stride never reaches
(``(H + padding - dH * (kH - 1) - 1) % sH`` of them) get zero gradient: that is the
``output_padding`` of the transposed convolution.

Infinite and NaN values go where torch sends them: ``grad_input`` never multiplies a
padding zero or a position the stride skipped (the transposed convolution scatters its
products), and ``grad_weight`` multiplies the padding zeros as torch's float64 kernels do
(see the table of deliberate differences in :mod:`gconv_lib.torch_check`).
"""

from __future__ import annotations

import numpy as np

from .transpose import conv_transpose_nd, pad_or_crop
from .validate import (
    ConvArgs,
    check_conv_args,
    check_conv_transpose_args,
    check_grad_output,
    ieee_quietly,
)
from .weight_grad import grad_weight_nd


def unused_tail(a: ConvArgs) -> tuple[int, ...]:
    """Per spatial axis, how many rows at the end of the padded input no output reads.

    ``(padded size - dilated kernel span) % stride``: always smaller than the stride.

    Examples
    --------
    >>> a = check_conv_args(np.zeros((1, 1, 8, 7)), np.zeros((1, 1, 3, 3)), stride=2)
    >>> unused_tail(a)
    (1, 0)
    """
    return tuple(
        (size + before + after - d * (k - 1) - 1) % s
        for size, (before, after), k, s, d in zip(
            a.input.shape[2:], a.padding, a.kernel, a.stride, a.dilation
        )
    )


def grad_input_nd(a: ConvArgs, grad_out: np.ndarray) -> np.ndarray:
    """Gradient with respect to the (batched) input, by a grouped transposed convolution.

    Parameters
    ----------
    a : ConvArgs
        The checked forward arguments.
    grad_out : ndarray of shape (N, C_out, *out_spatial)

    Returns
    -------
    ndarray of shape (N, C_in, *spatial)
    """
    t = check_conv_transpose_args(grad_out, a.weight, None, a.stride, 0, unused_tail(a),
                                  a.groups, a.dilation, nd=a.nd)
    grad_padded = conv_transpose_nd(t)  # (N, C_in, *padded_spatial)
    return pad_or_crop(grad_padded, [(-before, -after) for before, after in a.padding])


@ieee_quietly
def conv2d_backward(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of :func:`gconv_lib.conv2d` with respect to input, weight and bias.

    Given ``out = conv2d(input, weight, bias, stride, padding, dilation, groups)`` and
    ``grad_output = dL/d out`` for some scalar loss ``L``, return what
    ``torch.autograd`` would put into ``input.grad``, ``weight.grad`` and ``bias.grad``.
    The bias does not change any gradient, so it is not an argument.

    Parameters
    ----------
    grad_output : ndarray of shape (N, C_out, H_out, W_out) or (C_out, H_out, W_out)
        Same shape as the forward output (unbatched when ``input`` is), same dtype as
        ``input``.
    input : ndarray of shape (N, C_in, H, W) or (C_in, H, W)
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
    stride, padding, dilation, groups
        As in :func:`gconv_lib.conv2d` (every padding form, ``'same'`` included).

    Returns
    -------
    grad_input : ndarray, the shape of ``input``
        A grouped transposed convolution of ``grad_output`` with ``weight``.
    grad_weight : ndarray of shape (C_out, C_in // groups, kH, kW)
        A grouped correlation of the padded input with ``grad_output``.
    grad_bias : ndarray of shape (C_out,)
        ``grad_output`` summed over the batch and every position.

    Raises
    ------
    ValueError
        For a bad forward configuration (as :func:`gconv_lib.conv2d`) or a
        ``grad_output`` whose shape is not the forward output's.
    TypeError
        For arrays that are not float16/float32/float64 or mixed dtypes (float16 is
        computed in float32 and each gradient rounded once).

    Examples
    --------
    With ``L = sum(out)``, each weight tap's gradient is the sum of the inputs it met,
    and each input's gradient counts the taps that read it.

    >>> x = np.ones((1, 4, 3, 3)); w = np.ones((2, 2, 2, 2))
    >>> gi, gw, gb = conv2d_backward(np.ones((1, 2, 2, 2)), x, w, groups=2)
    >>> gi[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw.shape, float(gw[0, 0, 0, 0]), gb
    ((2, 2, 2, 2), 4.0, array([4., 4.]))
    """
    a = check_conv_args(input, weight, None, stride, padding, dilation, groups, nd=2)
    grad_out = check_grad_output(grad_output, a)  # (N, C_out, H_out, W_out)
    grad_input = grad_input_nd(a, grad_out)  # (N, C_in, H, W)
    grad_weight = grad_weight_nd(a, grad_out)  # (C_out, C_in // groups, kH, kW)
    grad_bias = grad_out.sum(axis=(0, *range(2, grad_out.ndim)))  # (C_out,)
    grads = (grad_input[0] if a.unbatched else grad_input), grad_weight, grad_bias
    return tuple(grad.astype(a.dtype, copy=False) for grad in grads)  # float16 computed in float32
