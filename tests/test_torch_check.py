"""The torch bridge: torch_conv is torch.nn.functional.conv*d, and compare_with_torch reports
a small difference for every gconv_lib strategy and a large one for a wrong function."""

import sys

import numpy as np
import pytest
from conftest import CASES, TOL

import gconv_lib as gl

torch = pytest.importorskip("torch")


def test_tolerances_are_the_issue_s():
    assert TOL[np.dtype(np.float32)] == dict(rtol=1e-4, atol=1e-4)
    assert TOL[np.dtype(np.float64)] == dict(rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_torch_conv_is_torch_functional_conv(nd):
    rng = np.random.default_rng(nd)
    x, w = rng.standard_normal((2, 4, *(6,) * nd)), rng.standard_normal((6, 2, *(3,) * nd))
    b = rng.standard_normal(6)
    fn = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d, 3: torch.nn.functional.conv3d}[nd]
    t = torch.from_numpy
    expected = fn(t(x), t(w), t(b), stride=2, padding=1, groups=2)
    ours = gl.torch_conv(x, w, b, stride=2, padding=1, groups=2)
    assert isinstance(ours, np.ndarray)
    np.testing.assert_array_equal(ours, expected.numpy())


def test_torch_conv_accepts_non_contiguous_arrays():
    x = np.random.default_rng(0).standard_normal((1, 2, 8, 8))[:, :, ::2, ::-1]
    w = np.ones((2, 2, 2, 2))
    np.testing.assert_allclose(gl.torch_conv(x, w), gl.conv2d(x, w), **TOL[x.dtype])


STRATEGIES = {
    "default": None,
    "naive": gl.conv2d_naive,
    "im2col": gl.conv2d_im2col,
    "split": gl.conv2d_split,
    "block_diagonal": gl.conv2d_block_diagonal,
}


@pytest.mark.parametrize("fn", STRATEGIES.values(), ids=STRATEGIES.keys())
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_compare_with_torch_reports_a_small_difference(fn, dtype):
    case = CASES["grouped in<out 4->8 g=2, stride 2"]
    x, w, b = case.arrays(dtype)
    result = gl.compare_with_torch(x, w, b, fn=fn, **case.kwargs)
    assert result.matches
    assert result.ours.dtype == result.theirs.dtype == dtype
    assert result.ours.shape == result.theirs.shape == (2, 8, 5, 5)
    assert 0 <= result.max_abs_diff <= TOL[np.dtype(dtype)]["atol"]
    assert result.max_abs_diff == np.abs(result.ours - result.theirs).max()
    assert str(result).startswith("gconv_lib matches torch: output shape (2, 8, 5, 5), max |difference| = ")


@pytest.mark.parametrize("groups", [None, 3], ids=["groups implied", "groups given"])
def test_compare_with_torch_checks_depthwise_conv2d(groups):
    """depthwise_conv2d sets groups = C_in itself; compare_with_torch gives torch the same."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((6, 1, 3, 3)), rng.standard_normal(6)
    result = gl.compare_with_torch(x, w, b, padding="same", groups=groups, fn=gl.depthwise_conv2d)
    assert result.matches
    np.testing.assert_array_equal(result.ours, gl.conv2d(x, w, b, padding="same", groups=3))
    unbatched = gl.compare_with_torch(x[0], w, b, padding=1, fn=gl.depthwise_conv2d)
    assert unbatched.matches and unbatched.ours.shape == (6, 7, 7)


def test_compare_with_torch_picks_conv1d_and_conv3d():
    rng = np.random.default_rng(0)
    r1 = gl.compare_with_torch(rng.standard_normal((1, 4, 9)), rng.standard_normal((2, 2, 3)), groups=2)
    r3 = gl.compare_with_torch(rng.standard_normal((1, 2, 4, 4, 4)), rng.standard_normal((2, 1, 2, 2, 2)),
                               groups=2)
    assert r1.matches and r1.ours.shape == (1, 2, 7)
    assert r3.matches and r3.ours.shape == (1, 2, 3, 3, 3)


def test_compare_with_torch_catches_a_wrong_function():
    """A true convolution (kernel flipped) is not torch's cross-correlation: the report says so."""
    x, w, b = CASES["normal 3->5"].arrays()

    def flipped(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return gl.conv2d(input, weight[:, :, ::-1, ::-1], bias, stride, padding, dilation, groups)

    result = gl.compare_with_torch(x, w, b, fn=flipped)
    assert not result.matches
    assert result.max_abs_diff > 0.1
    assert str(result).startswith("gconv_lib DIFFERS FROM torch: output shape (2, 5, 5, 5)")


def test_compare_with_torch_catches_a_wrong_shape_or_dtype():
    x, w, b = CASES["normal 3->5"].arrays()
    wrong_shape = gl.compare_with_torch(x, w, b, fn=lambda *a, **k: gl.conv2d(*a, **k)[:, :, 1:])
    assert (wrong_shape.matches, wrong_shape.max_abs_diff) == (False, float("inf"))
    wrong_dtype = gl.compare_with_torch(x, w, b, fn=lambda *a, **k: gl.conv2d(*a, **k).astype(np.float32))
    assert not wrong_dtype.matches


def test_compare_with_torch_on_an_empty_batch():
    x, w, b = CASES["normal 3->5"].arrays()
    result = gl.compare_with_torch(x[:0], w, b)
    assert result.matches and result.max_abs_diff == 0.0 and result.ours.shape == (0, 5, 5, 5)


def test_compare_with_torch_raises_gconv_lib_s_error_first():
    x, w = np.zeros((1, 8, 5, 5)), np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"^groups \(3\) must divide in_channels \(8\)$"):
        gl.compare_with_torch(x, w, groups=3)


def test_a_clear_error_without_torch(monkeypatch):
    """torch is optional: without it, the bridge says how to install it."""
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    message = r"^comparing with PyTorch needs torch: pip install 'gconv_lib\[torch\]'$"
    with pytest.raises(ImportError, match=message):
        gl.torch_conv(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)))
    with pytest.raises(ImportError, match=message):
        gl.compare_with_torch(np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)))


@pytest.mark.parametrize("call", [gl.torch_conv, gl.compare_with_torch],
                         ids=["torch_conv", "compare_with_torch"])
def test_weight_of_the_wrong_dimension(call):
    rule = r"^weight must have 3, 4 or 5 dimensions \(conv1d, conv2d, conv3d\), but has shape \(4, 2\)$"
    with pytest.raises(ValueError, match=rule):
        call(np.ones((1, 2, 5, 5)), np.ones((4, 2)))
