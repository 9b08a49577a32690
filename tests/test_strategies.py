"""Every strategy against the naive loop (the oracle), and the block-diagonal weight's structure.

The strategies share ``conv2d``'s signature: ``conv2d_im2col``, ``conv2d_split``,
``conv2d_block_diagonal``, ``conv2d`` itself, and ``depthwise_conv2d`` where the case is
depthwise (groups = C_in). The oracle is checked against torch in test_conv2d.py.
"""

import numpy as np
import pytest
from conftest import CASES, TOL
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl

depthwise = gl.depthwise_conv2d  # takes groups too, which must then be C_in

STRATEGIES = {
    "conv2d": gl.conv2d,
    "im2col": gl.conv2d_im2col,
    "split": gl.conv2d_split,
    "block_diagonal": gl.conv2d_block_diagonal,
    "depthwise": depthwise,
}


GENERAL = {name: f for name, f in STRATEGIES.items() if f is not depthwise}
DEPTHWISE_CASES = {name: case for name, case in CASES.items() if case.is_depthwise}


def assert_matches_naive(strategy, conv_case, dtype):
    x, w, b = conv_case.arrays(dtype)
    ours = strategy(x, w, b, **conv_case.kwargs)
    oracle = gl.conv2d_naive(x, w, b, **conv_case.kwargs)
    assert ours.shape == oracle.shape
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, oracle, **TOL[dtype])


@pytest.mark.parametrize("strategy", GENERAL.values(), ids=GENERAL.keys())
def test_strategy_matches_naive(strategy, conv_case, float_dtype):
    assert_matches_naive(strategy, conv_case, float_dtype)


@pytest.mark.parametrize("depthwise_case", DEPTHWISE_CASES.values(), ids=DEPTHWISE_CASES.keys())
def test_depthwise_conv2d_matches_naive(depthwise_case, float_dtype):
    assert_matches_naive(depthwise, depthwise_case, float_dtype)


@st.composite
def small_valid_configs(draw):
    """A small conv2d configuration valid by construction (the naive loop is slow)."""
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if draw(st.booleans()):
        stride, padding = 1, draw(st.sampled_from(["same", "valid"]))
    else:
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    pads = [0, 0] if padding == "valid" else (
        [d * (k - 1) for k, d in zip(kernel, dilation)] if padding == "same" else [2 * p for p in padding])
    size = [max(1, d * (k - 1) + 1 - p) + draw(st.integers(0, 3)) for k, d, p in zip(kernel, dilation, pads)]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n = draw(st.sampled_from([None, 1, 2]))
    x = rng.standard_normal(((n,) if n else ()) + (c_in, *size))
    w = rng.standard_normal((c_out, c_in // groups, *kernel))
    b = rng.standard_normal(c_out) if draw(st.booleans()) else None
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@settings(max_examples=40, deadline=None)
@given(small_valid_configs())
def test_every_strategy_matches_naive_property(config):
    x, w, b, kwargs = config
    oracle = gl.conv2d_naive(x, w, b, **kwargs)
    for name, strategy in STRATEGIES.items():
        if strategy is depthwise and kwargs["groups"] != x.shape[-3]:
            continue
        np.testing.assert_allclose(strategy(x, w, b, **kwargs), oracle, **TOL[x.dtype], err_msg=name)


def test_strategies_reject_what_conv2d_rejects():
    """Each strategy checks its arguments itself: same error, same message."""
    x, w = np.zeros((1, 8, 5, 5)), np.zeros((4, 3, 3, 3))
    for strategy in GENERAL.values():
        with pytest.raises(ValueError, match=r"^groups \(3\) must divide in_channels \(8\)$"):
            strategy(x, w, groups=3)
    with pytest.raises(ValueError, match=r"^groups \(3\) must divide in_channels \(8\)$"):
        gl.conv2d_naive(x, w, groups=3)


# ---------------------------------------------------------------- block_diagonal_weight
LAYERS = {"in>out": (8, 4, 2), "in<out": (4, 8, 2), "in=out": (6, 6, 3), "depthwise": (4, 4, 4),
          "depthwise multiplier": (5, 10, 5), "groups=1": (3, 2, 1)}


@pytest.mark.parametrize(("c_in", "c_out", "groups"), LAYERS.values(), ids=LAYERS.keys())
def test_block_diagonal_weight_structure(c_in, c_out, groups):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((c_out, c_in // groups, 2, 3)).astype(np.float32)
    dense = gl.block_diagonal_weight(w, groups)
    assert dense.shape == (c_out, c_in, 2, 3)
    assert dense.dtype == w.dtype
    cout_g, cin_g = c_out // groups, c_in // groups
    for g in range(groups):
        block = dense[g * cout_g : (g + 1) * cout_g, g * cin_g : (g + 1) * cin_g]
        np.testing.assert_array_equal(block, w[g * cout_g : (g + 1) * cout_g])
    # zero exactly outside the blocks: the connectivity pattern
    outside = ~gl.connectivity(c_in, c_out, groups)  # (C_out, C_in)
    assert not dense[outside].any()
    assert np.count_nonzero(dense) == w.size


@pytest.mark.parametrize(("weight", "groups", "error", "rule"), [
    ([[1.0]], 1, TypeError, r"weight must be a NumPy array of shape \(C_out, C_in // groups, \*kernel\), "
                            r"but got list"),
    (np.zeros((4, 2)), 1, ValueError, r"weight must have shape \(C_out, C_in // groups, \*kernel\), "
                                      r"but got shape \(4, 2\)"),
    (np.zeros((4, 2, 3, 3)), 0, ValueError, r"groups must be a positive integer, but got groups=0"),
    (np.zeros((4, 2, 3, 3)), 2.0, TypeError, r"groups must be an int, but got float \(2.0\)"),
    (np.zeros((4, 2, 3, 3)), 3, ValueError,
     r"groups \(3\) must divide out_channels \(4, weight.shape\[0\]\)"),
], ids=["list", "2-d", "groups 0", "groups float", "groups !| C_out"])
def test_block_diagonal_weight_errors(weight, groups, error, rule):
    with pytest.raises(error, match=rule):
        gl.block_diagonal_weight(weight, groups)


def test_block_diagonal_weight_accepts_numpy_integers():
    w = np.ones((4, 1, 1, 1))
    np.testing.assert_array_equal(gl.block_diagonal_weight(w, np.int64(4))[:, :, 0, 0], np.eye(4))
