"""The benchmark's suites: which layers ``python -m gconv_lib.bench`` times, and how.

Each suite is a tuple of :class:`Layer`; :mod:`gconv_lib.networks` holds the networks
suite's layers. The layers are float32, at batch 8 unless said.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod

import numpy as np


@dataclass(frozen=True)
class Layer:
    """One call of the benchmark, e.g. ``conv2d(x, w, stride, padding, groups=groups)``.

    Attributes
    ----------
    name : str
    in_channels, out_channels, kernel_size : int
    size : int or tuple of int
        ``x`` has shape ``(batch, in_channels, *spatial)``, ``spatial = (size,) * nd`` for an int.
    groups, stride, padding, batch : int
    op : {"conv", "backward", "transposed"}
        ``conv1d``/``conv2d``/``conv3d`` (by ``nd``), ``conv2d_backward`` (all three
        gradients), or ``conv_transpose2d``, whose weight is ``(in_channels,
        out_channels // groups, k, k)``; a convolution's is ``(out_channels,
        in_channels // groups, *[k] * nd)``.
    nd : int
    """

    name: str
    in_channels: int
    out_channels: int
    kernel_size: int
    size: int | tuple
    groups: int = 1
    stride: int = 1
    padding: int = 0
    batch: int = 8
    op: str = "conv"
    nd: int = 2

    @property
    def kwargs(self) -> dict:
        """The keyword arguments of the call, for gconv_lib and torch alike."""
        return dict(stride=self.stride, padding=self.padding, groups=self.groups)

    @property
    def spatial(self) -> tuple:
        return self.size if isinstance(self.size, tuple) else (self.size,) * self.nd

    @property
    def out_spatial(self) -> tuple:
        k, s, p = self.kernel_size, self.stride, self.padding
        if self.op == "transposed":
            return tuple((n - 1) * s - 2 * p + k for n in self.spatial)
        return tuple((n + 2 * p - k) // s + 1 for n in self.spatial)

    @property
    def depthwise(self) -> bool:
        """One input channel per group, a forward (1, 2 or 3-d) or transposed layer: the
        floor applies (a backward pass also computes the weight's gradient, a reduction)."""
        return self.op in ("conv", "transposed") and self.in_channels == self.groups

    @property
    def shape(self) -> str:
        """A short description: ``64->64 k3 56px g1 s1``."""
        size = "x".join(map(str, self.size)) if isinstance(self.size, tuple) else self.size
        return (f"{self.in_channels}->{self.out_channels} k{self.kernel_size} {size}px "
                f"g{self.groups} s{self.stride}")

    def arrays(self, seed: int = 0, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
        """A random input ``(N, C_in, *spatial)`` and weight (see ``op``)."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((self.batch, self.in_channels, *self.spatial), dtype=dtype)
        channels = ((self.in_channels, self.out_channels // self.groups) if self.op == "transposed"
                    else (self.out_channels, self.in_channels // self.groups))
        w = rng.standard_normal((*channels, *[self.kernel_size] * self.nd), dtype=dtype)
        return x, w

    def macs(self) -> int:
        """Multiply-adds of the forward layer (a transposed one: every product it scatters)."""
        taps, n = self.kernel_size ** self.nd, self.batch
        if self.op == "transposed":
            return n * self.in_channels * prod(self.spatial) * self.out_channels // self.groups * taps
        return n * self.out_channels * prod(self.out_spatial) * self.in_channels // self.groups * taps

    def flops(self) -> int:
        """Floating-point operations of one call: 2 per multiply-add; the backward pass does
        the forward's multiply-adds twice (grad_input, grad_weight)."""
        return 2 * self.macs() * (2 if self.op == "backward" else 1)


#: conv2d at batch 8: the kinds of layer the book is about.
LAYERS = (
    Layer("dense 3x3 (ResNet)", 64, 64, 3, 56, padding=1),
    Layer("grouped 3x3 (ResNeXt 32x4d)", 128, 128, 3, 56, groups=32, padding=1),
    Layer("grouped 1x1 (ShuffleNet g=3)", 240, 240, 1, 28, groups=3),
    Layer("grouped 3x3 in>out", 256, 128, 3, 28, groups=8, padding=1),
    Layer("grouped 3x3 in<out", 64, 256, 3, 28, groups=16, padding=1),
    Layer("depthwise 3x3 s1 (MobileNet)", 32, 32, 3, 112, groups=32, padding=1),
    Layer("depthwise 3x3 s2 (MobileNetV2)", 144, 144, 3, 56, groups=144, stride=2, padding=1),
    Layer("depthwise 7x7 (ConvNeXt)", 96, 96, 7, 56, groups=96, padding=3),
)



#: Layers that torch runs in a fraction of a millisecond: batch 1, late-stage 7 x 7 and
#: 14 x 14 maps, 1x1 layers. Here the per-call costs (checks, planning, the pool) show.
SMALL = (
    Layer("dense 1x1 16->16 112px", 16, 16, 1, 112, batch=1),
    Layer("dense 3x3 late (ResNet stage 4)", 512, 512, 3, 7, padding=1, batch=1),
    Layer("dense 3x3 (ResNet stage 3)", 256, 256, 3, 14, padding=1, batch=1),
    Layer("dense 1x1 expand (ResNet stage 3)", 256, 1024, 1, 14, batch=1),
    Layer("dense 1x1 reduce (ResNet stage 4)", 2048, 512, 1, 7, batch=1),
    Layer("grouped 3x3 late (ResNeXt stage 4)", 1024, 1024, 3, 7, groups=32, padding=1, batch=1),
    Layer("grouped 3x3 (RegNetY g=26)", 208, 208, 3, 14, groups=26, padding=1, batch=1),
    Layer("dense 1x1 MobileNetV3 960->160", 960, 160, 1, 7, batch=1),
    Layer("depthwise 5x5 late (MobileNetV3)", 960, 960, 5, 7, groups=960, padding=2, batch=1),
    Layer("depthwise 3x3 14px", 384, 384, 3, 14, groups=384, padding=1, batch=1),
    Layer("depthwise 7x7 late (ConvNeXt)", 768, 768, 7, 7, groups=768, padding=3, batch=1),
)


def backward_suite(layers=LAYERS) -> tuple:
    """``conv2d_backward`` (grad_input, grad_weight, grad_bias) of each layer."""
    return tuple(replace(layer, op="backward") for layer in layers)


#: conv_transpose2d: decoder layers (DCGAN/U-Net style upsampling), grouped and depthwise.
TRANSPOSED = (
    Layer("up k4 s2 (DCGAN)", 256, 128, 4, 28, stride=2, padding=1, op="transposed"),
    Layer("up k4 s2 wide map", 128, 64, 4, 56, stride=2, padding=1, op="transposed"),
    Layer("up k2 s2 (U-Net)", 256, 128, 2, 28, stride=2, op="transposed"),
    Layer("grouped up k4 s2 g8", 128, 128, 4, 28, groups=8, stride=2, padding=1, op="transposed"),
    Layer("grouped k3 s1 g16", 128, 128, 3, 28, groups=16, padding=1, op="transposed"),
    Layer("depthwise k3 s1", 64, 64, 3, 56, groups=64, padding=1, op="transposed"),
)

#: conv1d: one long sequence, and audio/sequence-model layers.
CONV1D = (
    Layer("long sequence k3", 64, 64, 3, 200_000, padding=1, batch=1, nd=1),
    Layer("dense k3", 256, 256, 3, 4096, padding=1, nd=1),
    Layer("grouped k3 g8", 256, 256, 3, 4096, groups=8, padding=1, nd=1),
    Layer("depthwise k15", 256, 256, 15, 4096, groups=256, padding=7, nd=1),
    Layer("strided k4 s2", 64, 128, 4, 16_000, stride=2, padding=1, nd=1),
    Layer("pointwise k1", 256, 512, 1, 4096, nd=1),
)

#: conv3d: video-style layers, batch 2.
CONV3D = (
    Layer("dense 3x3x3", 64, 64, 3, (8, 28, 28), padding=1, batch=2, nd=3),
    Layer("grouped 3x3x3 g32", 128, 128, 3, (8, 28, 28), groups=32, padding=1, batch=2, nd=3),
    Layer("depthwise 3x3x3", 96, 96, 3, (8, 28, 28), groups=96, padding=1, batch=2, nd=3),
    Layer("pointwise 1x1x1", 128, 256, 1, (8, 28, 28), batch=2, nd=3),
    Layer("stem 3x3x3 s2", 3, 32, 3, (16, 112, 112), stride=2, padding=1, batch=1, nd=3),
)
