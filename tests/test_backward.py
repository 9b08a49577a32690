"""conv2d_backward against torch.autograd, against finite differences, and its group structure."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl
from gconv_lib.torch_check import TOLERANCES


def torch_grads(grad_output, x, w, b, **kwargs):
    """(input.grad, weight.grad, bias.grad) of torch.nn.functional.conv2d, as NumPy arrays."""
    torch = pytest.importorskip("torch")
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'same' with an even kernel warns about a copy
        out = torch.nn.functional.conv2d(tx, tw, tb, **kwargs)
    out.backward(torch.from_numpy(grad_output))
    return tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()


def make(n, c_in, c_out, kernel, size, dtype=np.float64, seed=0, **kwargs):
    """x (N, C_in, H, W), w (C_out, C_in // groups, kH, kW), b (C_out,), and a random grad_output.

    ``kwargs`` are conv2d's (stride, padding, dilation, groups).
    """
    groups = kwargs.get("groups", 1)
    rng = np.random.default_rng(seed)
    pair = (lambda v: (v, v) if np.isscalar(v) else tuple(v))
    x = rng.standard_normal((n, c_in, *pair(size))).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, *pair(kernel))).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    out_shape = gl.conv2d(x, w, b, **kwargs).shape
    grad_output = rng.standard_normal(out_shape).astype(dtype)
    return grad_output, x, w, b


def assert_matches_torch(grad_output, x, w, b, **kwargs):
    ours = gl.conv2d_backward(grad_output, x, w, **kwargs)
    theirs = torch_grads(grad_output, x, w, b, **kwargs)
    for name, o, t in zip(("grad_input", "grad_weight", "grad_bias"), ours, theirs):
        assert o.shape == t.shape, name
        assert o.dtype == x.dtype, name
        np.testing.assert_allclose(o, t, **TOLERANCES[x.dtype], err_msg=name)


# (c_in, c_out, groups, kernel, size, stride, padding, dilation)
CASES = {
    "dense": (3, 4, 1, 3, 6, 1, 0, 1),
    "in>out groups=2 (8 -> 4)": (8, 4, 2, 3, 6, 1, 1, 1),
    "in>out groups=4 (8 -> 4)": (8, 4, 4, 5, 7, 1, 2, 1),
    "in<out groups=2": (4, 8, 2, 3, 5, 1, 1, 1),
    "depthwise": (6, 6, 6, 3, 6, 1, 1, 1),
    "depthwise multiplier 2": (3, 6, 3, 3, 6, 1, "same", 1),
    "pointwise grouped": (6, 9, 3, 1, 4, 1, 0, 1),
    "same, odd kernel": (4, 4, 2, 3, 5, 1, "same", 1),
    "same, even kernel (asymmetric)": (4, 6, 2, 4, 7, 1, "same", 1),
    "same, even x odd kernel, dilated": (4, 4, 4, (2, 3), (6, 5), 1, "same", (3, 2)),
    "valid": (4, 2, 2, 3, 6, 1, "valid", 1),
    "stride 2, odd size (unused row)": (4, 4, 2, 3, 8, 2, 0, 1),
    "stride 3, two unused rows": (2, 4, 2, 2, 9, 3, 1, 1),
    "stride 2 dilation 2 padding 3": (6, 3, 3, 3, 11, 2, 3, 2),
    "per-axis stride padding dilation": (4, 6, 2, (3, 2), (9, 8), (2, 3), (1, 0), (1, 2)),
    "kernel as large as input": (2, 2, 1, 5, 5, 1, 0, 1),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_matches_torch_autograd(case, dtype):
    c_in, c_out, groups, kernel, size, stride, padding, dilation = case
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert_matches_torch(*make(2, c_in, c_out, kernel, size, dtype, **kwargs), **kwargs)


def test_unbatched_input_gives_unbatched_grad_input():
    kwargs = dict(stride=2, padding=1, groups=2)
    grad_output, x, w, b = make(1, 4, 2, 3, 7, **kwargs)
    gi, gw, gb = gl.conv2d_backward(grad_output[0], x[0], w, **kwargs)
    assert gi.shape == x[0].shape
    ti, tw, tb = torch_grads(grad_output[0], x[0], w, b, **kwargs)
    for o, t in ((gi, ti), (gw, tw), (gb, tb)):
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-10)


@st.composite
def backward_configs(draw):
    """A valid conv2d configuration with every padding form, by construction."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    form = draw(st.sampled_from(["same", "valid", "int", "tuple"]))
    stride = (1, 1) if form == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = {"same": "same", "valid": "valid", "int": draw(st.integers(0, 2)),
               "tuple": (draw(st.integers(0, 2)), draw(st.integers(0, 2)))}[form]
    pads = {"same": (0, 0), "valid": (0, 0), "int": (padding, padding), "tuple": padding}[form]
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = tuple(max(1, s - 2 * p) + draw(st.integers(0, 5)) for s, p in zip(span, pads))
    return dict(n=draw(st.integers(1, 2)), c_in=c_in, c_out=c_out, groups=groups, kernel=kernel,
                size=size, seed=draw(st.integers(0, 2**16)),
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups))


