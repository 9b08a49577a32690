"""The bridge to PyTorch: run the same convolution through torch and compare.

``torch`` is an optional dependency, imported only when one of these functions is called
(``pip install "gconv_lib[torch]"``).

**Deliberate differences from torch.** Everywhere else gconv_lib gives torch's answer
(the same shape and dtype, the same values within :data:`TOLERANCES`, NaN and infinities
in the same places) or refuses what torch refuses, with a clearer error. Each row is
pinned by a test of the same name in ``tests/test_differences.py``, which checks both
what torch does and what gconv_lib does.

.. list-table::
   :header-rows: 1
   :widths: 18 36 46

   * - case
     - torch
     - gconv_lib, and why
   * - ``integer-arrays``
     - computes integer convolutions (int32, int64) on the CPU
     - TypeError: the arrays must be float16, float32 or float64. A convolution layer
       computes in floating point; integer sums would also need torch's wrap-around on
       overflow. Convert with ``x.astype(np.float32)``.
   * - ``complex-arrays``
     - computes complex convolutions
     - TypeError, as for integers: gconv_lib's layers are real-valued.
   * - ``bfloat16``
     - computes bfloat16 convolutions
     - TypeError that names the dtype: NumPy has no bfloat16, so a bfloat16 tensor cannot
       become an array (torch's own ``.numpy()`` fails on it). Convert with ``.float()``.
   * - ``float16-rounding``
     - rounds some partial sums of a float16 convolution to float16
     - computes in float32 and rounds the result to float16 once: its results are the
       float32 results, rounded, and differ from torch's float16 ones in the last bits
       (within ``TOLERANCES[float16]``).
   * - ``no-input-channels``
     - an input with 0 channels gives an output with 0 channels, whatever the weight says
     - ValueError: a layer that reads no channel is a bug to report, not an empty result.
   * - ``empty-batch-checks``
     - with an empty batch (N = 0) skips some checks: ``dilation=0`` in ``conv2d``;
       ``dilation=0``, any ``output_padding``, empty input sizes and empty outputs in
       ``conv_transpose2d``
     - checks every argument whatever the batch size: a call that is refused for one
       image is refused for none. (An empty batch may still have empty spatial sizes in
       ``conv2d``, as in torch, whose rule this is.)
   * - ``padding-nonfinite-float32``
     - ``conv2d`` and the weight gradient, where an infinite or NaN weight (or gradient)
       meets the zero padding: the oneDNN kernels, which torch picks for float32 by batch
       size, groups, kernel size and thread count (on some CPUs for float16 too), skip
       the padded taps and give finite values; its other kernels, float64 always,
       multiply them (``inf * 0 = NaN``)
     - multiplies them in every dtype, as torch's float64 does, so the same numbers
       give the same NaN whichever dtype and whichever backend. Strides and transposed
       convolutions never multiply an inserted zero, in torch or here.
   * - ``block-diagonal-nonfinite``
     - a grouped ``conv2d`` never multiplies one group's inputs by another's weights
     - :func:`~gconv_lib.conv2d_block_diagonal` is, by its definition, the dense convolution
       with the zero-filled :func:`~gconv_lib.block_diagonal_weight`, and equals torch's
       ``conv2d`` with that weight: an infinite or NaN input makes NaN (``inf * 0``) in
       every group's output that reads its position. It shows what ``groups`` means; for
       torch's grouped answer use ``conv2d``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .cases import depthwise_conv2d
from .conv import conv1d, conv2d, conv3d

#: The tolerances the book and the tests use to call two results equal (float16: a few
#: units in the last place of values of about 1 to 10, where float16's spacing is 2**-10 to 2**-7).
TOLERANCES = {np.dtype(np.float16): dict(rtol=1e-2, atol=1e-2),
              np.dtype(np.float32): dict(rtol=1e-4, atol=1e-4),
              np.dtype(np.float64): dict(rtol=1e-10, atol=1e-10)}


def _dimension(weight) -> int:
    """1, 2 or 3 spatial dimensions, from the weight (C_out, C_in // groups, *kernel)."""
    ndim = np.ndim(weight)
    if ndim not in (3, 4, 5):
        raise ValueError(f"weight must have 3, 4 or 5 dimensions (conv1d, conv2d, conv3d), "
                         f"but has shape {np.shape(weight)}")
    return ndim - 2


def _torch():
    try:
        import torch
    except ImportError as e:
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
    nd = _dimension(weight)
    fn = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d, 3: torch.nn.functional.conv3d}[nd]
    t = (lambda a: None if a is None else torch.from_numpy(np.array(a)))  # a copy: any strides, writable
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
        The largest absolute difference between their finite values (``inf`` when the
        shapes differ, or when one has NaN or an infinity where the other does not).
    matches : bool
        True when they have the same shape and dtype, NaN in the same places, the same
        infinities in the same places, and the rest agrees within :data:`TOLERANCES`
        for that dtype.
    """

    ours: np.ndarray
    theirs: np.ndarray
    max_abs_diff: float
    matches: bool

    def __str__(self):
        verdict = "matches" if self.matches else "DIFFERS FROM"
        return (f"gconv_lib {verdict} torch: output shape {self.ours.shape}, "
                f"max |difference| = {self.max_abs_diff:.1e}")


def compare_with_torch(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=None,
                       fn=None):
    """Run one convolution through gconv_lib and through torch, and compare.

    Parameters
    ----------
    input, weight, bias, stride, padding, dilation
        As in :func:`gconv_lib.conv2d` (or conv1d/conv3d, by ``weight.ndim``).
    groups : int, optional
        As in :func:`gconv_lib.conv2d`. Default 1, or ``C_in`` when ``fn`` is
        :func:`~gconv_lib.depthwise_conv2d` (which sets it itself).
    fn : callable, optional
        The gconv_lib function to check (any strategy with conv2d's signature, or
        ``depthwise_conv2d``); default: ``conv1d``, ``conv2d`` or ``conv3d``.

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
    >>> compare_with_torch(x, rng.standard_normal((16, 1, 3, 3)), fn=depthwise_conv2d).matches
    True
    """
    if fn is None:
        fn = {1: conv1d, 2: conv2d, 3: conv3d}[_dimension(weight)]
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    ours = fn(input, weight, bias, **kwargs, **({} if groups is None else {"groups": groups}))
    if groups is None:  # what fn used: depthwise_conv2d takes one group per input channel
        groups = np.shape(input)[-np.ndim(weight) + 1] if fn is depthwise_conv2d else 1
    theirs = torch_conv(input, weight, bias, groups=groups, **kwargs)
    if ours.shape != theirs.shape:  # a strategy under test can be wrong in its shape too
        return TorchComparison(ours, theirs, float("inf"), False)
    if not all(np.array_equal(where(ours), where(theirs)) for where in (np.isnan, np.isposinf, np.isneginf)):
        return TorchComparison(ours, theirs, float("inf"), False)  # NaN or inf in other places
    finite = np.isfinite(theirs)
    ours64, theirs64 = ours[finite].astype(np.float64), theirs[finite].astype(np.float64)
    diff = float(np.max(np.abs(ours64 - theirs64))) if ours64.size else 0.0
    matches = ours.dtype == theirs.dtype and np.allclose(ours64, theirs64, **TOLERANCES[ours.dtype])
    return TorchComparison(ours, theirs, diff, bool(matches))
