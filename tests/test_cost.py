"""weight_shape, param_count, macs and connectivity against torch and against conv2d itself."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl

torch = pytest.importorskip("torch")

# (in_channels, out_channels, kernel_size, groups)
LAYERS = {
    "normal": (8, 4, 3, 1),
    "grouped in>out": (8, 4, 3, 2),
    "grouped in>out, 1 output per group": (8, 4, (1, 5), 4),
    "grouped in<out": (4, 8, (3, 2), 2),
    "grouped in=out": (6, 6, 5, 3),
    "depthwise": (16, 16, 3, 16),
    "depthwise multiplier": (3, 12, 7, 3),
    "pointwise": (64, 128, 1, 1),
}


@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_weight_shape_and_param_count_equal_torch(layer, bias):
    c_in, c_out, kernel, groups = layer
    module = torch.nn.Conv2d(c_in, c_out, kernel, groups=groups, bias=bias)
    assert gl.weight_shape(c_in, c_out, kernel, groups) == tuple(module.weight.shape)
    expected = module.weight.numel() + (module.bias.numel() if bias else 0)
    assert gl.param_count(c_in, c_out, kernel, groups, bias=bias) == expected
    assert expected == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_transposed_weight_shape_and_param_count_equal_torch(layer, bias):
    c_in, c_out, kernel, groups = layer
    module = torch.nn.ConvTranspose2d(c_in, c_out, kernel, groups=groups, bias=bias)
    assert gl.weight_shape(c_in, c_out, kernel, groups, transposed=True) == tuple(module.weight.shape)
    assert module.weight.shape[:2] == (c_in, c_out // groups)
    expected = sum(p.numel() for p in module.parameters())
    assert gl.param_count(c_in, c_out, kernel, groups, bias=bias, transposed=True) == expected
    # as many parameters as the convolution with the same arguments, in another shape
    assert expected == gl.param_count(c_in, c_out, kernel, groups, bias=bias)


def test_groups_divides_the_parameters():
    dense = gl.param_count(32, 64, 3, groups=1, bias=False)
    for g in gl.valid_groups(32, 64):
        assert gl.param_count(32, 64, 3, groups=g, bias=False) * g == dense


# (layer, input_size, kwargs)
MAC_CASES = {
    "normal pad 1": ((8, 4, 3, 1), 10, dict(padding=1)),
    "grouped stride 2": ((8, 4, 3, 2), (9, 12), dict(stride=2)),
    "grouped in<out same even": ((4, 8, (3, 2), 2), 7, dict(padding="same")),
    "depthwise dilation": ((16, 16, 3, 16), 11, dict(dilation=2, padding="valid")),
    "multiplier, pair args": ((3, 12, 7, 3), (20, 15), dict(stride=(2, 1), padding=(3, 0), dilation=(1, 2))),
    "batch 5": ((6, 6, 5, 3), 8, dict(padding=2, batch=5)),
    "empty batch": ((6, 6, 5, 3), 8, dict(batch=0)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch: may copy the input
@pytest.mark.parametrize(("layer", "size", "kwargs"), MAC_CASES.values(), ids=MAC_CASES.keys())
def test_macs_is_outputs_times_taps_per_output(layer, size, kwargs):
    """Each output value takes (C_in / g) * kH * kW multiply-adds; count the outputs with torch."""
    c_in, c_out, kernel, groups = layer
    kwargs = dict(kwargs)
    batch = kwargs.pop("batch", 1)
    h, w = (size, size) if np.isscalar(size) else size
    module = torch.nn.Conv2d(c_in, c_out, kernel, groups=groups, **kwargs)
    with torch.no_grad():
        out = module(torch.zeros(batch, c_in, h, w))
    taps = module.weight[0].numel()  # (C_in / g) * kH * kW
    assert gl.macs(c_in, c_out, kernel, size, groups=groups, batch=batch, **kwargs) == out.numel() * taps


# (layer, input_size, kwargs) of nn.ConvTranspose2d
TRANSPOSED_MAC_CASES = {
    "normal": ((4, 8, 3, 1), 5, dict()),
    "grouped stride 2 pad 1 output_padding 1": ((8, 4, 4, 2), (6, 7), dict(stride=2, padding=1,
                                                                            output_padding=1)),
    "grouped in<out, pair args": ((4, 12, (3, 2), 4), (5, 9), dict(stride=(2, 3), padding=(1, 0),
                                                                   output_padding=(1, 2), dilation=(1, 2))),
    "depthwise dilation": ((6, 6, 3, 6), 7, dict(dilation=2, padding=2)),
    "depthwise multiplier": ((3, 9, 5, 3), 4, dict(stride=3, output_padding=2)),
    "output_padding < dilation": ((4, 4, 3, 2), 5, dict(dilation=3, output_padding=2)),
    "batch 3": ((6, 6, 2, 3), 4, dict(stride=2, batch=3)),
}


TRANSPOSED = pytest.mark.parametrize(("layer", "size", "kwargs"), TRANSPOSED_MAC_CASES.values(),
                                     ids=TRANSPOSED_MAC_CASES.keys())


@TRANSPOSED
def test_transposed_macs_is_inputs_times_taps_per_input(layer, size, kwargs):
    """Each input value meets (C_out / g) * kH * kW weights; count the inputs and the weights
    of one input channel with torch."""
    c_in, c_out, kernel, groups = layer
    kwargs = dict(kwargs)
    batch = kwargs.pop("batch", 1)
    h, w = (size, size) if np.isscalar(size) else size
    module = torch.nn.ConvTranspose2d(c_in, c_out, kernel, groups=groups, **kwargs)
    x = torch.zeros(batch, c_in, h, w)
    with torch.no_grad():
        assert module(x).numel() > 0
    taps = module.weight[0].numel()  # (C_out / g) * kH * kW: the weights input channel 0 meets
    assert gl.macs(c_in, c_out, kernel, size, groups=groups, batch=batch, transposed=True, **kwargs) == \
        x.numel() * taps


@TRANSPOSED
def test_transposed_macs_equal_the_convolution_it_transposes(layer, size, kwargs):
    """A transposed layer C_in -> C_out does the work of the convolution C_out -> C_in that
    shrinks its output (less output_padding, rows no product reaches) back to its input:
    the same products, run backwards."""
    c_in, c_out, kernel, groups = layer
    kwargs = dict(kwargs)
    batch, output_padding = kwargs.pop("batch", 1), kwargs.pop("output_padding", 0)
    k, st, p, d = (_pair(v) for v in (kernel, kwargs.get("stride", 1), kwargs.get("padding", 0),
                                      kwargs.get("dilation", 1)))
    out_size = [gl.conv_transpose_output_size(*a) for a in zip(_pair(size), k, st, p, (0, 0), d)]
    assert [gl.conv_output_size(*a) for a in zip(out_size, k, st, p, d)] == list(_pair(size))
    forward = gl.macs(c_out, c_in, kernel, out_size, groups=groups, batch=batch, **kwargs)
    assert gl.macs(c_in, c_out, kernel, size, groups=groups, batch=batch, transposed=True,
                   output_padding=output_padding, **kwargs) == forward


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def test_transposed_macs_ignore_output_padding_and_padding():
    """Padding crops the scattered output and output_padding adds to it: neither changes the products."""
    base = gl.macs(8, 4, 3, 10, groups=2, stride=2, transposed=True)
    assert base == 10 * 10 * 8 * 2 * 9
    assert gl.macs(8, 4, 3, 10, groups=2, stride=2, padding=1, output_padding=1, transposed=True) == base


def test_macs_counts_the_naive_loop(monkeypatch):
    """The naive loop does exactly macs() multiply-adds: count them by instrumenting it."""
    calls = []
    original = gl.naive.correlate2d_single

    def counting(xc, k, stride, dilation):
        out = original(xc, k, stride, dilation)
        calls.append(out.size * k.size)  # one multiply-add per output value and kernel tap
        return out

    monkeypatch.setattr(gl.naive, "correlate2d_single", counting)
    gl.conv2d_naive(np.ones((2, 6, 7, 8)), np.ones((4, 3, 3, 2)), stride=(2, 1), padding=1, groups=2)
    assert sum(calls) == gl.macs(6, 4, (3, 2), (7, 8), groups=2, stride=(2, 1), padding=1, batch=2)


def test_macs_docstring_numbers():
    assert gl.macs(64, 64, 3, 56, padding=1) == 56 * 56 * 64 * 64 * 9
    assert gl.macs(64, 64, 3, 56, padding=1) == 64 * gl.macs(64, 64, 3, 56, padding=1, groups=64)


# ---------------------------------------------------------------- groups from a weight count
@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
def test_groups_for_weight_count_inverts_param_count(layer):
    c_in, c_out, kernel, _ = layer
    for g in gl.valid_groups(c_in, c_out):
        count = gl.param_count(c_in, c_out, kernel, g, bias=False)
        assert gl.groups_for_weight_count(count, c_in, c_out, kernel) == g
        module = torch.nn.Conv2d(c_in, c_out, kernel, groups=g, bias=False)
        assert gl.groups_for_weight_count(module.weight.numel(), c_in, c_out, kernel) == g


def test_groups_for_weight_count_decodes_tensorrt():
    """TensorRT: "kernel weights has count X but Y expected", Y = C_in * kH*kW * C_out / groups."""
    # a depthwise layer written without its group attribute: grouped weights, dense layer
    assert gl.groups_for_weight_count(32 * 1 * 3 * 3, 32, 32, 3) == 32
    assert gl.groups_for_weight_count(32 * 32 * 3 * 3, 32, 32, 3) == 1
    # a reported case (unet-tensorrt #15): X = 4718592, Y = 2359296 = 512 * 3*3 * 512 / 1;
    # X is twice the dense count, which no groups value explains
    assert gl.param_count(512, 512, 3, bias=False) == 2359296
    assert gl.groups_for_weight_count(4718592, 512, 512, 3) is None
    assert gl.groups_for_weight_count(0, 3, 64, 3) is None  # TNN #1341: count 0, weights missing
    assert gl.groups_for_weight_count(9216 // 3, 32, 32, 3) is None  # g = 3 does not divide 32


# ---------------------------------------------------------------- connectivity
@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
def test_connectivity_is_block_diagonal(layer):
    c_in, c_out, _, groups = layer
    m = gl.connectivity(c_in, c_out, groups)
    assert m.shape == (c_out, c_in) and m.dtype == bool
    cout_g, cin_g = c_out // groups, c_in // groups
    expected = np.kron(np.eye(groups, dtype=bool), np.ones((cout_g, cin_g), dtype=bool))
    np.testing.assert_array_equal(m, expected)
    assert m.sum(axis=1).tolist() == [cin_g] * c_out  # each output reads C_in / g inputs
    assert m.sum(axis=0).tolist() == [cout_g] * c_in  # each input feeds C_out / g outputs


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))
def test_connectivity_is_what_conv2d_reads(groups, a, b, seed):
    """Output o depends on input channel c exactly when connectivity says so: perturb c, see
    which outputs move, in gconv_lib and in torch."""
    c_in, c_out = groups * a, groups * b
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((1, c_in, 4, 4)), rng.standard_normal((c_out, a, 3, 3))
    base, base_torch = gl.conv2d(x, w, groups=groups), gl.torch_conv(x, w, groups=groups)
    seen = np.zeros((c_out, c_in), dtype=bool)
    seen_torch = np.zeros((c_out, c_in), dtype=bool)
    for c in range(c_in):
        bumped = x.copy()
        bumped[:, c] += 1.0
        seen[:, c] = np.abs(gl.conv2d(bumped, w, groups=groups) - base).max(axis=(0, 2, 3)) > 1e-9
        moved = np.abs(gl.torch_conv(bumped, w, groups=groups) - base_torch)  # (1, C_out, H_out, W_out)
        seen_torch[:, c] = moved.max(axis=(0, 2, 3)) > 1e-9
    np.testing.assert_array_equal(seen, gl.connectivity(c_in, c_out, groups))
    np.testing.assert_array_equal(seen_torch, gl.connectivity(c_in, c_out, groups))


def test_connectivity_is_the_block_diagonal_weight_pattern():
    w = np.ones((6, 2, 1, 1))
    np.testing.assert_array_equal(gl.connectivity(6, 6, 3), gl.block_diagonal_weight(w, 3)[:, :, 0, 0] != 0)


# ---------------------------------------------------------------- errors
COST_ERRORS = {
    "groups !| in_channels": (
        lambda: gl.param_count(8, 4, 3, groups=3), ValueError, "groups (3) must divide in_channels (8)"),
    "groups !| out_channels": (
        lambda: gl.weight_shape(8, 6, 3, groups=4), ValueError, "groups (4) must divide out_channels (6)"),
    "groups 0": (
        lambda: gl.connectivity(4, 4, 0), ValueError, "groups must be a positive integer, but got groups=0"),
    "groups float": (
        lambda: gl.macs(4, 4, 3, 8, groups=2.0), TypeError, "groups must be an int, but got float (2.0)"),
    "in_channels 0": (
        lambda: gl.connectivity(0, 4), ValueError,
        "in_channels must be a positive integer, but got in_channels=0"),
    "kernel_size 0": (
        lambda: gl.weight_shape(4, 4, 0), ValueError,
        "kernel_size must be positive, but got kernel_size=(0, 0)"),
    "kernel_size of 3 values": (
        lambda: gl.param_count(4, 4, (3, 3, 3)), ValueError,
        "kernel_size must be an int or a sequence of 2 ints for weight_shape, but got kernel_size=(3, 3, 3)"),
    "kernel_size bool": (
        lambda: gl.param_count(4, 4, True), TypeError,
        "kernel_size must be an int or a sequence of 2 ints, but got bool (True)"),
    "stride 0": (
        lambda: gl.macs(4, 4, 3, 8, stride=0), ValueError, "stride must be positive, but got stride=(0, 0)"),
    "dilation 0": (
        lambda: gl.macs(4, 4, 3, 8, dilation=(1, 0)), ValueError,
        "dilation must be positive, but got dilation=(1, 0)"),
    "input_size 0": (
        lambda: gl.macs(4, 4, 3, 0), ValueError, "input_size must be positive, but got input_size=(0, 0)"),
    "input_size float": (
        lambda: gl.macs(4, 4, 3, 8.5), TypeError,
        "input_size must be an int or a sequence of 2 ints, but got float (8.5)"),
    "negative batch": (
        lambda: gl.macs(4, 4, 3, 8, batch=-1), ValueError, "batch must be non-negative, but got batch=-1"),
    "batch float": (
        lambda: gl.macs(4, 4, 3, 8, batch=2.0), TypeError, "batch must be an int, but got float (2.0)"),
    "'same' with a stride": (
        lambda: gl.macs(4, 4, 3, 8, stride=2, padding="same"), ValueError,
        "padding='same' needs stride 1 in every dimension, but got stride=(2, 2)"),
    "empty output": (
        lambda: gl.macs(4, 4, 5, (4, 9)), ValueError,
        "the output would be empty: output size (0, 5) for input size (4, 9)"),
    "transposed groups !| out_channels": (
        lambda: gl.weight_shape(8, 6, 3, groups=4, transposed=True), ValueError,
        "groups (4) must divide out_channels (6)"),
    "transposed 'same'": (
        lambda: gl.macs(4, 4, 3, 8, padding="same", transposed=True), TypeError,
        "a transposed layer takes padding as an int or a pair of ints, not 'same'"),
    "transposed negative padding": (
        lambda: gl.macs(4, 4, 3, 8, padding=(1, -1), transposed=True), ValueError,
        "padding must be non-negative, but got padding=(1, -1)"),
    "transposed output_padding too large": (
        lambda: gl.macs(4, 4, 3, 8, stride=2, output_padding=(1, 2), transposed=True), ValueError,
        "output_padding must be smaller than stride or dilation in every dimension, "
        "but along spatial axis 1 output_padding=2, stride=2, dilation=1"),
    "transposed empty output": (
        lambda: gl.macs(4, 4, 3, (1, 4), padding=(2, 0), transposed=True), ValueError,
        "the output would be empty: output size (-1, 6) for input size (1, 4)"),
    "output_padding without transposed": (
        lambda: gl.macs(4, 4, 3, 8, stride=2, output_padding=1), ValueError,
        "output_padding is for transposed layers only, but got output_padding=1 with transposed=False"),
    "weight count float": (
        lambda: gl.groups_for_weight_count(288.0, 32, 32, 3), TypeError,
        "count must be an int, but got float (288.0)"),
    "weight count, groups-less layer invalid": (
        lambda: gl.groups_for_weight_count(288, 0, 32, 3), ValueError,
        "in_channels must be a positive integer, but got in_channels=0"),
}


@pytest.mark.parametrize(("call", "error", "message"), COST_ERRORS.values(), ids=COST_ERRORS.keys())
def test_cost_errors(call, error, message):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        call()
