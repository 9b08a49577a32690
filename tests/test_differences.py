"""The deliberate differences from torch: one test per row of the table in gconv_lib.torch_check.

Each test checks both sides of its row, what torch does and what gconv_lib does instead, so a
torch release that changes its side, or a change to gconv_lib, fails here. The first test
checks that the table and these tests name the same rows.
"""

import re
import warnings

import numpy as np
import pytest
from conftest import TOL

import gconv_lib as gl
from gconv_lib import torch_check

torch = pytest.importorskip("torch")
F = torch.nn.functional


def table_rows() -> list[str]:
    """The case names in the first column of the table in torch_check's docstring."""
    return re.findall(r"^   \* - ``([a-z0-9-]+)``$", torch_check.__doc__, flags=re.MULTILINE)


def test_every_row_of_the_table_has_a_test_and_every_test_a_row():
    assert table_rows() == list(ROWS)


def integer_arrays():
    x, w = np.ones((1, 2, 4, 4), np.int64), np.ones((3, 2, 3, 3), np.int64)
    assert F.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy().ravel().tolist() == [18] * 12
    with pytest.raises(TypeError, match=r"^input must have dtype float16, float32 or float64, but has "
                                        r"dtype int64$"):
        gl.conv2d(x, w)
    with pytest.raises(TypeError, match="dtype int32"):
        gl.conv_transpose2d(x.astype(np.int32), w.astype(np.int32))


def complex_arrays():
    x, w = np.full((1, 1, 3, 3), 1j, np.complex64), np.ones((1, 1, 3, 3), np.complex64)
    assert F.conv2d(torch.from_numpy(x), torch.from_numpy(w)).item() == 9j
    with pytest.raises(TypeError, match="but has dtype complex64$"):
        gl.conv2d(x, w)


def bfloat16():
    x, w = torch.ones(1, 2, 4, 4, dtype=torch.bfloat16), torch.ones(3, 2, 3, 3, dtype=torch.bfloat16)
    assert F.conv2d(x, w).dtype == torch.bfloat16
    with pytest.raises(TypeError, match="BFloat16"):
        x.numpy()  # torch's own error
    message = ("input is a torch tensor of dtype torch.bfloat16, which NumPy has no dtype for; gconv_lib "
               "takes float16, float32 or float64: convert it first, e.g. input.float()")
    for call in (lambda: gl.conv2d(x, w), lambda: gl.conv2d_backward(x, x, w),
                 lambda: gl.conv_transpose2d(x, w.transpose(0, 1))):
        with pytest.raises(TypeError, match="^" + re.escape(message) + "$"):
            call()
    assert gl.conv2d(x.float(), w.float()).dtype == np.float32  # the conversion the message names


def float16_rounding():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16, 9, 9)).astype(np.float16)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float16)
    with torch.no_grad():
        theirs = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    ours = gl.conv2d(x, w, padding=1)
    once = gl.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1).astype(np.float16)
    np.testing.assert_array_equal(ours, once)  # float32 arithmetic, one rounding at the end
    assert ours.dtype == theirs.dtype == np.float16
    assert np.any(ours != theirs)  # torch rounds differently ...
    np.testing.assert_allclose(ours, theirs, **TOL[np.dtype(np.float16)])  # ... by a few ulps
    assert gl.compare_with_torch(x, w, padding=1).matches


def no_input_channels():
    x, w = np.zeros((1, 0, 5, 5)), np.zeros((2, 0, 3, 3))
    with torch.no_grad():
        assert F.conv2d(torch.from_numpy(x), torch.from_numpy(w)).shape == (1, 0, 3, 3)  # not (1, 2, 3, 3)
    with pytest.raises(ValueError, match=r"^in_channels must be at least 1, but input has shape "
                                         r"\(1, 0, 5, 5\)$"):
        gl.conv2d(x, w)


