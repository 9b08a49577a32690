"""gconv_lib.networks: each network's layers add up to its published parameters and multiply-adds.

The published figures are torchvision's model tables (parameters exactly; "GFLOPS", which
are multiply-adds, to their two decimals), which agree with the papers (MobileNetV2: 3.4M
parameters, 300M MACs; ResNet-50: 4.1 GFLOPs of multiply-adds; ...). Parameters are matched
exactly: every weight, bias, norm and layer scale is accounted for, so a missing, extra or
mis-sized layer shows.
"""

import pytest

from gconv_lib import networks

NETS = {build().name: build for build in networks.NETWORKS}


@pytest.mark.parametrize("name", NETS)
def test_parameters_and_macs_are_the_published_ones(name):
    net = NETS[name]()
    params, gmacs = networks.PUBLISHED[name]
    assert net.params() == params
    assert net.macs() / 1e9 == pytest.approx(gmacs, abs=0.006)


@pytest.mark.parametrize("name", NETS)
def test_layers_chain_and_end_at_7x7(name):
    net = NETS[name]()
    assert net.convs[0].in_channels == 3 and net.convs[0].size == 224
    assert net.size == 7  # every network ends on a 7 x 7 map before its pooling
    for conv in net.convs:
        assert conv.in_channels % conv.groups == 0 and conv.out_channels % conv.groups == 0
        assert conv.size in (1, 7, 14, 28, 56, 112, 224)


def test_the_kinds_of_layer_each_network_is_known_for():
    depthwise = lambda net: [c for c in net.convs if c.groups == c.in_channels > 1]
    assert len(depthwise(networks.mobilenet_v2())) == 17
    assert {c.kernel_size for c in depthwise(networks.convnext_t())} == {7}
    assert {c.groups for c in networks.resnext50_32x4d().convs} == {1, 32}
    regnet = networks.regnety_400mf().convs
    assert {c.groups for c in regnet if c.kernel_size == 3} == {1, 6, 13, 26, 55}  # stem; group width 8
    assert sum(c.kernel_size == 5 for c in depthwise(networks.efficientnet_b0())) == 2 + 3 + 4
    assert len(networks.resnet50().convs) == 53 and len(networks.shufflenet_v2().convs) == 56
