"""conv_transpose2d against torch.nn.functional.conv_transpose2d, and as the adjoint of conv2d."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl
from gconv_lib import transpose
from gconv_lib.torch_check import TOLERANCES
from gconv_lib.transpose import insert_zeros, pad_or_crop, transpose_weight

torch = pytest.importorskip("torch")


def torch_conv_transpose2d(x, w, b=None, **kwargs):
    t = (lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a)))
    with torch.no_grad():
        return torch.nn.functional.conv_transpose2d(t(x), t(w), t(b), **kwargs).numpy()


def make(n, c_in, c_out, groups, kernel, size, dtype=np.float64, bias=True, seed=0):
    """Input (N, C_in, H, W), weight (C_in, C_out // groups, kH, kW), bias (C_out,)."""
    rng = np.random.default_rng(seed)
    pair = (lambda v: (v, v) if np.isscalar(v) else tuple(v))
    x = rng.standard_normal((n, c_in, *pair(size))).astype(dtype)
    w = rng.standard_normal((c_in, c_out // groups, *pair(kernel))).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    return x, w, b


def assert_matches_torch(x, w, b, **kwargs):
    ours = gl.conv_transpose2d(x, w, b, **kwargs)
    theirs = torch_conv_transpose2d(x, w, b, **kwargs)
    assert ours.shape == theirs.shape
    assert ours.dtype == x.dtype
    np.testing.assert_allclose(ours, theirs, **TOLERANCES[x.dtype])


# (c_in, c_out, groups, kernel, size, stride, padding, output_padding, dilation)
CASES = {
    "dense": (3, 5, 1, 3, 4, 1, 0, 0, 1),
    "stride 2 padding 1": (4, 2, 1, 3, 5, 2, 1, 0, 1),
    "stride 2 output_padding 1": (4, 2, 1, 3, 5, 2, 1, 1, 1),
    "in>out groups=2": (8, 4, 2, 3, 4, 2, 1, 1, 1),
    "in<out groups=2": (4, 8, 2, 3, 4, 1, 0, 0, 1),
    "depthwise": (6, 6, 6, 3, 5, 2, 1, 1, 1),
    "depthwise multiplier 2": (3, 6, 3, 4, 5, 2, 1, 0, 1),
    "groups=3 stride 3 output_padding 2": (6, 9, 3, 2, 3, 3, 0, 2, 1),
    "dilation 2, output_padding < dilation": (4, 4, 2, 3, 4, 1, 1, 1, 2),
    "padding larger than the kernel border": (2, 2, 1, 2, 6, 2, 3, 1, 1),
    "per-axis everything": (4, 6, 2, (3, 2), (4, 5), (2, 3), (1, 0), (1, 2), (1, 2)),
    "pointwise stride 2": (4, 8, 4, 1, 3, 2, 0, 1, 1),
    "1x1 input": (2, 4, 2, 3, 1, 1, 1, 0, 1),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_matches_torch(case, dtype):
    c_in, c_out, groups, kernel, size, stride, padding, output_padding, dilation = case
    x, w, b = make(2, c_in, c_out, groups, kernel, size, dtype)
    assert_matches_torch(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                         groups=groups, dilation=dilation)


def test_unbatched_input_drops_the_batch_axis():
    x, w, b = make(1, 4, 6, 2, 3, 4)
    ours = gl.conv_transpose2d(x[0], w, b, stride=2, groups=2)
    assert ours.shape == torch_conv_transpose2d(x[0], w, b, stride=2, groups=2).shape == (6, 9, 9)
    np.testing.assert_allclose(ours, gl.conv_transpose2d(x, w, b, stride=2, groups=2)[0])


@st.composite
def transpose_configs(draw, output_padding_below_stride=False):
    """A valid conv_transpose2d configuration, by construction.

    torch also allows ``stride <= output_padding < dilation``; such an output is longer
    than any input of the forward convolution, so the adjoint test excludes it.
    """
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    limits = stride if output_padding_below_stride else [max(s, d) for s, d in zip(stride, dilation)]
    output_padding = tuple(draw(st.integers(0, limit - 1)) for limit in limits)
    size = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    # keep the output non-empty: 2 * padding <= (size - 1) * s + d * (k - 1) + output_padding
    room = [(h - 1) * s + d * (k - 1) + op
            for h, s, d, k, op in zip(size, stride, dilation, kernel, output_padding)]
    padding = tuple(draw(st.integers(0, r // 2)) for r in room)
    return dict(n=draw(st.integers(1, 2)), c_in=c_in, c_out=c_out, groups=groups, kernel=kernel,
                size=size, bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)),
                kwargs=dict(stride=stride, padding=padding, output_padding=output_padding,
                            groups=groups, dilation=dilation))


@settings(max_examples=50, deadline=None)
@given(transpose_configs())
def test_matches_torch_property(cfg):
    x, w, b = make(cfg["n"], cfg["c_in"], cfg["c_out"], cfg["groups"], cfg["kernel"], cfg["size"],
                   bias=cfg["bias"], seed=cfg["seed"])
    assert_matches_torch(x, w, b, **cfg["kwargs"])


@settings(max_examples=40, deadline=None)
@given(transpose_configs(output_padding_below_stride=True))
def test_is_the_adjoint_of_conv2d(cfg):
    """<conv2d(z, w), y> == <z, conv_transpose2d(y, w)> for the same w: no torch involved.

    The transposed convolution's output has the shape of the forward convolution's input,
    and conv2d maps it back to the shape of y.
    """
    y, w, _ = make(cfg["n"], cfg["c_in"], cfg["c_out"], cfg["groups"], cfg["kernel"], cfg["size"],
                   bias=False, seed=cfg["seed"])
    kw = cfg["kwargs"]
    back = gl.conv_transpose2d(y, w, **kw)  # (N, C_out, H_out, W_out)
    z = np.random.default_rng(cfg["seed"] + 1).standard_normal(back.shape)
    forward = gl.conv2d(z, w, stride=kw["stride"], padding=kw["padding"], dilation=kw["dilation"],
                        groups=kw["groups"])
    assert forward.shape == y.shape
    np.testing.assert_allclose(np.sum(forward * y), np.sum(z * back), rtol=1e-10, atol=1e-10)


def test_an_infinite_weight_reaches_only_the_outputs_its_tap_lands_on():
    """The stride's inserted zeros are never multiplied: inf * 0 would be NaN, torch has none."""
    x, w = np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))
    w[0, 0, 0, 0] = np.inf
    ours = gl.conv_transpose2d(x, w, stride=2)
    np.testing.assert_array_equal(ours, torch_conv_transpose2d(x, w, stride=2))
    assert not np.isnan(ours).any() and np.isinf(ours).sum() == 4  # tap (0, 0) of each input


@settings(max_examples=30, deadline=None)
@given(transpose_configs(output_padding_below_stride=True))
def test_is_the_convolution_the_module_docstring_describes(cfg):
    """Zeros between the samples, a border, the transposed weight, stride 1: the same numbers."""
    y, w, b = make(cfg["n"], cfg["c_in"], cfg["c_out"], cfg["groups"], cfg["kernel"], cfg["size"],
                   seed=cfg["seed"])
    kw = cfg["kwargs"]
    spread = insert_zeros(y, kw["stride"])
    border = [d * (k - 1) - p for k, p, d in zip(cfg["kernel"], kw["padding"], kw["dilation"])]
    x = pad_or_crop(spread, [(e, e + op) for e, op in zip(border, kw["output_padding"])])
    conv = gl.conv2d(x, transpose_weight(w, kw["groups"]), b, dilation=kw["dilation"], groups=kw["groups"])
    np.testing.assert_allclose(gl.conv_transpose2d(y, w, b, **kw), conv, **TOLERANCES[y.dtype])


# ---------------------------------------------------------------- building blocks


def test_insert_zeros_per_axis():
    x = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    out = insert_zeros(x, (2, 3))
    assert out.shape == (1, 1, 3, 7)
    np.testing.assert_array_equal(out[0, 0], [[1, 0, 0, 2, 0, 0, 3],
                                              [0, 0, 0, 0, 0, 0, 0],
                                              [4, 0, 0, 5, 0, 0, 6]])


def test_pad_or_crop_mixes_padding_and_cropping():
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    out = pad_or_crop(x, [(-1, 2), (1, -2)])
    assert out.shape == (1, 1, 4, 3)
    np.testing.assert_array_equal(out[0, 0], [[0, 4, 5], [0, 8, 9], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_transpose_weight_twice_is_the_identity(groups):
    w = np.random.default_rng(0).standard_normal((6, 12 // groups, 2, 3))  # C_in=6, C_out=12
    once = transpose_weight(w, groups)
    assert once.shape == (12, 6 // groups, 2, 3)
    np.testing.assert_array_equal(transpose_weight(once, groups), w)


def test_transpose_weight_keeps_the_blocks_and_transposes_each():
    """As dense (C_out, C_in) channel matrices: transposing the weight transposes the wiring."""
    w = np.random.default_rng(1).standard_normal((4, 3, 1, 1))  # C_in=4, C_out=6, groups=2
    dense_t = gl.block_diagonal_weight(transpose_weight(w, 2), 2)[:, :, 0, 0]  # (6, 4)
    dense = gl.block_diagonal_weight(w, 2)[:, :, 0, 0]  # (4, 6): w read as a conv 6 -> 4
    np.testing.assert_array_equal(dense_t, dense.T)
    np.testing.assert_array_equal(dense_t != 0, gl.connectivity(4, 6, groups=2))


def test_transpose_weight_rejects_groups_not_dividing_c_in():
    with pytest.raises(ValueError, match=r"groups \(3\) must divide in_channels \(4, weight.shape\[0\]\)"):
        transpose_weight(np.zeros((4, 1, 2, 2)), 3)


@pytest.mark.parametrize(("size", "kernel", "stride", "padding", "output_padding", "dilation"), [
    (16, 3, 2, 1, 0, 1), (16, 3, 2, 1, 1, 1), (5, 4, 3, 2, 2, 1), (7, 3, 1, 0, 1, 2), (1, 1, 1, 0, 0, 1),
])
def test_output_size_formula_matches_torch(size, kernel, stride, padding, output_padding, dilation):
    x, w, _ = make(1, 1, 1, 1, kernel, size, bias=False)
    out = torch_conv_transpose2d(x, w, stride=stride, padding=padding, output_padding=output_padding,
                                 dilation=dilation)
    assert out.shape[-1] == gl.conv_transpose_output_size(size, kernel, stride, padding, output_padding,
                                                          dilation)


# ---------------------------------------------------------------- errors
# (input shape, weight shape, bias shape or None, kwargs, message pattern)
ERRORS = {
    "output_padding not < stride or dilation": (
        (1, 4, 3, 3), (4, 2, 3, 3), None, dict(stride=2, output_padding=2),
        r"output_padding must be smaller than stride or dilation in every dimension, but along "
        r"spatial axis 0 output_padding=2, stride=2, dilation=1"),
    "output_padding 1 with stride 1": (
        (1, 4, 3, 3), (4, 2, 3, 3), None, dict(output_padding=1), r"output_padding=1, stride=1, dilation=1"),
    "output_padding too big on the second axis": (
        (1, 4, 3, 3), (4, 2, 3, 3), None, dict(stride=(2, 1), output_padding=(0, 1)),
        r"along spatial axis 1 output_padding=1, stride=1, dilation=1"),
    "negative output_padding": (
        (1, 4, 3, 3), (4, 2, 3, 3), None, dict(stride=2, output_padding=-1),
        r"output_padding must be non-negative"),
    "groups !| in_channels": (
        (1, 4, 3, 3), (4, 3, 3, 3), None, dict(groups=3),
        r"groups \(3\) must divide in_channels \(4, weight.shape\[0\]\)"),
    "input channels != weight.shape[0]": (
        (1, 5, 3, 3), (4, 2, 3, 3), None, {},
        r"input channels \(5, input.shape\[1\]\) must equal weight.shape\[0\] \(4\)"),
    "conv-style weight with groups": (
        (1, 8, 3, 3), (4, 2, 3, 3), None, dict(groups=2),
        r"input channels \(8, input.shape\[1\]\) must equal weight.shape\[0\] \(4\)"),
    "bias of C_in": (
        (1, 4, 3, 3), (4, 2, 3, 3), (4,), {},
        r"bias must have shape \(out_channels,\) = \(2,\), out_channels being weight.shape\[1\] \* groups"),
    "bias 2-d": ((1, 4, 3, 3), (4, 2, 3, 3), (2, 1), {}, r"bias must have shape \(out_channels,\) = \(2,\)"),
    "5-d input": ((1, 1, 4, 3, 3), (4, 2, 3, 3), None, {},
                  r"conv_transpose2d expects input of 3 dimensions .* but got input of shape "
                  r"\(1, 1, 4, 3, 3\)"),
    "2-d input": ((4, 3), (4, 2, 3, 3), None, {}, r"conv_transpose2d expects input of 3 dimensions"),
    "3-d weight": ((1, 4, 3, 3), (4, 2, 3), None, {},
                   r"expects weight of 4 dimensions \(C_in, C_out // groups, \*kernel\)"),
    "empty output": ((1, 4, 3, 3), (4, 2, 3, 3), None, dict(padding=3),
                     r"the output would be empty: along spatial axis 0 its size is "
                     r"\(3 - 1\) \* 1 - 2 \* 3 \+ 1 \* \(3 - 1\) \+ 0 \+ 1 = -1"),
    "empty output, zero": ((1, 4, 1, 1), (4, 2, 2, 2), None, dict(padding=1), r"the output would be empty"),
    "negative padding": ((1, 4, 3, 3), (4, 2, 3, 3), None, dict(padding=-1), r"padding must be non-negative"),
    "stride 0": ((1, 4, 3, 3), (4, 2, 3, 3), None, dict(stride=0), r"stride must be positive"),
    "dilation 0": ((1, 4, 3, 3), (4, 2, 3, 3), None, dict(dilation=0), r"dilation must be positive"),
    "groups 0": ((1, 4, 3, 3), (4, 2, 3, 3), None, dict(groups=0), r"groups must be a positive integer"),
    "stride of 3 values": ((1, 4, 3, 3), (4, 2, 3, 3), None, dict(stride=(1, 1, 1)),
                           r"stride must be an int or a sequence of 2 ints for conv_transpose2d"),
    "empty spatial input": ((1, 4, 0, 3), (4, 2, 3, 3), None, {}, r"input spatial sizes must be positive"),
    "zero output channels": ((1, 4, 3, 3), (4, 0, 3, 3), None, {}, r"must have no empty dimension"),
    "zero kernel": ((1, 4, 3, 3), (4, 2, 0, 3), None, {}, r"must have no empty dimension"),
}


@pytest.mark.parametrize("case", ERRORS.values(), ids=ERRORS.keys())
def test_invalid_configurations_raise_clear_errors_where_torch_raises(case):
    x_shape, w_shape, b_shape, kwargs, pattern = case
    x, w = np.zeros(x_shape), np.zeros(w_shape)
    b = None if b_shape is None else np.zeros(b_shape)
    with pytest.raises(RuntimeError):
        torch_conv_transpose2d(x, w, b, **kwargs)
    with pytest.raises(ValueError, match=pattern):
        gl.conv_transpose2d(x, w, b, **kwargs)


def test_unbatched_channel_mismatch_names_the_right_axis():
    with pytest.raises(ValueError, match=r"input channels \(5, input.shape\[0\]\)"):
        gl.conv_transpose2d(np.zeros((5, 3, 3)), np.zeros((4, 2, 3, 3)))


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_string_padding_is_a_type_error_as_in_torch(padding):
    x, w = np.zeros((1, 4, 3, 3)), np.zeros((4, 2, 3, 3))
    with pytest.raises(TypeError):
        torch_conv_transpose2d(x, w, padding=padding)
    with pytest.raises(TypeError, match=r"conv_transpose2d takes padding as an int or a tuple of 2 ints"):
        gl.conv_transpose2d(x, w, padding=padding)


def test_mixed_dtypes_are_a_type_error():
    with pytest.raises(TypeError, match=r"input dtype \(float32\) and weight dtype \(float64\)"):
        gl.conv_transpose2d(np.zeros((1, 4, 3, 3), np.float32), np.zeros((4, 2, 3, 3)))
    with pytest.raises(TypeError, match=r"input dtype \(float64\) and bias dtype \(float32\)"):
        gl.conv_transpose2d(np.zeros((1, 4, 3, 3)), np.zeros((4, 2, 3, 3)), np.zeros(2, np.float32))


@settings(max_examples=60, deadline=None)
@given(c_in=st.integers(1, 6), w_in=st.integers(1, 6), w_out=st.integers(1, 3), k=st.integers(1, 4),
       size=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 3),
       output_padding=st.integers(0, 2), dilation=st.integers(1, 3), groups=st.integers(1, 4))
def test_accepts_exactly_what_torch_accepts(c_in, w_in, w_out, k, size, stride, padding,
                                            output_padding, dilation, groups):
    x, w = np.ones((1, c_in, size, size)), np.ones((w_in, w_out, k, k))
    kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                  dilation=dilation)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = torch_conv_transpose2d(x, w, **kwargs)
    except RuntimeError:
        with pytest.raises(ValueError):
            gl.conv_transpose2d(x, w, **kwargs)
        return
    np.testing.assert_allclose(gl.conv_transpose2d(x, w, **kwargs), theirs, **TOLERANCES[x.dtype])


def test_result_does_not_depend_on_threads_or_jobs(monkeypatch):
    """Every block of images and groups adds into its own part of the output, in tap order."""
    x, w, b = make(3, 6, 9, 3, 3, 5)
    kwargs = dict(stride=2, padding=1, output_padding=1, groups=3)
    expected = gl.conv_transpose2d(x, w, b, **kwargs)
    before = gl.get_num_threads()
    try:
        for job_bytes in (1, 2000, 10**9):  # one image and group per job ... everything in one
            monkeypatch.setattr(transpose, "JOB_BYTES", job_bytes)
            for n in (1, 2, 3):
                gl.set_num_threads(n)
                np.testing.assert_array_equal(gl.conv_transpose2d(x, w, b, **kwargs), expected)
    finally:
        gl.set_num_threads(before)


# ---------------------------------------------------------------- stride 1: the forward path
@pytest.mark.parametrize(("kwargs", "forward"), [
    (dict(groups=2), True),
    (dict(padding=1, dilation=2, output_padding=1, groups=4), True),  # output_padding < dilation
    (dict(stride=2, padding=1), False),  # zeros would be inserted: the scatter
    (dict(padding=3), False),  # padding > d * (k - 1): a crop, not a border
])
def test_stride_1_runs_as_the_forward_convolution_with_the_scatter_s_result(kwargs, forward, monkeypatch):
    from gconv_lib import transpose
    from gconv_lib.validate import check_conv_transpose_args

    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 8, 6, 7)), rng.standard_normal((8, 3, 3, 3))
    args = dict(stride=1, padding=0, output_padding=0, groups=1, dilation=1) | kwargs
    a = check_conv_transpose_args(x, w, None, args["stride"], args["padding"], args["output_padding"],
                                  args["groups"], args["dilation"], nd=2)
    assert (transpose._as_forward(a) is not None) == forward
    ours = gl.conv_transpose2d(x, w, **kwargs)
    monkeypatch.setattr(transpose, "_as_forward", lambda a: None)
    np.testing.assert_allclose(ours, gl.conv_transpose2d(x, w, **kwargs), rtol=1e-12, atol=1e-12)


def test_an_infinite_weight_keeps_the_scatter():
    from gconv_lib import transpose
    from gconv_lib.validate import check_conv_transpose_args

    x, w = np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3))
    w[0, 0, 1, 1] = np.inf
    a = check_conv_transpose_args(x, w, None, 1, 0, 0, 2, 1, nd=2)
    assert transpose._as_forward(a) is None
    out = gl.conv_transpose2d(x, w, groups=2)
    assert np.isinf(out[0, 0, 1:5, 1:5]).all() and np.isfinite(out[0, 0, 0]).all()  # no NaN at the border
