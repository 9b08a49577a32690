"""Argument checking for every convolution in gconv_lib, in one place.

Each rule PyTorch enforces for ``torch.nn.functional.conv{1,2,3}d`` is checked here
before any arithmetic, and a broken rule raises ``ValueError`` (or ``TypeError`` for a
wrong type) whose message states the rule and the values, for example::

    ValueError: groups (3) must divide in_channels (8)

Every strategy module calls :func:`check_conv_args` first and then works only with the
normalised :class:`ConvArgs` it returns, so the strategies never see bad input.

Arrays may be float16, float32 or float64. A float16 call computes in float32 (the
arrays in :class:`ConvArgs` are float32) and rounds the result back to float16 once, in
:meth:`ConvArgs.finish`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from numbers import Integral

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
#: The dtype the arithmetic runs in, per array dtype: float16 is computed in float32.
COMPUTE_DTYPES = {np.dtype(np.float16): np.dtype(np.float32), np.dtype(np.float32): np.dtype(np.float32),
                  np.dtype(np.float64): np.dtype(np.float64)}
DIM_NAMES = {1: "1d", 2: "2d", 3: "3d"}


def ieee_quietly(fn):
    """Run ``fn`` with NumPy's floating-point warnings off: infinite and NaN values are valid input.

    ``inf * 0``, ``inf - inf`` and overflow give their IEEE results (NaN, inf), as in torch,
    without a ``RuntimeWarning`` from whichever NumPy operation met them first. Applied to
    every function of gconv_lib that computes (a worker thread included: the setting is
    per thread).
    """
    @functools.wraps(fn)
    def quietly(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return quietly


@dataclass(frozen=True)
class ConvArgs:
    """Checked and normalised arguments of one convolution call.

    Attributes
    ----------
    input : ndarray of shape (N, C_in, *spatial)
        Always batched (an unbatched input gets a batch axis of 1), in the compute dtype.
    weight : ndarray of shape (C_out, C_in // groups, *kernel)
    bias : ndarray of shape (C_out,) or None
    stride, dilation : tuple of int, one per spatial dimension
    padding : tuple of (before, after) pairs, one per spatial dimension
    groups : int
    out_spatial : tuple of int
        The output size per spatial dimension.
    unbatched : bool
        True when the caller passed an input without a batch axis; the result
        must then drop its batch axis again.
    dtype : numpy.dtype
        The caller's dtype, which the result gets; the arrays above hold
        ``COMPUTE_DTYPES[dtype]`` (float32 for float16).
    """

    input: np.ndarray
    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int
    out_spatial: tuple[int, ...]
    unbatched: bool
    dtype: np.dtype

    @property
    def nd(self) -> int:
        """Number of spatial dimensions (2 for conv2d)."""
        return len(self.stride)

    @property
    def in_channels(self) -> int:
        return self.input.shape[1]

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    @property
    def kernel(self) -> tuple[int, ...]:
        return self.weight.shape[2:]

    def padded_input(self) -> np.ndarray:
        """The input with its zero padding applied, of shape ``(N, C_in, *padded_spatial)``."""
        if not any(before or after for before, after in self.padding):
            return self.input
        return np.pad(self.input, ((0, 0), (0, 0), *self.padding))

    @ieee_quietly
    def finish(self, out: np.ndarray) -> np.ndarray:
        """Add the bias, round to the caller's dtype, drop the batch axis for unbatched input."""
        if self.bias is not None:
            out += self.bias.reshape((-1,) + (1,) * self.nd)
        out = out.astype(self.dtype, copy=False)
        return out[0] if self.unbatched else out


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution along one spatial dimension.

    Parameters
    ----------
    size : int
        Input length (H or W).
    kernel_size, stride, dilation : int
    padding : int or (int, int)
        Zeros added on each side, or (before, after).

    Returns
    -------
    int
        ``floor((size + before + after - dilation * (kernel_size - 1) - 1) / stride) + 1``

    Examples
    --------
    >>> conv_output_size(32, 3, padding=1)
    32
    >>> conv_output_size(32, 3, stride=2, padding=1)
    16
    >>> conv_output_size(7, 3, dilation=2)
    3
    """
    before, after = (padding, padding) if isinstance(padding, Integral) else padding
    span = dilation * (kernel_size - 1) + 1
    return (size + before + after - span) // stride + 1


def _is_int(v) -> bool:
    """An int or a NumPy integer, not a bool."""
    return type(v) is int or (isinstance(v, Integral) and not isinstance(v, bool))  # int first: fast


def _require_int(value, name: str, where: str = "") -> None:
    """TypeError (prefixed by ``where``) unless ``value`` is an int; see :func:`_is_int`."""
    if not _is_int(value):
        raise TypeError(f"{where}{name} must be an int, but got {type(value).__name__} ({value!r})")


def _as_tuple(value, nd: int, name: str, fn: str) -> tuple[int, ...]:
    """Turn an int or a sequence of 1 or ``nd`` ints into a tuple of ``nd`` ints.

    A sequence of one int stands for every dimension, as in PyTorch (``stride=[2]``).
    """
    if _is_int(value):
        return (int(value),) * nd
    if isinstance(value, (tuple, list)):
        if not all(_is_int(v) for v in value):
            raise TypeError(f"{name} must be an int or a sequence of ints, but got {name}={value!r}")
        if len(value) not in (1, nd):
            raise ValueError(
                f"{name} must be an int or a sequence of {nd} ints for {fn}, "
                f"but got {name}={value!r}"
            )
        return tuple(int(v) for v in value) * (nd // len(value))
    raise TypeError(
        f"{name} must be an int or a sequence of {nd} ints, "
        f"but got {type(value).__name__} ({value!r})"
    )


def _check_arg_types(groups, **int_or_ints):
    """Raise TypeError for an argument of the wrong type, before any value is checked.

    PyTorch parses the argument types first, so a wrong type is a TypeError even when a
    value elsewhere is also wrong. A string ``padding`` is left to :func:`check_padding`.
    """
    _require_int(groups, "groups")
    for name, value in int_or_ints.items():
        if name == "padding" and isinstance(value, str):
            continue
        if not (_is_int(value) or isinstance(value, (tuple, list)) and all(_is_int(v) for v in value)):
            also = ", 'valid' or 'same'" if name == "padding" else ""
            raise TypeError(
                f"{name} must be an int or a sequence of ints{also}, "
                f"but got {type(value).__name__} ({value!r})"
            )


def _as_array(x, name: str) -> np.ndarray:
    """``x`` as a float16/32/64 NumPy array (a torch tensor is copied to one), else TypeError."""
    if not isinstance(x, np.ndarray):
        if not (hasattr(x, "detach") and hasattr(x, "numpy")):
            raise TypeError(f"{name} must be a NumPy array, but got {type(x).__name__}")
        try:  # a torch tensor
            x = x.detach().cpu().numpy()
        except TypeError as e:  # bfloat16, float8, ...: dtypes NumPy does not have
            raise TypeError(
                f"{name} is a torch tensor of dtype {x.dtype}, which NumPy has no dtype for; "
                f"gconv_lib takes float16, float32 or float64: convert it first, e.g. {name}.float()"
            ) from e
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must have dtype float16, float32 or float64, but has dtype {x.dtype}")
    return x


def _shape(shape) -> str:
    """A shape as Python prints a tuple: ``(3,)``, ``(2, 3)``."""
    return str(tuple(int(s) for s in shape))


def check_padding(padding, weight_spatial, stride, dilation, nd, fn):
    """Turn ``padding`` (int, tuple, 'valid' or 'same') into (before, after) pairs.

    ``'same'`` follows PyTorch: the total padding per dimension is
    ``dilation * (kernel - 1)``; when it is odd, the extra row/column goes at the end.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"padding='same' needs stride 1 in every dimension, but got stride={stride}"
                )
            pairs = []
            for k, d in zip(weight_spatial, dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(f"padding must be an int, a tuple, 'valid' or 'same', but got {padding!r}")
    pads = _as_tuple(padding, nd, "padding", fn)
    if any(p < 0 for p in pads):
        raise ValueError(f"padding must be non-negative, but got padding={pads}")
    return tuple((p, p) for p in pads)


def _check_arrays(input, weight, bias, nd, fn, weight_layout):
    """Types, dimensions and dtypes of the arrays.

    Returns (batched input, weight, bias, unbatched, dtype): the arrays in the compute dtype
    (float32 for float16, see :data:`COMPUTE_DTYPES`) and the callers' dtype.
    """
    input = _as_array(input, "input")
    weight = _as_array(weight, "weight")
    if bias is not None:
        bias = _as_array(bias, "bias")

    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{fn} expects input of {nd + 1} dimensions (C_in, {'spatial' if nd == 1 else '*spatial'}) "
            f"or {nd + 2} dimensions (N, C_in, ...), but got input of shape {_shape(input.shape)}"
        )
    if weight.ndim != nd + 2:
        raise ValueError(
            f"{fn} expects weight of {nd + 2} dimensions {weight_layout}, "
            f"but got weight of shape {_shape(weight.shape)}"
        )
    unbatched = input.ndim == nd + 1
    if unbatched:
        input = input[None]
    if weight.dtype != input.dtype:
        raise TypeError(f"input dtype ({input.dtype}) and weight dtype ({weight.dtype}) must be the same")
    if bias is not None and bias.dtype != input.dtype:
        raise TypeError(f"input dtype ({input.dtype}) and bias dtype ({bias.dtype}) must be the same")
    dtype = input.dtype
    input, weight, bias = (None if arr is None else arr.astype(COMPUTE_DTYPES[dtype], copy=False)
                           for arr in (input, weight, bias))
    return input, weight, bias, unbatched, dtype


