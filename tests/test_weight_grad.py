"""gconv_lib.weight_grad: grad_weight by tiles, against torch in 1, 2 and 3 dimensions, in every
tiling (row bands, several images per tile, group and channel blocks), bit-identical across
thread counts."""

import numpy as np
import pytest

import gconv_lib as gl
from gconv_lib import weight_grad
from gconv_lib.torch_check import TOLERANCES
from gconv_lib.validate import check_conv_args

torch = pytest.importorskip("torch")


def torch_grad_weight(dy, x, w, **kwargs):
    """weight.grad of torch's convolution of x with w, for the gradient dy of its output."""
    F = torch.nn.functional
    conv = {3: F.conv1d, 4: F.conv2d, 5: F.conv3d}[x.ndim]
    tw = torch.tensor(w, requires_grad=True)
    conv(torch.from_numpy(x), tw, **kwargs).backward(torch.from_numpy(dy))
    return tw.grad.numpy()


def ours(dy, x, w, **kwargs):
    a = check_conv_args(x, w, None, nd=x.ndim - 2, **kwargs)
    return weight_grad.grad_weight_nd(a, dy)


# (N, C_in, C_out, groups, kernel, size, stride, padding, dilation)
CASES = {
    "1-d grouped strided": (2, 6, 4, 2, (3,), (17,), 2, 1, 1),
    "2-d dense": (3, 5, 4, 1, (3, 3), (9, 8), 1, 1, 1),
    "2-d grouped dilated": (2, 8, 6, 2, (3, 2), (11, 9), 1, (2, 1), (2, 3)),
    "2-d depthwise stride 2": (2, 6, 6, 6, (3, 3), (9, 9), 2, 1, 1),
    "2-d depthwise multiplier 2, unused tail": (1, 3, 6, 3, (3, 3), (10, 10), 3, 0, 1),
    "2-d many groups": (2, 36, 36, 12, (3, 3), (7, 7), 1, 1, 1),
    "3-d grouped": (2, 4, 6, 2, (3, 2, 3), (6, 7, 5), (1, 2, 1), 1, 1),
    "2-d pointwise, more outputs than windows": (2, 2, 12, 1, (1, 1), (5, 5), 1, 0, 1),
}


@pytest.mark.parametrize("tile_bytes", [8, 2000, 2 << 20], ids=["one row", "bands", "images"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_matches_torch_in_every_tiling(case, tile_bytes, monkeypatch):
    n, c_in, c_out, groups, kernel, size, stride, padding, dilation = case
    monkeypatch.setattr(weight_grad, "TILE_BYTES", tile_bytes)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c_in, *size))
    w = rng.standard_normal((c_out, c_in // groups, *kernel))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    conv = {3: gl.conv1d, 4: gl.conv2d, 5: gl.conv3d}[x.ndim]
    dy = rng.standard_normal(conv(x, w, **kwargs).shape)
    np.testing.assert_allclose(ours(dy, x, w, **kwargs), torch_grad_weight(dy, x, w, **kwargs),
                               **TOLERANCES[np.dtype(np.float64)])


@pytest.mark.parametrize("shape", [(8, 64, 64, 1, 14), (1, 32, 32, 32, 40), (4, 12, 24, 3, 9)],
                         ids=["dense 8 images", "depthwise 1 image", "grouped"])
def test_bit_identical_across_thread_counts(shape):
    n, c_in, c_out, groups, size = shape
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c_in, size, size), dtype=np.float32)
    w = rng.standard_normal((c_out, c_in // groups, 3, 3), dtype=np.float32)
    dy = rng.standard_normal((n, c_out, size, size), dtype=np.float32)
    before = gl.get_num_threads()
    try:
        results = []
        for count in (1, 2, 3):
            gl.set_num_threads(count)
            results.append(gl.conv2d_backward(dy, x, w, padding=1, groups=groups)[1])
    finally:
        gl.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_an_empty_batch_gives_zeros():
    x, w = np.zeros((0, 4, 5, 5)), np.ones((2, 2, 3, 3))
    assert ours(np.zeros((0, 2, 3, 3)), x, w, groups=2).shape == (2, 2, 3, 3)
    assert not ours(np.zeros((0, 2, 3, 3)), x, w, groups=2).any()
