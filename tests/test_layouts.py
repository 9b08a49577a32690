"""Keras/TensorFlow kernels as PyTorch weights: checked against TensorFlow's documented formulas.

TensorFlow is not needed: ``tf_depthwise_conv2d`` and ``tf_conv2d`` write its formulas in
NumPy (checked here against a literal loop over the formula), and a converted weight must
give the same numbers through gconv_lib.conv2d and through torch. Every plausible wrong
permute must fail that check.
"""

import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl
from gconv_lib.layouts import (
    keras_conv_to_torch,
    keras_depthwise_to_torch,
    matches_tf,
    tf_conv2d,
    tf_depthwise_conv2d,
    torch_conv_to_keras,
    torch_depthwise_to_keras,
)

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-10, atol=1e-10)

# (C, M, (kH, kW), strides, dilations)
DEPTHWISE = {
    "M=1 3x3": (4, 1, (3, 3), 1, 1),
    "M=2 3x2": (3, 2, (3, 2), 1, 1),
    "M=3 1x3 stride 2": (2, 3, (1, 3), 2, 1),
    "M=4 2x2 dilation (1, 2)": (3, 4, (2, 2), 1, (1, 2)),
    "M=2 3x3 stride (2, 1)": (5, 2, (3, 3), (2, 1), 1),
}

# (C_in, C_out, groups, (kH, kW), strides, dilations)
GROUPED = {
    "dense": (3, 4, 1, (3, 2), 1, 1),
    "g=2 in>out": (8, 4, 2, (3, 3), 1, 1),
    "g=2 in<out stride 2": (4, 6, 2, (2, 3), 2, 1),
    "g=4 dilation 2": (8, 8, 4, (3, 3), 1, 2),
    "g=C depthwise as Conv2D": (3, 6, 3, (3, 1), (1, 2), 1),
}


DEPTHWISE_CASES = pytest.mark.parametrize(("c", "m", "kernel", "strides", "dilations"), DEPTHWISE.values(),
                                          ids=DEPTHWISE.keys())
GROUPED_CASES = pytest.mark.parametrize(("c_in", "c_out", "groups", "kernel", "strides", "dilations"),
                                        GROUPED.values(), ids=GROUPED.keys())


def _rng(*key):
    return np.random.default_rng(list(key))


def literal_depthwise(x, f, strides, dilations):
    """TensorFlow's depthwise formula, one output value at a time."""
    (sh, sw), (rh, rw) = gl.cost._pair(strides, "s"), gl.cost._pair(dilations, "d")
    n, h, w, c = x.shape
    kh, kw, _, m = f.shape
    h_out, w_out = (h - rh * (kh - 1) - 1) // sh + 1, (w - rw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, h_out, w_out, c * m))
    for b, i, j, k, q in itertools.product(range(n), range(h_out), range(w_out), range(c), range(m)):
        out[b, i, j, k * m + q] = sum(f[di, dj, k, q] * x[b, sh * i + rh * di, sw * j + rw * dj, k]
                                      for di in range(kh) for dj in range(kw))
    return out


def literal_conv(x, f, strides, dilations):
    """TensorFlow's conv2d formula, one output value at a time, q over output k's group."""
    (sh, sw), (rh, rw) = gl.cost._pair(strides, "s"), gl.cost._pair(dilations, "d")
    n, h, w, c_in = x.shape
    kh, kw, cin_g, c_out = f.shape
    g = c_in // cin_g
    h_out, w_out = (h - rh * (kh - 1) - 1) // sh + 1, (w - rw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, h_out, w_out, c_out))
    for b, i, j, k in itertools.product(range(n), range(h_out), range(w_out), range(c_out)):
        first = k // (c_out // g) * cin_g  # the first input channel of output k's group
        out[b, i, j, k] = sum(x[b, sh * i + rh * di, sw * j + rw * dj, first + q] * f[di, dj, q, k]
                              for di in range(kh) for dj in range(kw) for q in range(cin_g))
    return out


# ---------------------------------------------------------------- the TF formulas in NumPy
@DEPTHWISE_CASES
def test_tf_depthwise_conv2d_is_the_documented_formula(c, m, kernel, strides, dilations):
    x, f = _rng(1).standard_normal((2, 7, 6, c)), _rng(2).standard_normal((*kernel, c, m))
    np.testing.assert_allclose(tf_depthwise_conv2d(x, f, strides, dilations),
                               literal_depthwise(x, f, strides, dilations), **TOL)