def _check_groups_stride_dilation(groups, stride, dilation, nd, fn):
    """``groups`` a positive int, ``stride`` and ``dilation`` tuples of ``nd`` positive ints.

    The types were checked first, by :func:`_check_arg_types`.
    """
    groups = int(groups)
    stride = _as_tuple(stride, nd, "stride", fn)
    dilation = _as_tuple(dilation, nd, "dilation", fn)
    if groups < 1:
        raise ValueError(f"groups must be a positive integer, but got groups={groups}")
    if any(s < 1 for s in stride):
        raise ValueError(f"stride must be positive, but got stride={stride}")
    if any(d < 1 for d in dilation):
        raise ValueError(f"dilation must be positive, but got dilation={dilation}")
    return groups, stride, dilation


def check_conv_args(
    input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, nd=2
) -> ConvArgs:
    """Check the arguments of an ``nd``-dimensional convolution the way PyTorch does.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, *spatial) or (C_in, *spatial)
    weight : ndarray of shape (C_out, C_in // groups, *kernel)
    bias : ndarray of shape (C_out,) or None
    stride, dilation : int or tuple of ``nd`` ints
    padding : int, tuple of ``nd`` ints, 'valid' or 'same'
    groups : int
    nd : {1, 2, 3}
        Number of spatial dimensions.

    Returns
    -------
    ConvArgs

    Raises
    ------
    TypeError
        For arrays that are not float16/float32/float64 NumPy arrays (or torch tensors),
        or non-integer arguments.
    ValueError
        For every configuration PyTorch rejects, with the rule and the values.

    Examples
    --------
    >>> x = np.zeros((1, 8, 5, 5)); w = np.zeros((4, 3, 5, 5))
    >>> check_conv_args(x, w, groups=3)
    Traceback (most recent call last):
    ...
    ValueError: groups (3) must divide in_channels (8)
    """
    fn = "conv" + DIM_NAMES.get(nd, f"{nd}d")
    _check_arg_types(groups, stride=stride, padding=padding, dilation=dilation)
    input, weight, bias, unbatched, dtype = _check_arrays(input, weight, bias, nd, fn,
                                                          "(C_out, C_in // groups, *kernel)")
    groups, stride, dilation = _check_groups_stride_dilation(groups, stride, dilation, nd, fn)

    c_in = input.shape[1]
    c_out, c_per_group = weight.shape[:2]
    kernel = weight.shape[2:]
    if c_in < 1:
        given = input.shape[1:] if unbatched else input.shape
        raise ValueError(f"in_channels must be at least 1, but input has shape {_shape(given)}")
    if c_out < 1:
        raise ValueError(f"out_channels must be at least 1, but weight has shape {_shape(weight.shape)}")
    if any(k < 1 for k in kernel):
        raise ValueError(f"kernel size must be positive, but weight has shape {_shape(weight.shape)}")
    if c_in % groups:
        raise ValueError(f"groups ({groups}) must divide in_channels ({c_in})")
    if c_out % groups:
        raise ValueError(
            f"groups ({groups}) must divide out_channels ({c_out}, weight.shape[0])"
        )
    if c_per_group * groups != c_in:
        raise ValueError(
            f"weight.shape[1] must be in_channels // groups = {c_in} // {groups} = "
            f"{c_in // groups}, but weight has shape {_shape(weight.shape)}"
        )
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(
            f"bias must have shape (out_channels,) = ({c_out},), "
            f"but got bias of shape {_shape(bias.shape)}"
        )

    padding = check_padding(padding, kernel, stride, dilation, nd, fn)
    out_spatial = []
    for axis, (size, k, s, (before, after), d) in enumerate(
        zip(input.shape[2:], kernel, stride, padding, dilation)
    ):
        padded, span = size + before + after, d * (k - 1) + 1
        if padded < span:
            raise ValueError(
                f"the padded input ({padded} = {size} + {before} + {after} along spatial axis {axis}) "
                f"must be at least the dilated kernel size ({span} = {d} * ({k} - 1) + 1); "
                f"the output would be empty"
            )
        out_spatial.append(conv_output_size(size, k, s, (before, after), d))
    if input.shape[0] > 0 and 0 in input.shape[2:]:
        given = input.shape[1:] if unbatched else input.shape
        raise ValueError(f"input spatial sizes must be positive unless the batch is empty, "
                         f"but got input of shape {_shape(given)}")

    return ConvArgs(
        input=input,
        weight=weight,
        bias=bias,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        out_spatial=tuple(out_spatial),
        unbatched=unbatched,
        dtype=dtype,
    )


