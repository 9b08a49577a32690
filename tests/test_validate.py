"""Every error gconv_lib.validate raises, with its exact message, and that torch rejects it too.

Each row is one broken rule: the arrays and arguments, the error class, and the whole
message (the rule and the values). Where torch also rejects the call, the test checks that
it does: gconv_lib refuses what torch refuses, with a clearer message. The rows torch
accepts are gconv_lib's deliberate differences from torch (the table in
:mod:`gconv_lib.torch_check`: real float16/float32/float64 arrays only, at least one input
channel).
"""

import re
import warnings
from typing import NamedTuple

import numpy as np
import pytest

import gconv_lib as gl
from gconv_lib.validate import check_conv_args, check_conv_transpose_args, check_padding, conv_output_size

torch = pytest.importorskip("torch")


class Err(NamedTuple):
    """One broken rule: what to call conv2d with and what it must raise."""

    input: object
    weight: object
    bias: object
    kwargs: dict
    error: type
    message: str
    torch_rejects: bool = True


def z(*shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)


X, W = z(1, 8, 5, 5), z(4, 4, 3, 3)  # a valid pair: 8 -> 4 channels, groups=2

# id: Err(input, weight, bias, kwargs, error class, exact message[, torch_rejects])
ERRORS = {
    # types, checked before any value (torch parses the types first)
    "input is a list": Err(
        [[[[1.0]]]], W, None, {}, TypeError, "input must be a NumPy array, but got list"),
    "weight is None": Err(
        X, None, None, {}, TypeError, "weight must be a NumPy array, but got NoneType"),
    "bias is a float": Err(
        X, W, 1.0, dict(groups=2), TypeError, "bias must be a NumPy array, but got float"),
    "int arrays": Err(
        z(1, 8, 5, 5, dtype=np.int64), z(4, 4, 3, 3, dtype=np.int64), None, dict(groups=2), TypeError,
        "input must have dtype float16, float32 or float64, but has dtype int64", torch_rejects=False),
    "complex arrays": Err(
        z(1, 8, 5, 5, dtype=np.complex128), z(4, 4, 3, 3, dtype=np.complex128), None, dict(groups=2),
        TypeError, "input must have dtype float16, float32 or float64, but has dtype complex128",
        torch_rejects=False),
    "float16 weight, float64 input": Err(
        X, z(4, 4, 3, 3, dtype=np.float16), None, dict(groups=2), TypeError,
        "input dtype (float64) and weight dtype (float16) must be the same"),
    "bool bias": Err(
        X, W, z(4, dtype=bool), dict(groups=2), TypeError,
        "bias must have dtype float16, float32 or float64, but has dtype bool"),
    "mixed input/weight dtypes": Err(
        z(1, 8, 5, 5, dtype=np.float32), W, None, dict(groups=2), TypeError,
        "input dtype (float32) and weight dtype (float64) must be the same"),
    "mixed input/bias dtypes": Err(
        X, W, z(4, dtype=np.float32), dict(groups=2), TypeError,
        "input dtype (float64) and bias dtype (float32) must be the same"),
    "groups float": Err(
        X, W, None, dict(groups=2.0), TypeError, "groups must be an int, but got float (2.0)"),
    "groups bool": Err(
        X, W, None, dict(groups=True), TypeError, "groups must be an int, but got bool (True)"),
    "stride float": Err(
        X, W, None, dict(stride=1.5), TypeError,
        "stride must be an int or a sequence of ints, but got float (1.5)"),
    "dilation tuple of floats": Err(
        X, W, None, dict(dilation=(1.0, 1)), TypeError,
        "dilation must be an int or a sequence of ints, but got tuple ((1.0, 1))"),
    "padding None": Err(
        X, W, None, dict(padding=None), TypeError,
        "padding must be an int or a sequence of ints, 'valid' or 'same', but got NoneType (None)"),
    "padding float with another error": Err(
        X, W, None, dict(padding=1.0, stride=0), TypeError,
        "padding must be an int or a sequence of ints, 'valid' or 'same', but got float (1.0)"),
    # dimensions
    "2-d input": Err(
        z(5, 5), W, None, {}, ValueError,
        "conv2d expects input of 3 dimensions (C_in, *spatial) or 4 dimensions (N, C_in, ...), "
        "but got input of shape (5, 5)"),
    "5-d input": Err(
        z(1, 1, 8, 5, 5), W, None, {}, ValueError,
        "conv2d expects input of 3 dimensions (C_in, *spatial) or 4 dimensions (N, C_in, ...), "
        "but got input of shape (1, 1, 8, 5, 5)"),
    "3-d weight": Err(
        X, z(4, 8, 3), None, {}, ValueError,
        "conv2d expects weight of 4 dimensions (C_out, C_in // groups, *kernel), "
        "but got weight of shape (4, 8, 3)"),
    # argument values
    "groups 0": Err(
        X, W, None, dict(groups=0), ValueError, "groups must be a positive integer, but got groups=0"),
    "groups -2": Err(
        X, W, None, dict(groups=-2), ValueError, "groups must be a positive integer, but got groups=-2"),
    "stride 0": Err(
        X, W, None, dict(stride=0, groups=2), ValueError, "stride must be positive, but got stride=(0, 0)"),
    "stride (1, -1)": Err(
        X, W, None, dict(stride=(1, -1), groups=2), ValueError,
        "stride must be positive, but got stride=(1, -1)"),
    "dilation 0": Err(
        X, W, None, dict(dilation=0, groups=2), ValueError,
        "dilation must be positive, but got dilation=(0, 0)"),
    "stride of 3 values": Err(
        X, W, None, dict(stride=(1, 1, 1), groups=2), ValueError,
        "stride must be an int or a sequence of 2 ints for conv2d, but got stride=(1, 1, 1)"),
    "empty dilation": Err(
        X, W, None, dict(dilation=[], groups=2), ValueError,
        "dilation must be an int or a sequence of 2 ints for conv2d, but got dilation=[]"),
    "negative padding": Err(
        X, W, None, dict(padding=-1, groups=2), ValueError,
        "padding must be non-negative, but got padding=(-1, -1)"),
    "negative padding pair": Err(
        X, W, None, dict(padding=(0, -2), groups=2), ValueError,
        "padding must be non-negative, but got padding=(0, -2)"),
    "padding of 4 values": Err(
        X, W, None, dict(padding=(1, 1, 1, 1), groups=2), ValueError,
        "padding must be an int or a sequence of 2 ints for conv2d, but got padding=(1, 1, 1, 1)"),
    "unknown padding string": Err(
        X, W, None, dict(padding="full", groups=2), ValueError,
        "padding must be an int, a tuple, 'valid' or 'same', but got 'full'"),
    "padding strings are lower case": Err(
        X, W, None, dict(padding="SAME", groups=2), ValueError,
        "padding must be an int, a tuple, 'valid' or 'same', but got 'SAME'"),
    "'same' with stride 2": Err(
        X, W, None, dict(padding="same", stride=2, groups=2), ValueError,
        "padding='same' needs stride 1 in every dimension, but got stride=(2, 2)"),
    "'same' with stride (1, 2)": Err(
        X, W, None, dict(padding="same", stride=(1, 2), groups=2), ValueError,
        "padding='same' needs stride 1 in every dimension, but got stride=(1, 2)"),
    # shapes against each other
    "no input channels, unbatched": Err(
        z(0, 5, 5), z(4, 0, 3, 3), None, {}, ValueError,
        "in_channels must be at least 1, but input has shape (0, 5, 5)", torch_rejects=False),
    "no output channels": Err(
        X, z(0, 8, 3, 3), None, {}, ValueError,
        "out_channels must be at least 1, but weight has shape (0, 8, 3, 3)"),
    "empty kernel": Err(
        X, z(4, 8, 0, 3), None, {}, ValueError,
        "kernel size must be positive, but weight has shape (4, 8, 0, 3)"),
    "groups !| in_channels": Err(
        X, z(4, 3, 3, 3), None, dict(groups=3), ValueError, "groups (3) must divide in_channels (8)"),
    "groups !| out_channels": Err(
        X, z(6, 2, 3, 3), None, dict(groups=4), ValueError,
        "groups (4) must divide out_channels (6, weight.shape[0])"),
    "groups > channels": Err(
        X, z(4, 1, 3, 3), None, dict(groups=16), ValueError, "groups (16) must divide in_channels (8)"),
    "weight.shape[1] != in_channels // groups": Err(
        X, z(4, 8, 3, 3), None, dict(groups=2), ValueError,
        "weight.shape[1] must be in_channels // groups = 8 // 2 = 4, but weight has shape (4, 8, 3, 3)"),
    "grouped weight given groups=1": Err(
        X, W, None, {}, ValueError,
        "weight.shape[1] must be in_channels // groups = 8 // 1 = 8, but weight has shape (4, 4, 3, 3)"),
    "bias of the wrong length": Err(
        X, W, z(3), dict(groups=2), ValueError,
        "bias must have shape (out_channels,) = (4,), but got bias of shape (3,)"),
    "2-d bias": Err(
        X, W, z(4, 1), dict(groups=2), ValueError,
        "bias must have shape (out_channels,) = (4,), but got bias of shape (4, 1)"),
    "0-d bias": Err(
        X, W, z(), dict(groups=2), ValueError,
        "bias must have shape (out_channels,) = (4,), but got bias of shape ()"),
    # the output would be empty
    "kernel larger than input": Err(
        z(1, 8, 2, 5), W, None, dict(groups=2), ValueError,
        "the padded input (2 = 2 + 0 + 0 along spatial axis 0) must be at least the "
        "dilated kernel size (3 = 1 * (3 - 1) + 1); the output would be empty"),
    "dilated kernel larger than padded input": Err(
        X, W, None, dict(dilation=(1, 4), padding=(0, 1), groups=2), ValueError,
        "the padded input (7 = 5 + 1 + 1 along spatial axis 1) must be at least the "
        "dilated kernel size (9 = 4 * (3 - 1) + 1); the output would be empty"),
    "no rows, padded": Err(
        z(1, 8, 0, 5), W, None, dict(padding=2, groups=2), ValueError,
        "input spatial sizes must be positive unless the batch is empty, "
        "but got input of shape (1, 8, 0, 5)"),
    "no columns, unbatched, padded": Err(
        z(8, 5, 0), W, None, dict(padding=(0, 2), groups=2), ValueError,
        "input spatial sizes must be positive unless the batch is empty, "
        "but got input of shape (8, 5, 0)"),
    "zero-size input": Err(
        z(1, 8, 0, 5), z(4, 4, 1, 1), None, dict(groups=2), ValueError,
        "the padded input (0 = 0 + 0 + 0 along spatial axis 0) must be at least the "
        "dilated kernel size (1 = 1 * (1 - 1) + 1); the output would be empty"),
}


