"""classify, valid_groups and depthwise_conv2d: the cases of ``groups`` the book names.

``classify`` calls a layer valid exactly when ``torch.nn.Conv2d`` builds it; the kinds follow
the channel counts; the reasons read as English ("1 output", not "1 outputs").
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl

torch = pytest.importorskip("torch")

# (in_channels, out_channels, groups) -> (kind, reason, in_per_group, out_per_group)
KINDS = {
    (8, 4, 1): ("normal", "every output channel sees every input channel", 8, 4),
    (1, 1, 1): ("normal", "every output channel sees every input channel", 1, 1),
    (8, 4, 2): ("grouped in>out", "2 groups, each 4 inputs -> 2 outputs", 4, 2),
    (8, 4, 4): ("grouped in>out", "4 groups, each 2 inputs -> 1 output", 2, 1),
    (4, 8, 2): ("grouped in<out", "2 groups, each 2 inputs -> 4 outputs", 2, 4),
    (6, 6, 2): ("grouped in=out", "2 groups, each 3 inputs -> 3 outputs", 3, 3),
    (4, 4, 4): ("depthwise", "each output channel sees exactly one input channel", 1, 1),
    (3, 6, 3): ("depthwise with multiplier",
                "each input channel feeds its own 2 output channels (multiplier K=2)", 1, 2),
    (32, 64, 32): ("depthwise with multiplier",
                   "each input channel feeds its own 2 output channels (multiplier K=2)", 1, 2),
}


@pytest.mark.parametrize(("layer", "expected"), KINDS.items(),
                         ids=[f"{c_in}->{c_out} g={g}" for c_in, c_out, g in KINDS])
def test_classify_names_the_case(layer, expected):
    case = gl.classify(*layer)
    assert case.valid
    assert (case.kind, case.reason, case.in_per_group, case.out_per_group) == expected


def test_1_input_1_output_grammar():
    """Every valid reason agrees in number with its counts: no '1 inputs' or '1 outputs'."""
    for c_in in range(1, 13):
        for c_out in range(1, 13):
            for g in gl.valid_groups(c_in, c_out):
                reason = gl.classify(c_in, c_out, g).reason
                assert not re.search(r"\b1 (inputs|outputs|output channels)\b", reason), reason
                assert not re.search(r"\b([2-9]|\d\d+) (input|output)\b(?! channel)", reason), reason


INVALID = {
    "groups !| in_channels": ((8, 4, 3), "groups (3) must divide in_channels (8)"),
    "groups !| out_channels": ((8, 6, 4), "groups (4) must divide out_channels (6)"),
    "groups > channels": ((4, 4, 8), "groups (8) must divide in_channels (4)"),
    "groups 0": ((4, 4, 0), "groups must be a positive integer, but got groups=0"),
    "groups -1": ((4, 4, -1), "groups must be a positive integer, but got groups=-1"),
    "groups float": ((4, 4, 2.0), "groups must be a positive integer, but got groups=2.0"),
    "groups bool": ((4, 4, True), "groups must be a positive integer, but got groups=True"),
}


@pytest.mark.parametrize(("layer", "reason"), INVALID.values(), ids=INVALID.keys())
def test_classify_says_why_a_layer_is_invalid(layer, reason):
    case = gl.classify(*layer)
    assert (case.kind, case.valid, case.reason) == ("invalid", False, reason)
    assert (case.in_per_group, case.out_per_group) == (0, 0)


@pytest.mark.parametrize(("args", "error", "message"), [
    ((0, 4, 1), ValueError, "in_channels must be a positive integer, but got in_channels=0"),
    ((4, -2, 1), ValueError, "out_channels must be a positive integer, but got out_channels=-2"),
    ((4.0, 4, 1), TypeError, "in_channels must be an int, but got float (4.0)"),
    ((4, "4", 1), TypeError, "out_channels must be an int, but got str ('4')"),
], ids=["in_channels 0", "out_channels -2", "in_channels float", "out_channels str"])
def test_channel_counts_must_be_positive_ints(args, error, message):
    for f in (gl.classify, lambda c_in, c_out, _: gl.valid_groups(c_in, c_out)):
        with pytest.raises(error, match="^" + re.escape(message) + "$"):
            f(*args)


def test_numpy_integers_are_ints():
    assert gl.classify(np.int64(8), np.int32(4), np.int64(2)) == gl.classify(8, 4, 2)
    assert gl.valid_groups(np.int64(8), 4) == [1, 2, 4]


def torch_builds(c_in, c_out, groups):
    try:
        torch.nn.Conv2d(c_in, c_out, 1, groups=groups)
    except (ValueError, TypeError, RuntimeError):
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 24), st.integers(1, 24), st.integers(-2, 26))
def test_classify_is_valid_exactly_when_torch_builds_the_layer(c_in, c_out, groups):
    case = gl.classify(c_in, c_out, groups)
    assert case.valid == torch_builds(c_in, c_out, groups)
    assert case.valid == (groups in gl.valid_groups(c_in, c_out))
    if case.valid:
        assert case.kind != "invalid"
        assert case.in_per_group * groups == c_in and case.out_per_group * groups == c_out
        assert (case.kind == "normal") == (groups == 1)
        depthwise = groups == c_in and groups > 1
        assert case.kind.startswith("depthwise") == depthwise
        if not depthwise and groups > 1:
            sign = ">" if c_in > c_out else "<" if c_in < c_out else "="
            assert case.kind == f"grouped in{sign}out"


@pytest.mark.parametrize(("c_in", "c_out", "expected"), [
    (8, 4, [1, 2, 4]), (6, 6, [1, 2, 3, 6]), (7, 5, [1]), (12, 18, [1, 2, 3, 6]), (1, 9, [1]),
])
def test_valid_groups_are_the_divisors_of_the_gcd(c_in, c_out, expected):
    assert gl.valid_groups(c_in, c_out) == expected
    assert expected == [g for g in range(1, max(c_in, c_out) + 2) if torch_builds(c_in, c_out, g)]


# ---------------------------------------------------------------- depthwise_conv2d
def test_depthwise_conv2d_is_conv2d_with_groups_c_in():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((8, 1, 3, 3)), rng.standard_normal(8)
    kwargs = dict(stride=2, padding=1, dilation=1)
    grouped = gl.conv2d(x, w, b, groups=4, **kwargs)
    np.testing.assert_array_equal(gl.depthwise_conv2d(x, w, b, **kwargs), grouped)
    np.testing.assert_array_equal(gl.depthwise_conv2d(x[0], w, b, **kwargs), grouped[0])
    np.testing.assert_array_equal(gl.depthwise_conv2d(x, w, b, groups=4, **kwargs),
                                  gl.depthwise_conv2d(x, w, b, **kwargs))


DEPTHWISE_ERRORS = {
    "weight with 2 channels per group": (
        (1, 4, 5, 5), (4, 2, 3, 3), {}, ValueError,
        "a depthwise weight has shape (K * C_in, 1, kH, kW), but got weight of shape (4, 2, 3, 3)"),
    "2-d input": (
        (5, 5), (4, 1, 3, 3), {}, ValueError,
        "depthwise_conv2d expects input of shape (N, C_in, H, W) or (C_in, H, W), but got shape (5, 5)"),
    "groups other than C_in": (
        (1, 4, 5, 5), (4, 1, 3, 3), dict(groups=2), ValueError,
        "depthwise_conv2d always uses groups = in_channels (4), but got groups=2"),
    "C_out not a multiple of C_in": (
        (1, 4, 5, 5), (6, 1, 3, 3), {}, ValueError,
        "groups (4) must divide out_channels (6, weight.shape[0])"),
    "no input channels": (
        (0, 5, 5), (4, 1, 3, 3), {}, ValueError,
        "in_channels must be at least 1, but input has shape (0, 5, 5)"),
    "a list": (
        [[[1.0]]], (4, 1, 3, 3), {}, TypeError, "input must be a NumPy array, but got list"),
    "groups a float equal to C_in": (
        (1, 3, 5, 5), (3, 1, 3, 3), dict(groups=3.0), TypeError,
        "groups must be an int, but got float (3.0)"),
    "groups True for one channel": (
        (1, 1, 5, 5), (1, 1, 3, 3), dict(groups=True), TypeError,
        "groups must be an int, but got bool (True)"),
}


@pytest.mark.parametrize(("x", "w", "kwargs", "error", "message"), DEPTHWISE_ERRORS.values(),
                         ids=DEPTHWISE_ERRORS.keys())
def test_depthwise_conv2d_errors(x, w, kwargs, error, message):
    x = np.zeros(x) if isinstance(x, tuple) else x
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        gl.depthwise_conv2d(x, np.zeros(w), **kwargs)