# --- transposed convolution --------------------------------------------------------------


def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Output length of a transposed convolution along one spatial dimension.

    A transposed convolution maps a length back to the lengths a convolution with the
    same ``kernel_size, stride, padding, dilation`` would shrink to ``size``; when the
    stride makes several lengths possible, ``output_padding`` picks the larger ones.

    Parameters
    ----------
    size : int
        Input length (H or W).
    kernel_size, stride, padding, output_padding, dilation : int

    Returns
    -------
    int
        ``(size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1``

    Examples
    --------
    >>> conv_transpose_output_size(16, 3, stride=2, padding=1)
    31
    >>> conv_transpose_output_size(16, 3, stride=2, padding=1, output_padding=1)
    32
    >>> conv_output_size(32, 3, stride=2, padding=1)   # both 31 and 32 shrink to 16
    16
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


@dataclass(frozen=True)
class ConvTransposeArgs:
    """Checked and normalised arguments of one transposed convolution call.

    Attributes
    ----------
    input : ndarray of shape (N, C_in, *spatial)
        Always batched (an unbatched input gets a batch axis of 1).
    weight : ndarray of shape (C_in, C_out // groups, *kernel)
        Note the order: a transposed convolution's weight is the weight of the
        convolution it transposes, whose input channels are our output channels.
    bias : ndarray of shape (C_out,) or None
    stride, padding, output_padding, dilation : tuple of int, one per spatial dimension
    groups : int
    out_spatial : tuple of int
        The output size per spatial dimension.
    unbatched : bool
        True when the caller passed an input without a batch axis.
    dtype : numpy.dtype
        The caller's dtype, as in :class:`ConvArgs`.
    """

    input: np.ndarray
    weight: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    out_spatial: tuple[int, ...]
    unbatched: bool
    dtype: np.dtype

    @property
    def nd(self) -> int:
        """Number of spatial dimensions (2 for conv_transpose2d)."""
        return len(self.stride)

    @property
    def in_channels(self) -> int:
        return self.weight.shape[0]

    @property
    def out_channels(self) -> int:
        return self.weight.shape[1] * self.groups

    @property
    def kernel(self) -> tuple[int, ...]:
        return self.weight.shape[2:]


def _check_non_negative(name, values):
    if any(v < 0 for v in values):
        raise ValueError(f"{name} must be non-negative, but got {name}={values}")


def check_conv_transpose_args(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, nd=2
) -> ConvTransposeArgs:
    """Check the arguments of an ``nd``-dimensional transposed convolution the way PyTorch does.

    The rules of ``torch.nn.functional.conv_transpose{1,2,3}d``, each broken one raising
    an error that states the rule and the values.

    Parameters
    ----------
    input : ndarray of shape (N, C_in, *spatial) or (C_in, *spatial)
    weight : ndarray of shape (C_in, C_out // groups, *kernel)
    bias : ndarray of shape (C_out,) or None
    stride, dilation : int or tuple of ``nd`` ints, positive
    padding, output_padding : int or tuple of ``nd`` ints, non-negative
        PyTorch accepts no ``'same'``/``'valid'`` here. ``output_padding`` must be
        smaller than ``stride`` or than ``dilation`` in every dimension.
    groups : int
        Must divide ``C_in = weight.shape[0]``; then ``C_out = weight.shape[1] * groups``.
    nd : {1, 2, 3}

    Returns
    -------
    ConvTransposeArgs

    Raises
    ------
    TypeError
        For arrays that are not float16/float32/float64 NumPy arrays, mixed dtypes, a
        string padding, or non-integer arguments.
    ValueError
        For every configuration PyTorch rejects, with the rule and the values.

    Examples
    --------
    >>> x = np.zeros((1, 4, 3, 3)); w = np.zeros((4, 2, 3, 3))
    >>> check_conv_transpose_args(x, w, stride=2, output_padding=1).out_spatial
    (8, 8)
    >>> check_conv_transpose_args(x, w, output_padding=1)
    Traceback (most recent call last):
    ...
    ValueError: output_padding must be smaller than stride or dilation in every dimension, \
but along spatial axis 0 output_padding=1, stride=1, dilation=1
    """
    fn = "conv_transpose" + DIM_NAMES.get(nd, f"{nd}d")
    if isinstance(padding, str):
        raise TypeError(f"{fn} takes padding as an int or a tuple of {nd} ints, not {padding!r}")
    _check_arg_types(groups, stride=stride, padding=padding, output_padding=output_padding,
                     dilation=dilation)
    input, weight, bias, unbatched, dtype = _check_arrays(input, weight, bias, nd, fn,
                                                          "(C_in, C_out // groups, *kernel)")
    groups, stride, dilation = _check_groups_stride_dilation(groups, stride, dilation, nd, fn)
    padding = _as_tuple(padding, nd, "padding", fn)
    output_padding = _as_tuple(output_padding, nd, "output_padding", fn)
    _check_non_negative("padding", padding)
    _check_non_negative("output_padding", output_padding)
    for axis, (op, s, d) in enumerate(zip(output_padding, stride, dilation)):
        if op >= s and op >= d:
            raise ValueError(
                f"output_padding must be smaller than stride or dilation in every dimension, "
                f"but along spatial axis {axis} output_padding={op}, stride={s}, dilation={d}"
            )

    c_in, (w_in, out_per_group), kernel = input.shape[1], weight.shape[:2], weight.shape[2:]
    if w_in < 1 or out_per_group < 1 or any(k < 1 for k in kernel):
        raise ValueError(
            f"weight (C_in, C_out // groups, *kernel) must have no empty dimension, "
            f"but got weight of shape {_shape(weight.shape)}"
        )
    if w_in % groups:
        raise ValueError(f"groups ({groups}) must divide in_channels ({w_in}, weight.shape[0])")
    if c_in != w_in:
        raise ValueError(
            f"input channels ({c_in}, input.shape[{0 if unbatched else 1}]) must equal weight.shape[0] "
            f"({w_in}): {fn} takes weight of shape (C_in, C_out // groups, *kernel)"
        )
    c_out = out_per_group * groups
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(
            f"bias must have shape (out_channels,) = ({c_out},), out_channels being "
            f"weight.shape[1] * groups = {out_per_group} * {groups}, but got bias of shape "
            f"{_shape(bias.shape)}"
        )
    if any(size < 1 for size in input.shape[2:]):
        raise ValueError(
            f"input spatial sizes must be positive, but got input of shape "
            f"{_shape(input.shape[1:] if unbatched else input.shape)}"
        )

    out_spatial = []
    for axis, (size, k, s, p, op, d) in enumerate(
        zip(input.shape[2:], kernel, stride, padding, output_padding, dilation)
    ):
        out = conv_transpose_output_size(size, k, s, p, op, d)
        if out < 1:
            raise ValueError(
                f"the output would be empty: along spatial axis {axis} its size is "
                f"({size} - 1) * {s} - 2 * {p} + {d} * ({k} - 1) + {op} + 1 = {out}"
            )
        out_spatial.append(out)

    return ConvTransposeArgs(
        input=input,
        weight=weight,
        bias=bias,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
        out_spatial=tuple(out_spatial),
        unbatched=unbatched,
        dtype=dtype,
    )


def check_grad_output(grad_output, a: ConvArgs) -> np.ndarray:
    """Check the gradient flowing into a convolution's output against that convolution.

    Parameters
    ----------
    grad_output : ndarray of shape (N, C_out, *out_spatial)
        Or of shape ``(C_out, *out_spatial)`` when the convolution's input was unbatched.
    a : ConvArgs
        The checked forward arguments (:func:`check_conv_args`).

    Returns
    -------
    ndarray of shape (N, C_out, *out_spatial)
        Always batched, and in the compute dtype, like ``a.input``.

    Examples
    --------
    >>> a = check_conv_args(np.zeros((1, 2, 5, 5)), np.zeros((4, 2, 3, 3)))
    >>> check_grad_output(np.zeros((1, 4, 5, 5)), a)
    Traceback (most recent call last):
    ...
    ValueError: grad_output must have the shape of the convolution's output, (1, 4, 3, 3), \
but got grad_output of shape (1, 4, 5, 5)
    """
    grad_output = _as_array(grad_output, "grad_output")
    if grad_output.dtype != a.dtype:
        raise TypeError(
            f"input dtype ({a.dtype}) and grad_output dtype ({grad_output.dtype}) must be the same"
        )
    expected = (a.input.shape[0], a.out_channels, *a.out_spatial)[1 if a.unbatched else 0 :]
    if grad_output.shape != expected:
        raise ValueError(
            f"grad_output must have the shape of the convolution's output, {_shape(expected)}, "
            f"but got grad_output of shape {_shape(grad_output.shape)}"
        )
    grad_output = grad_output.astype(COMPUTE_DTYPES[a.dtype], copy=False)
    return grad_output[None] if a.unbatched else grad_output


# --- the layer's padding modes, depthwise, thread settings --------------------------------

#: ``torch.nn.Conv2d``'s padding modes, and the ``numpy.pad`` mode that computes each.
PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def check_padding_mode(padding_mode, pairs=None, spatial=None) -> str:
    """Check a ``padding_mode`` by torch's rules; with the padding and the input, check those too.

    Parameters
    ----------
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
    pairs : sequence of (before, after), optional
        The padding per spatial axis, as :func:`check_padding` returns it.
    spatial : tuple of int, optional
        The input's spatial sizes.

    Returns
    -------
    str
        The ``numpy.pad`` mode that pads as ``padding_mode`` does (:data:`PADDING_MODES`).

    Raises
    ------
    ValueError
        For an unknown mode, or padding the mode cannot make from this input:
        ``'reflect'`` needs each padding smaller than the input size, ``'circular'`` at
        most the input size (it wraps around once), and both it and ``'replicate'`` need
        a non-empty input.

    Examples
    --------
    >>> check_padding_mode("circular", ((1, 1), (2, 2)), (5, 5))
    'wrap'
    >>> check_padding_mode("reflect", ((1, 1), (3, 3)), (5, 3))
    Traceback (most recent call last):
    ...
    ValueError: padding_mode='reflect' needs padding smaller than the input size, but along \
spatial axis 1 the padding is (3, 3) and the input size 3
    """
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {', '.join(map(repr, PADDING_MODES))}, "
                         f"but got padding_mode={padding_mode!r}")
    if padding_mode == "zeros" or pairs is None:
        return PADDING_MODES[padding_mode]
    for axis, ((before, after), size) in enumerate(zip(pairs, spatial)):
        if size == 0:
            raise ValueError(f"padding_mode={padding_mode!r} needs a non-empty input, but along "
                             f"spatial axis {axis} the input size is 0")
        need = {"reflect": "smaller than", "circular": "at most"}.get(padding_mode)
        if (padding_mode == "reflect" and max(before, after) >= size
                or padding_mode == "circular" and max(before, after) > size):
            raise ValueError(f"padding_mode={padding_mode!r} needs padding {need} the input size, "
                             f"but along spatial axis {axis} the padding is {(before, after)} and "
                             f"the input size {size}")
    return PADDING_MODES[padding_mode]