def torch_conv2d(x, w, b, **kwargs):
    t = (lambda a: torch.from_numpy(a) if isinstance(a, np.ndarray) else a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.nn.functional.conv2d(t(x), t(w), t(b), **kwargs)


@pytest.mark.parametrize("row", ERRORS.values(), ids=ERRORS.keys())
def test_conv2d_error_message(row):
    x, w, b, kwargs, error, message, torch_rejects = row
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        gl.conv2d(x, w, b, **kwargs)
    if torch_rejects:
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            torch_conv2d(x, w, b, **kwargs)
    else:
        torch_conv2d(x, w, b, **kwargs)  # a documented limit of gconv_lib, not a torch rule


# ---------------------------------------------------------------- the other entry points
@pytest.mark.parametrize(("padding", "error", "message"), [
    (1.5, TypeError, "padding must be an int or a sequence of 2 ints, but got float (1.5)"),
    ((1.5, 1), TypeError, "padding must be an int or a sequence of ints, but got padding=(1.5, 1)"),
    ((1, 1, 1), ValueError,
     "padding must be an int or a sequence of 2 ints for conv2d, but got padding=(1, 1, 1)"),
    (-1, ValueError, "padding must be non-negative, but got padding=(-1, -1)"),
    ("full", ValueError, "padding must be an int, a tuple, 'valid' or 'same', but got 'full'"),
], ids=["float", "tuple with a float", "3 values", "negative", "unknown string"])
def test_check_padding_errors(padding, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        check_padding(padding, (3, 3), (1, 1), (1, 1), 2, "conv2d")


def test_check_padding_same_puts_the_odd_row_at_the_end():
    # total d * (k - 1): 3 for k=4, 3 for k=2 dilated by 3, 4 for k=3 dilated by 2
    assert check_padding("same", (4, 2), (1, 1), (1, 3), 2, "conv2d") == ((1, 2), (1, 2))
    assert check_padding("same", (3, 1), (1, 1), (2, 1), 2, "conv2d") == ((2, 2), (0, 0))
    assert check_padding("valid", (5, 5), (2, 2), (1, 1), 2, "conv2d") == ((0, 0), (0, 0))
    assert check_padding((1, 2), (5, 5), (2, 2), (1, 1), 2, "conv2d") == ((1, 1), (2, 2))
    assert check_padding([3], (5, 5), (2, 2), (1, 1), 2, "conv2d") == ((3, 3), (3, 3))


def test_check_conv_args_normalises_the_arguments():
    a = check_conv_args(z(8, 6, 7), z(4, 4, 3, 2), z(4), stride=[2], padding=(1, 0),
                        dilation=(1, 2), groups=np.int64(2))
    assert (a.stride, a.padding, a.dilation, a.groups) == ((2, 2), ((1, 1), (0, 0)), (1, 2), 2)
    assert type(a.groups) is int
    assert a.unbatched and a.input.shape == (1, 8, 6, 7)
    assert (a.in_channels, a.out_channels, a.kernel, a.nd) == (8, 4, (3, 2), 2)
    assert a.out_spatial == (conv_output_size(6, 3, 2, 1, 1), conv_output_size(7, 2, 2, 0, 2)) == (3, 3)


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "dilation", "expected"), [
    (32, 3, 1, 1, 1, 32), (32, 3, 2, 1, 1, 16), (7, 3, 1, 0, 2, 3), (5, 2, 1, (0, 1), 1, 5),
    (8, 2, 3, 0, 1, 3),
])
def test_conv_output_size_matches_torch(size, kernel, stride, padding, dilation, expected):
    assert conv_output_size(size, kernel, stride, padding, dilation) == expected
    before, after = (padding, padding) if np.isscalar(padding) else padding
    x = torch.zeros(1, 1, size + before + after)
    assert torch.nn.functional.conv1d(x, torch.zeros(1, 1, kernel), stride=stride,
                                      dilation=dilation).shape[-1] == expected


TRANSPOSE_TYPE_ERRORS = {
    "output_padding float": (dict(output_padding=1.0),
                             "output_padding must be an int or a sequence of ints, but got float (1.0)"),
    "string padding with another error": (
        dict(padding="same", stride=0),
        "conv_transpose2d takes padding as an int or a tuple of 2 ints, not 'same'"),
    "groups float with another error": (
        dict(groups=2.0, dilation=0), "groups must be an int, but got float (2.0)"),
}


@pytest.mark.parametrize(("kwargs", "message"), TRANSPOSE_TYPE_ERRORS.values(),
                         ids=TRANSPOSE_TYPE_ERRORS.keys())
def test_transpose_type_errors_come_first_like_torch(kwargs, message):
    x, w = z(1, 4, 3, 3), z(4, 2, 3, 3)
    with pytest.raises(TypeError):
        torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), **kwargs)
    with pytest.raises(TypeError, match="^" + re.escape(message) + "$"):
        check_conv_transpose_args(x, w, **kwargs)


def test_transpose_unbatched_messages_show_the_given_shape():
    with pytest.raises(ValueError, match=re.escape("but got input of shape (4, 0, 3)")):
        gl.conv_transpose2d(z(4, 0, 3), z(4, 2, 3, 3))