@settings(max_examples=50, deadline=None)
@given(backward_configs())
def test_matches_torch_autograd_property(cfg):
    kw = cfg["kwargs"]
    arrays = make(cfg["n"], cfg["c_in"], cfg["c_out"], cfg["kernel"], cfg["size"], seed=cfg["seed"], **kw)
    assert_matches_torch(*arrays, **kw)


# ---------------------------------------------------------------- without torch


def numerical_grads(grad_output, x, w, b, eps=1e-6, **kwargs):
    """Central differences of L = sum(conv2d_naive(x, w, b) * grad_output), entry by entry.

    L is linear in each of x, w and b, so the central difference is exact up to rounding.
    """
    def loss(x_, w_, b_):
        return float(np.sum(gl.conv2d_naive(x_, w_, b_, **kwargs) * grad_output))

    grads = []
    for which, arr in enumerate((x, w, b)):
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            plus, minus = [x.copy(), w.copy(), b.copy()], [x.copy(), w.copy(), b.copy()]
            plus[which][idx] += eps
            minus[which][idx] -= eps
            g[idx] = (loss(*plus) - loss(*minus)) / (2 * eps)
        grads.append(g)
    return grads


FD_CASES = {
    "groups=2 stride 2 odd size": dict(c_in=4, c_out=2, groups=2, kernel=3, size=6,
                                       stride=2, padding=1, dilation=1),
    "depthwise same even kernel": dict(c_in=3, c_out=3, groups=3, kernel=2, size=(4, 5),
                                       stride=1, padding="same", dilation=2),
    "in<out groups=2 dilation stride": dict(c_in=2, c_out=4, groups=2, kernel=(2, 3), size=(7, 6),
                                            stride=(3, 2), padding=(0, 1), dilation=(2, 1)),
}