def check_depthwise_groups(input, weight, groups) -> int:
    """The ``groups`` of a depthwise convolution, ``C_in``, after checking what only it requires.

    ``input`` and ``weight`` as for ``conv2d``; ``groups`` is None or must equal ``C_in``
    (an int: ``3.0`` is a TypeError, as everywhere). The rest is left to
    :func:`check_conv_args`.

    Examples
    --------
    >>> check_depthwise_groups(np.zeros((1, 3, 5, 5)), np.zeros((6, 1, 3, 3)), None)
    3
    >>> check_depthwise_groups(np.zeros((1, 3, 5, 5)), np.zeros((6, 1, 3, 3)), 3.0)
    Traceback (most recent call last):
    ...
    TypeError: groups must be an int, but got float (3.0)
    """
    input, weight = _as_array(input, "input"), _as_array(weight, "weight")
    if input.ndim not in (3, 4):
        raise ValueError(f"depthwise_conv2d expects input of shape (N, C_in, H, W) or (C_in, H, W), "
                         f"but got shape {_shape(input.shape)}")
    c_in = input.shape[-3]
    if c_in < 1:
        raise ValueError(f"in_channels must be at least 1, but input has shape {_shape(input.shape)}")
    if weight.ndim == 4 and weight.shape[1] != 1:
        raise ValueError(f"a depthwise weight has shape (K * C_in, 1, kH, kW), "
                         f"but got weight of shape {_shape(weight.shape)}")
    if groups is not None:
        _require_int(groups, "groups")
        if groups != c_in:
            raise ValueError(f"depthwise_conv2d always uses groups = in_channels ({c_in}), "
                             f"but got groups={groups!r}")
    return c_in


