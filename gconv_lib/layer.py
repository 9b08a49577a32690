"""``Conv2d``: a small layer object that mirrors ``torch.nn.Conv2d``.

It holds a weight and a bias as NumPy arrays, initialised as torch does, and calls
:func:`gconv_lib.conv2d`. ``Conv2d.from_torch`` and ``.to_torch`` move weights both ways.
Like ``nn.Conv2d`` it pads with zeros, or, with ``padding_mode``, by reflecting,
replicating or wrapping the input around (``numpy.pad`` does it, then the convolution
runs with no padding of its own).
"""

from __future__ import annotations

import numpy as np

from .conv import conv2d
from .cost import _pair, weight_shape
from .validate import FLOAT_DTYPES, _as_array, check_padding, check_padding_mode


class Conv2d:
    """A 2-D convolution layer with the constructor of ``torch.nn.Conv2d``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    stride, padding, dilation, groups
        As in :func:`gconv_lib.conv2d`.
    bias : bool, default True
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}, default 'zeros'
        What the ``padding`` rows and columns hold, as in ``torch.nn.Conv2d``: zeros, the
        input mirrored at its border (without repeating the border), the border repeated,
        or the input wrapped around from the other side. ``'reflect'`` needs each padding
        smaller than the input size, ``'circular'`` at most the input size.
    dtype : float16, float32 or float64, default float32
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
        check_padding_mode(padding_mode)
        if np.dtype(dtype) not in FLOAT_DTYPES:
            raise TypeError(f"dtype must be float16, float32 or float64, but got {np.dtype(dtype)}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.padding_mode = padding_mode
        shape = weight_shape(in_channels, out_channels, self.kernel_size, groups)
        # refuse at construction what no input could make valid ('same' with a stride, ...), as torch does
        self._padding_pairs()
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(np.prod(shape[1:]))
        self.weight = rng.uniform(-bound, bound, size=shape).astype(dtype)
        self.bias = rng.uniform(-bound, bound, size=out_channels).astype(dtype) if bias else None

    def _padding_pairs(self):
        """``((top, bottom), (left, right))``, checked against the other arguments."""
        return check_padding(self.padding, self.kernel_size, _pair(self.stride, "stride"),
                             _pair(self.dilation, "dilation"), 2, "Conv2d")

    def __call__(self, input):
        """Apply the layer: ``(N, C_in, H, W) -> (N, C_out, H_out, W_out)``."""
        if self.padding_mode == "zeros":
            return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                          self.groups)
        input, pairs = _as_array(input, "input"), self._padding_pairs()
        if input.ndim in (3, 4):  # (other shapes: conv2d says which ones it takes)
            mode = check_padding_mode(self.padding_mode, pairs, input.shape[-2:])
            input = np.pad(input, ((0, 0),) * (input.ndim - 2) + pairs, mode=mode)  # (..., H + pH, W + pW)
        return conv2d(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def __repr__(self):
        mode = "" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}"
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}{mode})")

    @classmethod
    def from_torch(cls, module):
        """Copy a ``torch.nn.Conv2d`` (configuration and weights) into a ``Conv2d``."""
        layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                    module.padding, module.dilation, module.groups, bias=module.bias is not None,
                    padding_mode=module.padding_mode)
        layer.weight = module.weight.detach().cpu().numpy().copy()
        layer.bias = None if module.bias is None else module.bias.detach().cpu().numpy().copy()
        return layer

    def to_torch(self):
        """A ``torch.nn.Conv2d`` with this layer's configuration and weights."""
        import torch

        module = torch.nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size,
                                 self.stride, self.padding, self.dilation, self.groups,
                                 bias=self.bias is not None, padding_mode=self.padding_mode,
                                 dtype=torch.from_numpy(self.weight).dtype)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(self.weight))
            if self.bias is not None:
                module.bias.copy_(torch.from_numpy(self.bias))
        return module
