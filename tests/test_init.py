"""Initialisation with groups: PyTorch's fan-in is C_in / g * kH * kW, and gl.Conv2d uses it.

``nn.Conv2d.reset_parameters`` calls ``kaiming_uniform_(weight, a=sqrt(5))``, whose bound
``gain * sqrt(3 / fan_in)`` with ``gain = sqrt(2 / (1 + 5))`` is ``1 / sqrt(fan_in)``; the
bias is drawn from the same interval. ``fan_in`` comes from the weight's shape
``(C_out, C_in / g, kH, kW)``, so groups raise the bound. ``fan_out`` is
``C_out * kH * kW`` whatever the groups (pytorch#23854): for a depthwise weight it counts
every output channel, though each input channel feeds only ``C_out / g`` of them.
"""

import math

import numpy as np
import pytest

import gconv_lib as gl

torch = pytest.importorskip("torch")

# (in_channels, out_channels, kernel_size, groups)
LAYERS = {
    "dense": (8, 16, 3, 1),
    "grouped g=4": (8, 16, 3, 4),
    "grouped in>out, (1, 5) kernel": (12, 6, (1, 5), 3),
    "depthwise": (32, 32, 3, 32),
    "depthwise multiplier 2": (16, 32, 5, 16),
}


def _kernel(kernel):
    return (kernel, kernel) if np.isscalar(kernel) else kernel


@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
def test_torch_fan_in_counts_one_group(layer):
    c_in, c_out, kernel, groups = layer
    kh, kw = _kernel(kernel)
    weight = torch.nn.Conv2d(c_in, c_out, kernel, groups=groups).weight
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    assert fan_in == c_in // groups * kh * kw
    assert fan_out == c_out * kh * kw  # not c_out // groups: groups do not enter fan_out


@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
def test_torch_default_bound_is_one_over_sqrt_fan_in(layer):
    """Re-draw nn.Conv2d's initial weight and bias from U(-b, b), b = 1 / sqrt(C_in / g * kH * kW),
    with the same seed: the same numbers."""
    c_in, c_out, kernel, groups = layer
    kh, kw = _kernel(kernel)
    bound = 1 / math.sqrt(c_in // groups * kh * kw)
    torch.manual_seed(0)
    module = torch.nn.Conv2d(c_in, c_out, kernel, groups=groups)
    torch.manual_seed(0)
    weight = torch.empty_like(module.weight).uniform_(-bound, bound)
    bias = torch.empty_like(module.bias).uniform_(-bound, bound)
    torch.testing.assert_close(module.weight.detach(), weight, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(module.bias.detach(), bias, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("layer", LAYERS.values(), ids=LAYERS.keys())
def test_gl_conv2d_uses_the_grouped_fan_in(layer):
    """gl.Conv2d draws weight and bias from U(-b, b) with torch's b, which groups raise:
    every value inside, and the largest close to b (the dense layer's bound would be
    sqrt(g) times smaller)."""
    c_in, c_out, kernel, groups = layer
    kh, kw = _kernel(kernel)
    bound = 1 / math.sqrt(c_in // groups * kh * kw)
    weights = np.concatenate([gl.Conv2d(c_in, c_out, kernel, groups=groups, seed=s).weight.ravel()
                              for s in range(20)])  # at least 20 * 288 values
    biases = np.concatenate([gl.Conv2d(c_in, c_out, kernel, groups=groups, seed=s).bias for s in range(20)])
    for values in (weights, biases):
        assert np.abs(values).max() <= np.float32(bound)
        assert np.abs(values).max() > 0.95 * bound
    # U(-b, b) has variance b^2 / 3: the 95 % interval of the sample variance is well within 10 %
    assert weights.var() == pytest.approx(bound**2 / 3, rel=0.1)


def test_kaiming_fan_out_counts_every_output_channel_for_a_depthwise_weight():
    """kaiming_normal_(mode='fan_out') on a depthwise weight (C, 1, 3, 3) uses C * 9, not 9:
    its std is sqrt(2 / (9 C)), where fan_in (9) gives sqrt(2 / 9), C times more variance
    (pytorch#23854)."""
    c = 256
    weight = torch.empty(c, 1, 3, 3)
    assert torch.nn.init._calculate_fan_in_and_fan_out(weight) == (9, 9 * c)
    torch.manual_seed(0)
    fan_out_std = torch.nn.init.kaiming_normal_(weight, mode="fan_out").std().item()
    assert fan_out_std == pytest.approx(math.sqrt(2 / (9 * c)), rel=0.05)
    fan_in_std = torch.nn.init.kaiming_normal_(weight, mode="fan_in").std().item()
    assert fan_in_std == pytest.approx(math.sqrt(2 / 9), rel=0.05)
