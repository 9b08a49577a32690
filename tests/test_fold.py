"""gconv_lib.fold: conv1d on long sequences cut into rows and conv3d with its depth taps as
channels give the oracle's (im2col's) and torch's results, bit-identical across thread counts."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl
from gconv_lib import fold
from gconv_lib.im2col import conv_nd_im2col
from gconv_lib.torch_check import TOLERANCES
from gconv_lib.validate import check_conv_args

torch = pytest.importorskip("torch")
TOL = TOLERANCES[np.dtype(np.float64)]


def check(x, w, **kwargs):
    """fold's result against im2col's and torch's."""
    nd = x.ndim - 2
    a = check_conv_args(x, w, None, nd=nd, **kwargs)
    ours = {1: fold.conv1d_folded, 3: fold.conv3d_folded}[nd](a)
    np.testing.assert_allclose(ours, conv_nd_im2col(a), **TOL)
    conv = {1: torch.nn.functional.conv1d, 3: torch.nn.functional.conv3d}[nd]
    np.testing.assert_allclose(ours, conv(torch.from_numpy(x), torch.from_numpy(w), **kwargs).numpy(), **TOL)
    return ours


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 2), st.integers(1, 4), st.integers(1, 3),
       st.integers(1, 3), st.integers(0, 4), st.integers(20, 70), st.integers(3, 9))
def test_conv1d_in_rows(n, groups, per_group, k, stride, dilation, padding, length, row):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, groups * per_group, length + dilation * k))
    w = rng.standard_normal((groups * 2, per_group, k))
    old, fold.ROW = fold.ROW, row  # rows of 3 to 9 outputs: many rows, a short last one
    try:
        check(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    finally:
        fold.ROW = old


def test_conv1d_same_padding_and_an_unread_tail(monkeypatch):
    monkeypatch.setattr(fold, "ROW", 4)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(rng.standard_normal((2, 4, 41)), rng.standard_normal((4, 2, 4)), padding="same", groups=2)
    check(rng.standard_normal((1, 2, 40)), rng.standard_normal((2, 2, 3)), stride=3)  # last input unread


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 2),
       st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 2)),
       st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
       st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)))
def test_conv3d_depth_taps_as_channels(n, groups, per_group, kernel, stride, dilation, padding):
    rng = np.random.default_rng(0)
    size = [k * d + 3 for k, d in zip(kernel, dilation)]
    x = rng.standard_normal((n, groups * per_group, *size))
    w = rng.standard_normal((groups * 2, per_group, *kernel))
    check(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)


def test_conv3d_same_with_an_even_depth_kernel_and_empty_cases():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 4, 5, 6, 7)), rng.standard_normal((4, 2, 4, 3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: 'same' with an even kernel may copy the input
        check(x, w, padding="same", groups=2)
    assert gl.conv3d(np.zeros((0, 2, 3, 3, 3)), np.zeros((4, 2, 3, 3, 3))).shape == (0, 4, 1, 1, 1)


@pytest.mark.parametrize("nd", [1, 3])
def test_bit_identical_across_thread_counts(nd, monkeypatch):
    monkeypatch.setattr(fold, "ROW", 64)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, *([1000] if nd == 1 else [6, 20, 20])), dtype=np.float32)
    w = rng.standard_normal((16, 4, *[3] * nd), dtype=np.float32)
    conv = {1: gl.conv1d, 3: gl.conv3d}[nd]
    before, results = gl.get_num_threads(), []
    try:
        for count in (1, 2, 3):
            gl.set_num_threads(count)
            results.append(conv(x, w, padding=1, groups=4))
    finally:
        gl.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2), st.integers(1, 5),
       st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       st.tuples(st.integers(1, 3), st.integers(1, 2), st.integers(1, 2)),
       st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
       st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)), st.integers(0, 2))
def test_conv3d_depthwise_by_slabs(n, channels, kernel, stride, dilation, padding, extra):
    rng = np.random.default_rng(0)
    size = [k * d + extra for k, d in zip(kernel, dilation)]
    x = rng.standard_normal((n, channels, *size))
    w = rng.standard_normal((channels, 1, *kernel))
    check(x, w, stride=stride, padding=padding, dilation=dilation, groups=channels)


def test_conv3d_depthwise_with_padding_larger_than_the_input():
    rng = np.random.default_rng(6)
    check(rng.standard_normal((1, 3, 1, 2, 1)), rng.standard_normal((3, 1, 3, 3, 3)), padding=2, groups=3)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 7),
       st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)),
       st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), st.integers(0, 3))
def test_conv3d_depthwise_stride_1_by_flat_shifts(n, channels, kernel, dilation, padding, extra):
    # stride 1 takes the flat shifts; padding up to 3 reaches past some inputs
    rng = np.random.default_rng(1)
    size = [(k - 1) * d + 1 + extra for k, d in zip(kernel, dilation)]
    x = rng.standard_normal((n, channels, *size))
    w = rng.standard_normal((channels, 1, *kernel))
    check(x, w, padding=padding, dilation=dilation, groups=channels)


def test_conv3d_depthwise_flat_shifts_are_bit_identical_across_threads(monkeypatch):
    calls = []
    real = fold._depthwise3d_shifts
    monkeypatch.setattr(fold, "_depthwise3d_shifts", lambda a: calls.append(a) or real(a))
    x = np.random.default_rng(2).standard_normal((2, 40, 6, 9, 11)).astype(np.float32)
    w = np.random.default_rng(3).standard_normal((40, 1, 3, 3, 3)).astype(np.float32)
    before, results = gl.get_num_threads(), []
    try:
        for count in (1, 2, 3):
            gl.set_num_threads(count)
            results.append(gl.conv3d(x, w, padding=(1, 2, 0), groups=40))
    finally:
        gl.set_num_threads(before)
    assert len(calls) == 3  # the flat shifts ran, not the slabs
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