#: The environment variable that sets gconv_lib's number of threads at import.
NUM_THREADS_VARIABLE = "GCONV_NUM_THREADS"


def check_num_threads(n) -> int:
    """A number of threads: an int (TypeError otherwise) of at least 1 (ValueError otherwise).

    Examples
    --------
    >>> check_num_threads(2)
    2
    >>> check_num_threads(2.0)
    Traceback (most recent call last):
    ...
    TypeError: the number of threads must be an int, but got float (2.0)
    """
    _require_int(n, "the number of threads")
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, but got {n}")
    return int(n)


def num_threads_from_environment(environ) -> int | None:
    """The number of threads :data:`NUM_THREADS_VARIABLE` asks for, or None when it is unset or empty.

    Examples
    --------
    >>> num_threads_from_environment({"GCONV_NUM_THREADS": "4"})
    4
    >>> num_threads_from_environment({"GCONV_NUM_THREADS": "abc"})
    Traceback (most recent call last):
    ...
    ValueError: the environment variable GCONV_NUM_THREADS must be a positive integer (the number \
of threads gconv_lib uses), but it is 'abc'
    """
    value = environ.get(NUM_THREADS_VARIABLE, "")
    if not value.strip():
        return None
    if not re.fullmatch(r"\s*[0-9]+\s*", value) or int(value) < 1:  # "4", not "4.0", "-1", "0", "1e3"
        raise ValueError(f"the environment variable {NUM_THREADS_VARIABLE} must be a positive integer "
                         f"(the number of threads gconv_lib uses), but it is {value!r}")
    return int(value)