@GROUPED_CASES
def test_tf_conv2d_is_the_documented_formula(c_in, c_out, groups, kernel, strides, dilations):
    x = _rng(3).standard_normal((2, 7, 6, c_in))
    f = _rng(4).standard_normal((*kernel, c_in // groups, c_out))
    np.testing.assert_allclose(tf_conv2d(x, f, strides, dilations), literal_conv(x, f, strides, dilations),
                               **TOL)


def test_tf_depthwise_is_tf_conv2d_with_one_channel_per_group():
    """TensorFlow's two formulas agree: a (kH, kW, C, M) depthwise filter is the Conv2D filter
    (kH, kW, 1, C * M) with groups = C, its output channels in the same k * M + q order."""
    x, f = _rng(5).standard_normal((1, 6, 5, 3)), _rng(6).standard_normal((3, 2, 3, 4))
    np.testing.assert_allclose(tf_depthwise_conv2d(x, f, 2), tf_conv2d(x, f.reshape(3, 2, 1, 12), 2), **TOL)


# ---------------------------------------------------------------- conversions agree with TF
@DEPTHWISE_CASES
def test_depthwise_conversion_agrees_with_tf_through_gconv_lib_and_torch(c, m, kernel, strides, dilations):
    x, f = _rng(7).standard_normal((2, 8, 9, c)), _rng(8).standard_normal((*kernel, c, m))
    weight = keras_depthwise_to_torch(f)
    assert weight.shape == (c * m, 1, *kernel)
    expected = tf_depthwise_conv2d(x, f, strides, dilations).transpose(0, 3, 1, 2)  # NCHW
    x_nchw = x.transpose(0, 3, 1, 2)
    kwargs = dict(stride=strides, dilation=dilations, groups=c)
    np.testing.assert_allclose(gl.conv2d(x_nchw, weight, **kwargs), expected, **TOL)
    np.testing.assert_allclose(gl.torch_conv(x_nchw, weight, **kwargs), expected, **TOL)
    module = torch.nn.Conv2d(c, c * m, kernel, stride=strides, dilation=dilations, groups=c, bias=False,
                             dtype=torch.float64)
    assert tuple(module.weight.shape) == weight.shape
    assert matches_tf(f, weight, depthwise=True, strides=strides, dilations=dilations)


@GROUPED_CASES
def test_grouped_conversion_agrees_with_tf_through_gconv_lib_and_torch(c_in, c_out, groups, kernel, strides,
                                                                        dilations):
    x = _rng(9).standard_normal((2, 8, 9, c_in))
    f = _rng(10).standard_normal((*kernel, c_in // groups, c_out))
    weight = keras_conv_to_torch(f, groups=groups)
    assert weight.shape == gl.weight_shape(c_in, c_out, kernel, groups)
    expected = tf_conv2d(x, f, strides, dilations).transpose(0, 3, 1, 2)  # NCHW
    x_nchw = x.transpose(0, 3, 1, 2)
    kwargs = dict(stride=strides, dilation=dilations, groups=groups)
    np.testing.assert_allclose(gl.conv2d(x_nchw, weight, **kwargs), expected, **TOL)
    np.testing.assert_allclose(gl.torch_conv(x_nchw, weight, **kwargs), expected, **TOL)
    assert matches_tf(f, weight, groups=groups, strides=strides, dilations=dilations)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))
def test_round_trips(c, m, kh, kw, seed):
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((kh, kw, c, m))
    np.testing.assert_array_equal(torch_depthwise_to_keras(keras_depthwise_to_torch(kernel), c), kernel)
    weight = rng.standard_normal((c * m, 1, kh, kw))
    np.testing.assert_array_equal(keras_depthwise_to_torch(torch_depthwise_to_keras(weight, c)), weight)
    conv_kernel = rng.standard_normal((kh, kw, c, m * 2))
    np.testing.assert_array_equal(torch_conv_to_keras(keras_conv_to_torch(conv_kernel)), conv_kernel)
    conv_weight = rng.standard_normal((m * 2, c, kh, kw))
    np.testing.assert_array_equal(keras_conv_to_torch(torch_conv_to_keras(conv_weight)), conv_weight)


def test_conversions_keep_dtype_and_give_contiguous_arrays():
    kernel = np.zeros((3, 3, 4, 2), dtype=np.float32).transpose(1, 0, 2, 3)
    for out in (keras_depthwise_to_torch(kernel), keras_conv_to_torch(kernel),
                torch_conv_to_keras(np.zeros((4, 2, 3, 3), np.float32)),
                torch_depthwise_to_keras(np.zeros((4, 1, 3, 3), np.float32), 2)):
        assert out.dtype == np.float32 and out.flags.c_contiguous
        torch.from_numpy(out)  # ready for module.weight.copy_


# ---------------------------------------------------------------- wrong permutes fail the check
def wrong_depthwise(kernel):
    """Plausible wrong conversions of a (kH, kW, C, M) kernel to (C * M, 1, kH, kW)."""
    kh, kw, c, m = kernel.shape
    return {
        "reshape without transposing": kernel.reshape(c * m, 1, kh, kw),
        "(M, C) order": kernel.transpose(3, 2, 0, 1).reshape(c * m, 1, kh, kw),
        "kH and kW swapped": kernel.transpose(2, 3, 1, 0).reshape(c * m, 1, kw, kh),
        "kernel read as (kH, kW, M, C)": kernel.reshape(kh, kw, m, c).transpose(3, 2, 0, 1)
                                               .reshape(c * m, 1, kh, kw),
    }


def wrong_grouped(kernel, groups):
    """Plausible wrong conversions of a (kH, kW, C_in/g, C_out) kernel to (C_out, C_in/g, kH, kW)."""
    kh, kw, cin_g, c_out = kernel.shape
    return {
        "reshape without transposing": kernel.reshape(c_out, cin_g, kh, kw),
        "reversed axes (kH and kW swapped)": kernel.transpose(3, 2, 1, 0),
        "groups interleaved": kernel.reshape(kh, kw, cin_g, c_out // groups, groups)
                                    .transpose(4, 3, 2, 0, 1).reshape(c_out, cin_g, kh, kw),
    }


@pytest.mark.parametrize("kernel_size", [(3, 3), (3, 2)], ids=["square", "3x2"])
@pytest.mark.parametrize("wrong", list(wrong_depthwise(np.zeros((1, 1, 1, 1)))))
def test_wrong_depthwise_permutes_fail_the_check(wrong, kernel_size):
    kernel = _rng(11).standard_normal((*kernel_size, 4, 3))  # C = 4, M = 3
    weight = wrong_depthwise(kernel)[wrong]
    assert not matches_tf(kernel, weight, depthwise=True)
    if weight.shape == (12, 1, *kernel_size):  # also different numbers, not only a different shape
        x = _rng(12).standard_normal((1, 4, 7, 6))
        assert not np.allclose(gl.conv2d(x, weight, groups=4), gl.conv2d(x, keras_depthwise_to_torch(kernel),
                                                                          groups=4))


@pytest.mark.parametrize("kernel_size", [(3, 3), (2, 3)], ids=["square", "2x3"])
@pytest.mark.parametrize("wrong", list(wrong_grouped(np.zeros((1, 1, 1, 2)), 2)))
def test_wrong_grouped_permutes_fail_the_check(wrong, kernel_size):
    kernel = _rng(13).standard_normal((*kernel_size, 2, 6))  # C_in = 4, groups = 2, C_out = 6
    assert not matches_tf(kernel, wrong_grouped(kernel, 2)[wrong], groups=2)


def test_the_m_c_order_mistake_hides_when_m_is_1():
    """With one filter per channel (C, M) and (M, C) are the same order: the bug appears only
    with a multiplier, so test with M > 1."""
    kernel = _rng(14).standard_normal((3, 3, 4, 1))
    assert matches_tf(kernel, wrong_depthwise(kernel)["(M, C) order"], depthwise=True)


def test_matches_tf_refuses_a_weight_of_another_shape():
    kernel = _rng(15).standard_normal((3, 3, 2, 4))  # C_in / g = 2, C_out = 4
    weight = keras_conv_to_torch(kernel)
    assert matches_tf(kernel, weight, groups=2) and matches_tf(kernel, weight, groups=1, input_size=(5, 4))
    assert not matches_tf(kernel, weight[:, :, :, :2], groups=2)
    assert not matches_tf(kernel, weight[:2], groups=2)
    assert not matches_tf(kernel, weight, depthwise=True)  # depthwise (3, 3, 2, 4) needs (8, 1, 3, 3)


# ---------------------------------------------------------------- errors
LAYOUT_ERRORS = {
    "depthwise kernel 3-d": (
        lambda: keras_depthwise_to_torch(np.zeros((3, 3, 8))), ValueError,
        "a DepthwiseConv2D kernel must have 4 non-empty axes (kH, kW, C, depth_multiplier), "
        "but kernel has shape (3, 3, 8)"),
    "depthwise kernel empty axis": (
        lambda: keras_depthwise_to_torch(np.zeros((3, 3, 8, 0))), ValueError,
        "a DepthwiseConv2D kernel must have 4 non-empty axes (kH, kW, C, depth_multiplier), "
        "but kernel has shape (3, 3, 8, 0)"),
    "depthwise weight with 2 inputs per group": (
        lambda: torch_depthwise_to_keras(np.zeros((8, 2, 3, 3)), 4), ValueError,
        "a depthwise weight (C * M, 1, kH, kW) reads 1 input channel per output channel, "
        "but weight has shape (8, 2, 3, 3)"),
    "depthwise weight rows not a multiple of C": (
        lambda: torch_depthwise_to_keras(np.zeros((6, 1, 3, 3)), 4), ValueError,
        "a depthwise weight has C * M rows, a multiple of in_channels (4), "
        "but weight has shape (6, 1, 3, 3)"),
    "depthwise weight 5-d": (
        lambda: torch_depthwise_to_keras(np.zeros((6, 1, 3, 3, 3)), 3), ValueError,
        "a depthwise weight must have 4 non-empty axes (C * M, 1, kH, kW), "
        "but weight has shape (6, 1, 3, 3, 3)"),
    "in_channels 0": (
        lambda: torch_depthwise_to_keras(np.zeros((6, 1, 3, 3)), 0), ValueError,
        "in_channels must be a positive integer, but got in_channels=0"),
    "in_channels float": (
        lambda: torch_depthwise_to_keras(np.zeros((6, 1, 3, 3)), 3.0), TypeError,
        "in_channels must be an int, but got float (3.0)"),
    "conv kernel 2-d": (
        lambda: keras_conv_to_torch(np.zeros((3, 3))), ValueError,
        "a Conv2D kernel must have 4 non-empty axes (kH, kW, C_in // groups, C_out), "
        "but kernel has shape (3, 3)"),
    "conv kernel groups !| C_out": (
        lambda: keras_conv_to_torch(np.zeros((3, 3, 2, 6)), groups=4), ValueError,
        "groups (4) must divide out_channels (6, the last axis of a (kH, kW, C_in // groups, C_out) kernel), "
        "but kernel has shape (3, 3, 2, 6)"),
    "conv kernel groups 0": (
        lambda: keras_conv_to_torch(np.zeros((3, 3, 2, 6)), groups=0), ValueError,
        "groups must be a positive integer, but got groups=0"),
    "conv weight 3-d": (
        lambda: torch_conv_to_keras(np.zeros((4, 2, 3))), ValueError,
        "a Conv2d weight must have 4 non-empty axes (C_out, C_in // groups, kH, kW), "
        "but weight has shape (4, 2, 3)"),
    "tf depthwise channels differ": (
        lambda: tf_depthwise_conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 4, 1))), ValueError,
        "input channels (input.shape[3] = 3) must equal the filter's in_channels (filter.shape[2] = 4) "
        "in a depthwise convolution"),
    "tf depthwise NCHW-looking 3-d input": (
        lambda: tf_depthwise_conv2d(np.zeros((5, 5, 3)), np.zeros((3, 3, 3, 1))), ValueError,
        "an NHWC input must have 4 non-empty axes (N, H, W, C), but input has shape (5, 5, 3)"),
    "tf depthwise empty output": (
        lambda: tf_depthwise_conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 1)), dilations=3), ValueError,
        "the output would be empty: 'VALID' output size (-1, -1) for input of shape (1, 5, 5, 3) "
        "and a 3x3 filter with dilations (3, 3)"),
    "tf depthwise stride 0": (
        lambda: tf_depthwise_conv2d(np.zeros((1, 5, 5, 3)), np.zeros((3, 3, 3, 1)), strides=(1, 0)),
        ValueError,
        "strides must be positive, but got strides=(1, 0)"),
    "tf conv2d channels not a multiple": (
        lambda: tf_conv2d(np.zeros((1, 5, 5, 6)), np.zeros((3, 3, 4, 2))), ValueError,
        "input channels (input.shape[3] = 6) must be a multiple of the filters' in_channels "
        "(filters.shape[2] = 4), their ratio being groups"),
    "tf conv2d groups !| C_out": (
        lambda: tf_conv2d(np.zeros((1, 5, 5, 6)), np.zeros((3, 3, 2, 4))), ValueError,
        "groups (3 = 6 input channels // 2 per group) must divide out_channels (filters.shape[3] = 4)"),
    "matches_tf depthwise with groups": (
        lambda: matches_tf(np.zeros((3, 3, 4, 1)), np.zeros((4, 1, 3, 3)), groups=4, depthwise=True),
        ValueError,
        "a depthwise kernel (kH, kW, C, M) has groups = C = 4: give groups for a Conv2D kernel only, "
        "but got groups=4"),
}


@pytest.mark.parametrize(("call", "error", "message"), LAYOUT_ERRORS.values(), ids=LAYOUT_ERRORS.keys())
def test_layout_errors(call, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        call()