def empty_batch_checks():
    t = torch.zeros
    x, w = np.zeros((0, 2, 5, 5)), np.zeros((3, 2, 3, 3))
    assert F.conv2d(torch.from_numpy(x), torch.from_numpy(w), dilation=0).shape == (0, 3, 5, 5)
    with pytest.raises(ValueError, match=r"^dilation must be positive, but got dilation=\(0, 0\)$"):
        gl.conv2d(x, w, dilation=0)
    # conv_transpose2d, (input shape, weight shape, kwargs): torch returns an empty array for each
    skipped = {"dilation 0": ((0, 2, 3, 3), (2, 3, 3, 3), dict(dilation=0)),
               "output_padding 1 with stride 1": ((0, 2, 3, 3), (2, 3, 3, 3), dict(output_padding=1)),
               "empty input rows": ((0, 2, 0, 3), (2, 3, 3, 3), {}),
               "empty output": ((0, 2, 0, 3), (2, 3, 1, 1), {})}
    for name, (x_shape, w_shape, kwargs) in skipped.items():
        assert F.conv_transpose2d(t(x_shape), t(w_shape), **kwargs).shape[0] == 0, name
        with pytest.raises(ValueError):
            gl.conv_transpose2d(np.zeros(x_shape), np.zeros(w_shape), **kwargs)
        with pytest.raises(RuntimeError):  # what the same call does with one image
            F.conv_transpose2d(t((1, *x_shape[1:])), t(w_shape), **kwargs)
    # the rule torch does have: an empty batch may have empty rows and columns
    assert F.conv2d(t(0, 2, 0, 4), t(3, 2, 1, 1), padding=1).shape == (0, 3, 2, 6)
    assert gl.conv2d(np.zeros((0, 2, 0, 4)), np.zeros((3, 2, 1, 1)), padding=1).shape == (0, 3, 2, 6)


def padding_nonfinite_float32():
    x = np.ones((1, 2, 3, 3))
    w = np.ones((2, 1, 3, 3))
    w[0, 0, 0, 0] = np.inf  # the top-left tap of channel 0 reads the padding in the top row and left column
    args = lambda dtype: (torch.from_numpy(x.astype(dtype)), torch.from_numpy(w.astype(dtype)))
    with torch.no_grad():
        onednn = F.conv2d(*args(np.float32), padding=1, groups=2).numpy()
        literal = F.conv2d(*args(np.float64), padding=1, groups=2).numpy()
    assert np.isfinite(onednn[0, 0, 0]).all()  # torch float32: the padded taps skipped
    assert np.isnan(literal[0, 0, 0]).all() and np.isnan(literal[0, 0, :, 0]).all()  # inf * 0
    for dtype in (np.float16, np.float32, np.float64):
        ours = gl.conv2d(x.astype(dtype), w.astype(dtype), padding=1, groups=2)
        np.testing.assert_array_equal(ours, literal.astype(dtype))  # NaN in the same places
    # no padding: nothing to skip, torch float32 and gconv_lib agree
    with torch.no_grad():
        unpadded = F.conv2d(*args(np.float32), groups=2).numpy()
    np.testing.assert_array_equal(gl.conv2d(x.astype(np.float32), w.astype(np.float32), groups=2), unpadded)


def block_diagonal_nonfinite():
    x, w = np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3))
    x[0, 0, 1, 1] = np.inf  # in group 0
    with torch.no_grad():
        grouped = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), groups=2).numpy()
        dense = F.conv2d(torch.from_numpy(x), torch.from_numpy(gl.block_diagonal_weight(w, 2))).numpy()
    assert grouped[0, :, 0, 0].tolist() == [np.inf, 9.0]  # group 1 never sees the inf
    np.testing.assert_array_equal(gl.conv2d(x, w, groups=2), grouped)
    assert np.isinf(dense[0, 0, 0, 0]) and np.isnan(dense[0, 1, 0, 0])  # inf * 0 in group 1
    np.testing.assert_array_equal(gl.conv2d_block_diagonal(x, w, groups=2), dense)


ROWS = {
    "integer-arrays": integer_arrays,
    "complex-arrays": complex_arrays,
    "bfloat16": bfloat16,
    "float16-rounding": float16_rounding,
    "no-input-channels": no_input_channels,
    "empty-batch-checks": empty_batch_checks,
    "padding-nonfinite-float32": padding_nonfinite_float32,
    "block-diagonal-nonfinite": block_diagonal_nonfinite,
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_difference(row):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        row()