@pytest.mark.parametrize("case", FD_CASES.values(), ids=FD_CASES.keys())
def test_matches_finite_differences_float64(case):
    case = dict(case)
    shape = {k: case.pop(k) for k in ("c_in", "c_out", "kernel", "size")}
    grad_output, x, w, b = make(1, **shape, **case)
    ours = gl.conv2d_backward(grad_output, x, w, **case)
    numeric = numerical_grads(grad_output, x, w, b, **case)
    for name, o, n in zip(("grad_input", "grad_weight", "grad_bias"), ours, numeric):
        np.testing.assert_allclose(o, n, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize(("c_in", "c_out", "groups"), [(8, 4, 4), (4, 8, 2), (6, 6, 3)])
def test_gradient_keeps_the_group_structure(c_in, c_out, groups):
    """A gradient arriving at the outputs of group g reaches only the inputs of group g."""
    grad_output, x, w, _ = make(2, c_in, c_out, 3, 5, groups=groups, padding=1)
    out_pg, in_pg = c_out // groups, c_in // groups
    for g in range(groups):
        only_g = np.zeros_like(grad_output)
        only_g[:, g * out_pg : (g + 1) * out_pg] = grad_output[:, g * out_pg : (g + 1) * out_pg]
        gi, gw, gb = gl.conv2d_backward(only_g, x, w, padding=1, groups=groups)
        reached = np.abs(gi).sum(axis=(0, 2, 3)) > 0  # (C_in,)
        np.testing.assert_array_equal(reached, np.arange(c_in) // in_pg == g)
        touched = np.abs(gw).sum(axis=(1, 2, 3)) > 0  # (C_out,)
        np.testing.assert_array_equal(touched, np.arange(c_out) // out_pg == g)


def test_rows_the_stride_never_reaches_get_zero_gradient():
    grad_output, x, w, _ = make(1, 2, 2, 3, 8, stride=2)  # 8 = 3 + 2 * 2 + 1 unused row
    gi, _, _ = gl.conv2d_backward(grad_output, x, w, stride=2)
    assert np.all(gi[..., -1, :] == 0) and np.all(gi[..., :, -1] == 0)
    assert np.any(gi[..., -2, :] != 0)


def test_grad_bias_sums_over_batch_and_positions():
    grad_output, x, w, _ = make(3, 4, 6, 2, 5, groups=2)
    _, _, gb = gl.conv2d_backward(grad_output, x, w, groups=2)
    np.testing.assert_allclose(gb, grad_output.sum(axis=(0, 2, 3)))


# ---------------------------------------------------------------- errors


def test_grad_output_of_the_wrong_shape_is_rejected():
    grad_output, x, w, _ = make(2, 4, 2, 3, 6, stride=2, groups=2)
    with pytest.raises(ValueError, match=r"grad_output must have the shape of the convolution's output, "
                                         r"\(2, 2, 2, 2\), but got grad_output of shape \(2, 2, 3, 3\)"):
        gl.conv2d_backward(np.zeros((2, 2, 3, 3)), x, w, stride=2, groups=2)
    with pytest.raises(ValueError, match=r"output, \(2, 2, 2, 2\), but got grad_output of shape \(2, 2, 2\)"):
        gl.conv2d_backward(grad_output[0], x, w, stride=2, groups=2)  # unbatched grad, batched input


def test_grad_output_dtype_must_match():
    grad_output, x, w, _ = make(1, 2, 2, 3, 5)
    with pytest.raises(TypeError, match=r"input dtype \(float64\) and grad_output dtype \(float32\)"):
        gl.conv2d_backward(grad_output.astype(np.float32), x, w)


def test_invalid_forward_configuration_is_rejected_as_by_conv2d():
    with pytest.raises(ValueError, match=r"groups \(3\) must divide in_channels \(8\)"):
        gl.conv2d_backward(np.zeros((1, 4, 2, 2)), np.zeros((1, 8, 6, 6)), np.zeros((4, 3, 5, 5)), groups=3)


def test_empty_batch_gives_zero_weight_and_bias_gradients_like_torch():
    x, w = np.zeros((0, 4, 5, 5)), np.ones((2, 2, 3, 3))
    grad_output = np.zeros((0, 2, 3, 3))
    ours = gl.conv2d_backward(grad_output, x, w, groups=2)
    theirs = torch_grads(grad_output, x, w, np.zeros(2), groups=2)
    for o, t in zip(ours, theirs):
        assert o.shape == t.shape
        np.testing.assert_array_equal(o, t)


def test_an_infinite_weight_gives_grad_input_inf_only_where_its_tap_read():
    """grad_input never multiplies the padding or the stride's skipped positions (inf * 0 = NaN)."""
    w = np.ones((1, 1, 3, 3))
    w[0, 0, 0, 0] = np.inf
    x, grad_output = np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))
    grad_input = gl.conv2d_backward(grad_output, x, w, stride=2, padding=1)[0]
    theirs = torch_grads(grad_output, x, w, np.zeros(1), stride=2, padding=1)[0]
    np.testing.assert_array_equal(grad_input, theirs)
    assert not np.isnan(grad_input).any() and np.isinf(grad_input).sum() == 4


@pytest.mark.parametrize("case", list(CASES.values())[:4], ids=list(CASES.keys())[:4])
def test_float16_is_computed_in_float32_and_rounded_once(case):
    c_in, c_out, groups, kernel, size, stride, padding, dilation = case
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    grad_output, x, w, b = (a.astype(np.float16) for a in make(2, c_in, c_out, kernel, size, **kwargs))
    ours = gl.conv2d_backward(grad_output, x, w, **kwargs)
    in_float32 = gl.conv2d_backward(*(a.astype(np.float32) for a in (grad_output, x, w)), **kwargs)
    theirs = torch_grads(grad_output, x, w, b, **kwargs)
    for o, f, t in zip(ours, in_float32, theirs):
        assert o.dtype == t.dtype == np.float16
        np.testing.assert_array_equal(o, f.astype(np.float16))
        np.testing.assert_allclose(o, t, **TOLERANCES[o.dtype])
