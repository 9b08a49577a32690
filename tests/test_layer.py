"""gconv_lib.Conv2d mirrors torch.nn.Conv2d: shapes, initialisation, forward, and the round trip."""

import re

import numpy as np
import pytest
from conftest import TOL

import gconv_lib as gl

torch = pytest.importorskip("torch")
# torch warns that 'same' with an even kernel may copy the input: expected here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

# constructor arguments, as for nn.Conv2d
LAYERS = {
    "normal": dict(in_channels=3, out_channels=5, kernel_size=3),
    "grouped in>out, stride": dict(in_channels=8, out_channels=4, kernel_size=(3, 5), stride=2, groups=2),
    "grouped in<out, same, no bias": dict(in_channels=4, out_channels=8, kernel_size=(2, 3),
                                          padding="same", groups=4, bias=False),
    "grouped in=out, dilation": dict(in_channels=6, out_channels=6, kernel_size=3, dilation=(2, 1), groups=3,
                                     padding=(2, 1)),
    "depthwise": dict(in_channels=4, out_channels=4, kernel_size=3, padding=1, groups=4),
    "depthwise multiplier, valid": dict(in_channels=3, out_channels=9, kernel_size=5, padding="valid",
                                        groups=3),
    "reflect": dict(in_channels=4, out_channels=6, kernel_size=3, padding=2, groups=2,
                    padding_mode="reflect"),
    "replicate, same, even kernel": dict(in_channels=3, out_channels=3, kernel_size=(2, 4), padding="same",
                                         groups=3, padding_mode="replicate"),
    "circular, stride, padding pair": dict(in_channels=2, out_channels=4, kernel_size=3, stride=2,
                                           padding=(1, 3), padding_mode="circular"),
}


@pytest.mark.parametrize("kwargs", LAYERS.values(), ids=LAYERS.keys())
def test_from_torch_to_torch_round_trip(kwargs):
    """torch -> gconv_lib -> torch keeps configuration and weights, and both compute the same."""
    torch.manual_seed(0)
    module = torch.nn.Conv2d(**kwargs, dtype=torch.float64)
    layer = gl.Conv2d.from_torch(module)
    np.testing.assert_array_equal(layer.weight, module.weight.detach().numpy())
    assert (layer.bias is None) == (module.bias is None)
    back = layer.to_torch()
    assert isinstance(back, torch.nn.Conv2d)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups"):
        assert getattr(back, name) == getattr(module, name), name
    assert back.weight.dtype == torch.float64
    for ours, theirs in zip(back.parameters(), module.parameters()):
        assert torch.equal(ours, theirs)

    x = np.random.default_rng(1).standard_normal((2, kwargs["in_channels"], 11, 10))
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(layer(x), expected, **TOL[np.dtype(np.float64)])


