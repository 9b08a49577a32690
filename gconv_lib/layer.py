"""``Conv2d``: a small layer object that mirrors ``torch.nn.Conv2d``.

It holds a weight and a bias as NumPy arrays, initialised as torch does, and calls
:func:`gconv_lib.conv2d`. ``Conv2d.from_torch`` and ``.to_torch`` move weights both ways.
"""

from __future__ import annotations

import numpy as np

from .conv import conv2d
from .cost import _pair, weight_shape
from .validate import FLOAT_DTYPES, check_padding


class Conv2d:
    """A 2-D convolution layer with the constructor of ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride, padding, dilation, groups
        As in :func:`gconv_lib.conv2d`.
    bias : bool, default True
    padding_mode : {'zeros'}
        Only zero padding is implemented.
    dtype : float32 or float64, default float32
    seed : int or numpy.random.Generator, optional
        Source of the random initial weights.

    Attributes
    ----------
    weight : ndarray of shape (C_out, C_in // groups, kH, kW)
        Drawn from U(-b, b) with ``b = 1 / sqrt(C_in // groups * kH * kW)``, as torch does.
    bias : ndarray of shape (C_out,) or None
        Drawn from the same distribution.

    Examples
    --------
    >>> layer = Conv2d(8, 4, kernel_size=5, groups=4, bias=False, seed=0)
    >>> layer.weight.shape
    (4, 2, 5, 5)
    >>> layer(np.zeros((1, 8, 9, 9), dtype=np.float32)).shape
    (1, 4, 5, 5)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=np.float32, seed=None):
        if padding_mode != "zeros":
            raise ValueError(f"padding_mode must be 'zeros' (the only mode implemented), "
                             f"but got padding_mode={padding_mode!r}")
        if np.dtype(dtype) not in FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, but got {np.dtype(dtype)}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        shape = weight_shape(in_channels, out_channels, self.kernel_size, groups)
        # refuse at construction what no input could make valid ('same' with a stride, ...), as torch does
        check_padding(padding, self.kernel_size, _pair(stride, "stride"), _pair(dilation, "dilation"), 2,
                      "Conv2d")
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(np.prod(shape[1:]))
        self.weight = rng.uniform(-bound, bound, size=shape).astype(dtype)
        self.bias = rng.uniform(-bound, bound, size=out_channels).astype(dtype) if bias else None

    def __call__(self, input):
        """Apply the layer: ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``."""
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)

    def __repr__(self):
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None})")

    @classmethod
    def from_torch(cls, module):
        """Copy a ``torch.nn.Conv2d`` (configuration and weights) into a ``Conv2d``."""
        if module.padding_mode != "zeros":
            raise ValueError(f"only padding_mode='zeros' is implemented, but the module has "
                             f"padding_mode={module.padding_mode!r}")
        layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                    module.padding, module.dilation, module.groups, bias=module.bias is not None)
        layer.weight = module.weight.detach().cpu().numpy().copy()
        layer.bias = None if module.bias is None else module.bias.detach().cpu().numpy().copy()
        return layer

    def to_torch(self):
        """A ``torch.nn.Conv2d`` with this layer's configuration and weights."""
        import torch

        module = torch.nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size,
                                 self.stride, self.padding, self.dilation, self.groups,
                                 bias=self.bias is not None, dtype=torch.from_numpy(self.weight).dtype)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(self.weight))
            if self.bias is not None:
                module.bias.copy_(torch.from_numpy(self.bias))
        return module
