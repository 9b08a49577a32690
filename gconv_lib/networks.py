"""The Conv2d layers of eight ImageNet networks at 224 x 224, for ``python -m gconv_lib.bench``.

Each network is written from its paper, in the layout of its plain ``torch.nn`` definition
(torchvision's, which follows the papers; nothing is downloaded or imported from it):
every ``Conv2d`` with its input size, channels, kernel, stride, padding and groups, in
order, plus the parameters and multiply-adds of the rest (batch norms, squeeze-and-excite
and classifier ``Linear`` layers, ConvNeXt's ``LayerNorm``, pointwise ``Linear`` and layer
scale), so that each total can be checked against the published figures
(:data:`PUBLISHED`, tested in ``tests/test_networks.py``).

Squeeze-and-excite layers are ``Conv2d`` 1x1 on a 1 x 1 map and are listed; ConvNeXt's
pointwise layers are ``nn.Linear`` in its definition and are not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .cost import macs


@dataclass(frozen=True)
class ConvLayer:
    """``Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)``
    applied to a ``size x size`` map."""

    in_channels: int
    out_channels: int
    kernel_size: int
    size: int
    groups: int = 1
    stride: int = 1
    padding: int = 0
    bias: bool = False

    def params(self) -> int:
        return self.out_channels * (self.in_channels // self.groups * self.kernel_size**2 + self.bias)

    def macs(self) -> int:
        return macs(self.in_channels, self.out_channels, self.kernel_size, self.size,
                    groups=self.groups, stride=self.stride, padding=self.padding)


@dataclass
class Network:
    """The ``Conv2d`` layers of one network (batch 1), and what the rest of it adds up to."""

    name: str
    convs: list = field(default_factory=list)
    other_params: int = 0
    other_macs: int = 0
    size: int = 224  # the map size the next layer sees, while the network is being written

    def conv(self, c_in, c_out, k, stride=1, groups=1, bias=False, norm=True, size=None):
        """Append a Conv2d (padding ``(k - 1) // 2``), followed by a norm of 2 * c_out parameters."""
        layer = ConvLayer(c_in, c_out, k, self.size if size is None else size, groups, stride,
                          (k - 1) // 2, bias)
        self.convs.append(layer)
        self.other_params += 2 * c_out if norm else 0
        if size is None:
            self.size = (self.size + 2 * layer.padding - k) // stride + 1
        return self

    def linear(self, n_in, n_out, positions=1):
        """A ``Linear`` layer with bias, applied at ``positions`` places."""
        self.other_params += n_in * n_out + n_out
        self.other_macs += n_in * n_out * positions
        return self

    def se(self, channels, squeeze):
        """Squeeze-and-excite: two Conv2d 1x1 with bias on the pooled 1 x 1 map."""
        self.conv(channels, squeeze, 1, bias=True, norm=False, size=1)
        return self.conv(squeeze, channels, 1, bias=True, norm=False, size=1)

    def params(self) -> int:
        return sum(c.params() for c in self.convs) + self.other_params

    def macs(self) -> int:
        return sum(c.macs() for c in self.convs) + self.other_macs


def _divisible(v, divisor=8):
    """Channels rounded to a multiple of 8, never down by more than 10 % (MobileNet's rule)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def resnet50(width=lambda planes: planes, groups=1, name="ResNet-50") -> Network:
    """He et al. 2016, bottlenecks [3, 4, 6, 3], stride in the 3x3 (torchvision's v1.5).

    ResNeXt-50 32x4d (Xie et al. 2017) is the same with 3x3 convolutions of 32 groups,
    twice as wide.
    """
    net = Network(name).conv(3, 64, 7, stride=2)
    net.size = 56  # max pool 3x3 stride 2
    c_in = 64
    for planes, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for b in range(blocks):
            s, at = (stride if b == 0 else 1), net.size
            w = width(planes)
            net.conv(c_in, w, 1).conv(w, w, 3, stride=s, groups=groups).conv(w, 4 * planes, 1)
            if b == 0:
                net.conv(c_in, 4 * planes, 1, stride=s, size=at)  # projection shortcut
            c_in = 4 * planes
    return net.linear(2048, 1000)


def resnext50_32x4d() -> Network:
    return resnet50(width=lambda planes: planes * 2, groups=32, name="ResNeXt-50 32x4d")


def mobilenet_v2() -> Network:
    """Sandler et al. 2018, Table 2: inverted residuals (t, c, n, s)."""
    net, c_in = Network("MobileNetV2").conv(3, 32, 3, stride=2), 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            hidden = c_in * t
            if t != 1:
                net.conv(c_in, hidden, 1)
            net.conv(hidden, hidden, 3, stride=s if i == 0 else 1, groups=hidden).conv(hidden, c, 1)
            c_in = c
    return net.conv(320, 1280, 1).linear(1280, 1000)


def mobilenet_v3_large() -> Network:
    """Howard et al. 2019, Table 1: (kernel, expansion, out, SE, stride)."""
    net, c_in = Network("MobileNetV3-Large").conv(3, 16, 3, stride=2), 16
    for k, exp, c, se, s in [(3, 16, 16, 0, 1), (3, 64, 24, 0, 2), (3, 72, 24, 0, 1),
                             (5, 72, 40, 1, 2), (5, 120, 40, 1, 1), (5, 120, 40, 1, 1),
                             (3, 240, 80, 0, 2), (3, 200, 80, 0, 1), (3, 184, 80, 0, 1),
                             (3, 184, 80, 0, 1), (3, 480, 112, 1, 1), (3, 672, 112, 1, 1),
                             (5, 672, 160, 1, 2), (5, 960, 160, 1, 1), (5, 960, 160, 1, 1)]:
        if exp != c_in:
            net.conv(c_in, exp, 1)
        net.conv(exp, exp, k, stride=s, groups=exp)
        if se:
            net.se(exp, _divisible(exp // 4))
        net.conv(exp, c, 1)
        c_in = c
    return net.conv(160, 960, 1).linear(960, 1280).linear(1280, 1000)


def efficientnet_b0() -> Network:
    """Tan and Le 2019, Table 1: MBConv stages (expansion, kernel, stride, out, layers)."""
    net, c_in = Network("EfficientNet-B0").conv(3, 32, 3, stride=2), 32
    for t, k, s, c, n in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]:
        for i in range(n):
            hidden = c_in * t
            if t != 1:
                net.conv(c_in, hidden, 1)
            net.conv(hidden, hidden, k, stride=s if i == 0 else 1, groups=hidden)
            net.se(hidden, max(1, c_in // 4)).conv(hidden, c, 1)
            c_in = c
    return net.conv(320, 1280, 1).linear(1280, 1000)


def shufflenet_v2() -> Network:
    """Ma et al. 2018, Table 5, 1.0x: stages of [4, 8, 4] units, [116, 232, 464] channels."""
    net = Network("ShuffleNetV2 1.0x").conv(3, 24, 3, stride=2)
    net.size, c_in = 56, 24  # max pool 3x3 stride 2
    for c, units in [(116, 4), (232, 8), (464, 4)]:
        half, at = c // 2, net.size
        # the first unit halves the map: both branches see the whole input
        net.conv(c_in, c_in, 3, stride=2, groups=c_in).conv(c_in, half, 1)
        net.conv(c_in, half, 1, size=at).conv(half, half, 3, stride=2, groups=half, size=at)
        net.conv(half, half, 1)
        for _ in range(units - 1):  # the others: one branch on half the channels
            net.conv(half, half, 1).conv(half, half, 3, groups=half).conv(half, half, 1)
        c_in = c
    return net.conv(464, 1024, 1).linear(1024, 1000)


def regnety_400mf() -> Network:
    """Radosavovic et al. 2020: RegNetY-400MF, widths [48, 104, 208, 440], depths [1, 3, 6, 6],
    group width 8, squeeze-and-excite of a quarter of each block's input width."""
    net, c_in = Network("RegNetY-400MF").conv(3, 32, 3, stride=2), 32
    for w, depth in [(48, 1), (104, 3), (208, 6), (440, 6)]:
        for b in range(depth):
            s, at = (2 if b == 0 else 1), net.size
            net.conv(c_in, w, 1).conv(w, w, 3, stride=s, groups=w // 8)
            net.se(w, round(0.25 * c_in)).conv(w, w, 1)
            if b == 0:
                net.conv(c_in, w, 1, stride=s, size=at)  # projection shortcut
            c_in = w
    return net.linear(440, 1000)


def convnext_t() -> Network:
    """Liu et al. 2022, ConvNeXt-T: stages [3, 3, 9, 3] of [96, 192, 384, 768] channels."""
    net = Network("ConvNeXt-T").conv(3, 96, 4, stride=4, bias=True)
    net.convs[-1] = ConvLayer(3, 96, 4, 224, stride=4, bias=True)  # the stem has no padding
    net.size = 56
    dims, depths = [96, 192, 384, 768], [3, 3, 9, 3]
    for i, (dim, depth) in enumerate(zip(dims, depths)):
        if i:  # downsampling: LayerNorm, then Conv2d 2x2 stride 2
            layer = ConvLayer(dims[i - 1], dim, 2, net.size, stride=2, bias=True)
            net.convs.append(layer)
            net.other_params += 2 * dims[i - 1]
            net.size //= 2
        for _ in range(depth):
            net.conv(dim, dim, 7, groups=dim, bias=True)  # its LayerNorm: 2 * dim parameters
            net.linear(dim, 4 * dim, net.size**2).linear(4 * dim, dim, net.size**2)
            net.other_params += dim  # layer scale
    net.other_params += 2 * 768  # the head's LayerNorm
    return net.linear(768, 1000)


NETWORKS = (mobilenet_v2, mobilenet_v3_large, efficientnet_b0, shufflenet_v2, regnety_400mf,
            resnet50, resnext50_32x4d, convnext_t)

#: Published totals, (parameters, GMACs at 224 x 224): the parameter counts and "GFLOPS"
#: (multiply-adds) of torchvision's model tables, which match the papers' (MobileNetV2
#: 300M MACs, MobileNetV3-Large 219M, EfficientNet-B0 0.39B FLOPs, ShuffleNetV2 1x 146M,
#: RegNetY-400MF 0.4 GF, ResNet-50 4.1 GFLOPs, ResNeXt-50 4.2 GFLOPs, ConvNeXt-T 4.5 GFLOPs).
PUBLISHED = {
    "MobileNetV2": (3_504_872, 0.30),
    "MobileNetV3-Large": (5_483_032, 0.22),
    "EfficientNet-B0": (5_288_548, 0.39),
    "ShuffleNetV2 1.0x": (2_278_604, 0.14),
    "RegNetY-400MF": (4_344_144, 0.40),
    "ResNet-50": (25_557_032, 4.09),
    "ResNeXt-50 32x4d": (25_028_904, 4.23),
    "ConvNeXt-T": (28_589_128, 4.46),
}
