"""The bridge to PyTorch: run the same convolution through torch and compare.

``torch`` is an optional dependency, imported only when one of these functions is called
(``pip install "gconv_lib[torch]"``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .conv import conv1d, conv2d, conv3d

#: The tolerances the book and the tests use to call two results equal.
TOLERANCES = {np.dtype(np.float32): dict(rtol=1e-4, atol=1e-4),
              np.dtype(np.float64): dict(rtol=1e-10, atol=1e-10)}


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("comparing with PyTorch needs torch: pip install 'gconv_lib[torch]'") from e
    return torch


def torch_conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``torch.nn.functional.conv{1,2,3}d`` on NumPy arrays, returning a NumPy array.

    The dimension is taken from ``weight.ndim`` (4 for conv2d).

    Examples
    --------
    >>> torch_conv(np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3)), groups=2).ravel()
    array([9., 9.])
    """
    torch = _torch()
    fn = {3: torch.nn.functional.conv1d, 4: torch.nn.functional.conv2d,
          5: torch.nn.functional.conv3d}[np.ndim(weight)]
    t = (lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a)))
    with torch.no_grad(), warnings.catch_warnings():
        # torch warns that 'same' padding with an even kernel may copy the input; harmless here
        warnings.filterwarnings("ignore", message="Using padding='same'")
        out = fn(t(input), t(weight), t(bias), stride=stride, padding=padding,
                 dilation=dilation, groups=groups)
    return out.numpy()


@dataclass(frozen=True)
class TorchComparison:
    """The outcome of :func:`compare_with_torch`.

    Attributes
    ----------
    ours, theirs : ndarray
        gconv_lib's and torch's results.
    max_abs_diff : float
        The largest absolute difference between them.
    matches : bool
        True when they agree within :data:`TOLERANCES` for their dtype.
    """

    ours: np.ndarray
    theirs: np.ndarray
    max_abs_diff: float
    matches: bool

    def __str__(self):
        verdict = "matches" if self.matches else "DIFFERS FROM"
        return (f"gconv_lib {verdict} torch: output shape {self.ours.shape}, "
                f"max |difference| = {self.max_abs_diff:.1e}")


def compare_with_torch(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
                       fn=None):
    """Run one convolution through gconv_lib and through torch, and compare.

    Parameters
    ----------
    input, weight, bias, stride, padding, dilation, groups
        As in :func:`gconv_lib.conv2d` (or conv1d/conv3d, by ``weight.ndim``).
    fn : callable, optional
        The gconv_lib function to check (any strategy with conv2d's signature);
        default: ``conv1d``, ``conv2d`` or ``conv3d``.

    Returns
    -------
    TorchComparison

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, w = rng.standard_normal((2, 8, 7, 7)), rng.standard_normal((4, 2, 5, 5))
    >>> result = compare_with_torch(x, w, groups=4, padding=2)
    >>> result.matches, result.ours.shape
    (True, (2, 4, 7, 7))
    """
    if fn is None:
        fn = {3: conv1d, 4: conv2d, 5: conv3d}[np.ndim(weight)]
    ours = fn(input, weight, bias, stride, padding, dilation, groups)
    theirs = torch_conv(input, weight, bias, stride, padding, dilation, groups)
    diff = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    matches = ours.shape == theirs.shape and np.allclose(ours, theirs, **TOLERANCES[ours.dtype])
    return TorchComparison(ours, theirs, diff, bool(matches))
