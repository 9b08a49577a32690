"""gconv_lib's multiply-adds against torch's own counter: FLOPs = 2 x MACs.

``torch.utils.flop_counter.FlopCounterMode`` counts the convolutions torch runs, from the
shapes of its input, weight and output: ``2 * N * prod(out spatial) * prod(kernel) * C_out *
C_in / g`` for a convolution, and ``2 * N * prod(in spatial) * prod(kernel) * C_in *
C_out / g`` for a transposed one (each input value meets the weights of its channel). Both
count the products with padded zeros, and neither counts the bias.
"""

import numpy as np
import pytest

import gconv_lib as gl

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

# (in_channels, out_channels, kernel_size, groups, input_size, kwargs)
CONV = {
    "dense 3x3 pad 1": (8, 16, 3, 1, 12, dict(padding=1)),
    "dense 1x1 stride 2": (6, 4, 1, 1, (9, 7), dict(stride=2)),
    "grouped in>out g=2 dilation 2": (8, 4, 3, 2, 11, dict(dilation=2)),
    "grouped in<out g=4 stride (2, 1) pad (1, 0)": (8, 16, (3, 2), 4, (10, 9),
                                                     dict(stride=(2, 1), padding=(1, 0))),
    "grouped 'same' even kernel": (6, 6, 4, 3, 8, dict(padding="same")),
    "depthwise 3x3 stride 2": (16, 16, 3, 16, 14, dict(stride=2, padding=1)),
    "depthwise multiplier 2, 5x5 dilation (1, 2)": (4, 8, 5, 4, (13, 15), dict(padding=2, dilation=(1, 2))),
    "depthwise multiplier 3, batch 3": (3, 9, 3, 3, 7, dict(batch=3)),
}

# (in_channels, out_channels, kernel_size, groups, input_size, kwargs) of nn.ConvTranspose2d
TRANSPOSED = {
    "dense stride 2": (8, 4, 4, 1, 5, dict(stride=2, padding=1)),
    "grouped g=2 stride 2 output_padding 1": (8, 4, 3, 2, (6, 5),
                                              dict(stride=2, padding=1, output_padding=1)),
    "grouped in<out g=4 dilation 2": (4, 12, (3, 2), 4, 6, dict(dilation=2)),
    "depthwise stride 3": (6, 6, 3, 6, 4, dict(stride=3, output_padding=2)),
    "depthwise multiplier 2, batch 2": (3, 6, 5, 3, (4, 7), dict(stride=(1, 2), padding=(2, 1), batch=2)),
}


def torch_flops(module, input):
    """FLOPs that FlopCounterMode counts for one forward call of ``module``."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(input)
    return counter.get_total_flops()


def _input(c_in, size, batch):
    h, w = (size, size) if np.isscalar(size) else size
    return torch.zeros(batch, c_in, h, w)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch: may copy the input
@pytest.mark.parametrize(("c_in", "c_out", "kernel", "groups", "size", "kwargs"), CONV.values(),
                         ids=CONV.keys())
def test_conv2d_flops_are_twice_macs(c_in, c_out, kernel, groups, size, kwargs):
    kwargs = dict(kwargs)
    batch = kwargs.pop("batch", 1)
    module = torch.nn.Conv2d(c_in, c_out, kernel, groups=groups, **kwargs)
    flops = torch_flops(module, _input(c_in, size, batch))
    assert flops == 2 * gl.macs(c_in, c_out, kernel, size, groups=groups, batch=batch, **kwargs)


@pytest.mark.parametrize(("c_in", "c_out", "kernel", "groups", "size", "kwargs"), TRANSPOSED.values(),
                         ids=TRANSPOSED.keys())
def test_conv_transpose2d_flops_are_twice_macs(c_in, c_out, kernel, groups, size, kwargs):
    kwargs = dict(kwargs)
    batch = kwargs.pop("batch", 1)
    module = torch.nn.ConvTranspose2d(c_in, c_out, kernel, groups=groups, **kwargs)
    flops = torch_flops(module, _input(c_in, size, batch))
    assert flops == 2 * gl.macs(c_in, c_out, kernel, size, groups=groups, batch=batch, transposed=True,
                                **kwargs)


def test_flop_counter_sees_groups():
    """The counter divides by groups (it reads C_in / g from the weight's shape): a
    depthwise layer counts C_in times fewer FLOPs than the dense one."""
    x = torch.zeros(1, 32, 8, 8)
    dense = torch_flops(torch.nn.Conv2d(32, 32, 3, padding=1), x)
    depthwise = torch_flops(torch.nn.Conv2d(32, 32, 3, padding=1, groups=32), x)
    assert dense == 32 * depthwise == 2 * gl.macs(32, 32, 3, 8, padding=1)