@pytest.mark.parametrize("kwargs", LAYERS.values(), ids=LAYERS.keys())
def test_to_torch_from_torch_round_trip(kwargs):
    """gconv_lib -> torch -> gconv_lib, in float32 (the default dtype, as in torch)."""
    layer = gl.Conv2d(**kwargs, seed=3)
    assert layer.weight.dtype == np.float32
    module = layer.to_torch()
    again = gl.Conv2d.from_torch(module)
    np.testing.assert_array_equal(again.weight, layer.weight)
    if layer.bias is None:
        assert again.bias is None
    else:
        np.testing.assert_array_equal(again.bias, layer.bias)
    x = np.random.default_rng(2).standard_normal((1, kwargs["in_channels"], 9, 12)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    out = again(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, **TOL[np.dtype(np.float32)])


@pytest.mark.parametrize("kwargs", LAYERS.values(), ids=LAYERS.keys())
def test_shapes_and_initialisation_follow_torch(kwargs):
    """Same weight/bias shapes as nn.Conv2d; values from U(-b, b), b = 1/sqrt(C_in/g * kH * kW)."""
    layer, module = gl.Conv2d(**kwargs, seed=0), torch.nn.Conv2d(**kwargs)
    assert layer.weight.shape == tuple(module.weight.shape)
    assert (layer.bias is None) == (module.bias is None)
    if layer.bias is not None:
        assert layer.bias.shape == tuple(module.bias.shape)
    bound = 1 / np.sqrt(np.prod(layer.weight.shape[1:]))
    torch_bound = float(module.weight.detach().abs().max())
    assert np.abs(layer.weight).max() <= bound
    assert torch_bound <= bound  # torch's kaiming_uniform(a=sqrt(5)) has the same bound
    assert np.abs(layer.weight).max() > 0.5 * bound  # spread over the interval, not all near 0
    if layer.bias is not None:
        assert np.abs(layer.bias).max() <= bound


def test_seed_makes_the_weights_reproducible():
    a, b, c = (gl.Conv2d(8, 4, 3, groups=2, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.array_equal(a.weight, c.weight)


def test_call_is_conv2d_with_the_layers_arguments():
    layer = gl.Conv2d(6, 4, (3, 2), stride=(1, 2), padding=(1, 0), dilation=2, groups=2, dtype=np.float64,
                      seed=1)
    x = np.random.default_rng(0).standard_normal((3, 6, 8, 9))
    np.testing.assert_array_equal(layer(x), gl.conv2d(x, layer.weight, layer.bias, (1, 2), (1, 0), 2, 2))
    np.testing.assert_array_equal(layer(x[0]), layer(x)[0])


def test_repr_shows_the_configuration():
    assert repr(gl.Conv2d(8, 4, 5, groups=4, bias=False)) == (
        "Conv2d(8, 4, kernel_size=(5, 5), stride=1, padding=0, dilation=1, groups=4, bias=False)")


LAYER_ERRORS = {
    "groups !| in_channels": (
        lambda: gl.Conv2d(8, 4, 3, groups=3), ValueError, "groups (3) must divide in_channels (8)"),
    "groups !| out_channels": (
        lambda: gl.Conv2d(8, 6, 3, groups=4), ValueError, "groups (4) must divide out_channels (6)"),
    "groups 0": (
        lambda: gl.Conv2d(8, 4, 3, groups=0), ValueError,
        "groups must be a positive integer, but got groups=0"),
    "kernel_size 0": (
        lambda: gl.Conv2d(8, 4, 0), ValueError, "kernel_size must be positive, but got kernel_size=(0, 0)"),
    "'same' with a stride": (
        lambda: gl.Conv2d(8, 4, 3, stride=2, padding="same"), ValueError,
        "padding='same' needs stride 1 in every dimension, but got stride=(2, 2)"),
    "unknown padding": (
        lambda: gl.Conv2d(8, 4, 3, padding="full"), ValueError,
        "padding must be an int, a tuple, 'valid' or 'same', but got 'full'"),
    "unknown padding_mode": (
        lambda: gl.Conv2d(8, 4, 3, padding_mode="zero"), ValueError,
        "padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
        "but got padding_mode='zero'"),
    "reflect padding as large as the input": (
        lambda: gl.Conv2d(2, 2, 3, padding=(1, 3), padding_mode="reflect")(np.zeros((1, 2, 5, 3))),
        ValueError, "padding_mode='reflect' needs padding smaller than the input size, but along spatial "
                    "axis 1 the padding is (3, 3) and the input size 3"),
    "circular padding wrapping twice": (
        lambda: gl.Conv2d(2, 2, 1, padding=4, padding_mode="circular")(np.zeros((2, 3, 5), np.float32)),
        ValueError, "padding_mode='circular' needs padding at most the input size, but along spatial "
                    "axis 0 the padding is (4, 4) and the input size 3"),
    "replicate an empty input": (
        lambda: gl.Conv2d(2, 2, 1, padding=1, padding_mode="replicate")(np.zeros((0, 2, 0, 3), np.float32)),
        ValueError, "padding_mode='replicate' needs a non-empty input, but along spatial axis 0 the input "
                    "size is 0"),
    "int layer": (
        lambda: gl.Conv2d(8, 4, 3, dtype=np.int64), TypeError,
        "dtype must be float16, float32 or float64, but got int64"),
    "input with the wrong channels": (
        lambda: gl.Conv2d(8, 4, 3)(np.zeros((1, 6, 5, 5), dtype=np.float32)), ValueError,
        "weight.shape[1] must be in_channels // groups = 6 // 1 = 6, but weight has shape (4, 8, 3, 3)"),
}


TORCH_REFUSES_TOO = {"unknown padding_mode": lambda: torch.nn.Conv2d(8, 4, 3, padding_mode="zero"),
                     "reflect padding as large as the input": lambda: torch.nn.Conv2d(
                         2, 2, 3, padding=(1, 3), padding_mode="reflect")(torch.zeros(1, 2, 5, 3)),
                     "circular padding wrapping twice": lambda: torch.nn.Conv2d(
                         2, 2, 1, padding=4, padding_mode="circular")(torch.zeros(2, 3, 5)),
                     "replicate an empty input": lambda: torch.nn.Conv2d(
                         2, 2, 1, padding=1, padding_mode="replicate")(torch.zeros(0, 2, 0, 3))}


@pytest.mark.parametrize(("call", "error", "message"), LAYER_ERRORS.values(), ids=LAYER_ERRORS.keys())
def test_layer_errors(call, error, message, request):
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        call()
    name = request.node.callspec.id
    if name in TORCH_REFUSES_TOO:
        with pytest.raises((RuntimeError, ValueError)):
            TORCH_REFUSES_TOO[name]()


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64], ids=["f16", "f32", "f64"])
def test_padding_mode_and_dtype_survive_the_round_trip(mode, dtype):
    module = torch.nn.Conv2d(4, 2, 3, padding=1, groups=2, padding_mode=mode, dtype=dtype)
    layer = gl.Conv2d.from_torch(module)
    assert layer.padding_mode == mode and layer.weight.dtype == str(dtype).split(".")[1]
    back = layer.to_torch()
    assert back.padding_mode == mode and back.weight.dtype == dtype
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5)).astype(layer.weight.dtype)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(layer(x), expected, **TOL[x.dtype])
