"""gconv_lib.fast, the default path: exact against the oracles on every case, and its memory.

Every method and tile size must give the im2col / naive result (the oracles) and torch's,
on the conftest cases, the benchmark suite's shapes (batch 2) and random configurations.
Speed is the benchmark's business (python -m gconv_lib.bench), never a unit test's; memory
is deterministic, so the benchmark layers' peak allocation is checked here.
"""

import os
import re
import signal
import tracemalloc

import numpy as np
import pytest
from conftest import CASES, TOL
from hypothesis import given, settings
from hypothesis import strategies as st

import gconv_lib as gl
from gconv_lib import bench, fast
from gconv_lib.validate import check_conv_args

torch = pytest.importorskip("torch")

#: tile_bytes=1 forces one group and one output row per tile: every tile boundary is hit.
TILES = {"default tiles": None, "smallest tiles": 1}


def methods(w, groups):
    """The methods that apply: "taps" needs one input channel per group."""
    return ("gemm", "taps") if w.shape[1] == 1 else ("gemm",)


def run_fast(x, w, b, method, tile_bytes, **kwargs):
    a = check_conv_args(x, w, b, nd=2, **kwargs)
    return a.finish(fast.conv_nd_fast(a, method, tile_bytes))


@pytest.mark.parametrize("tile_bytes", TILES.values(), ids=TILES.keys())
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_method_and_tiling_matches_naive(case, tile_bytes, float_dtype, two_threads):
    x, w, b = case.arrays(float_dtype)
    oracle = gl.conv2d_naive(x, w, b, **case.kwargs)
    for method in methods(w, case.groups):
        ours = run_fast(x, w, b, method, tile_bytes, **case.kwargs)
        assert ours.shape == oracle.shape and ours.dtype == float_dtype, method
        np.testing.assert_allclose(ours, oracle, **TOL[float_dtype], err_msg=method)


@pytest.mark.parametrize("layer", bench.SUITE, ids=lambda layer: layer.name)
def test_suite_shapes_match_torch_and_im2col(layer, two_threads):
    small = bench.Layer(layer.name, layer.in_channels, layer.out_channels, layer.kernel_size,
                        layer.size, layer.groups, layer.stride, layer.padding, batch=2)
    x, w = small.arrays()
    ours = gl.conv2d(x, w, **small.kwargs)
    theirs = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), **small.kwargs)
    np.testing.assert_allclose(ours, theirs.numpy(), **TOL[np.dtype(np.float32)])
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    np.testing.assert_allclose(gl.conv2d(x64, w64, **small.kwargs),
                               gl.conv2d_im2col(x64, w64, **small.kwargs), **TOL[np.dtype(np.float64)])


def test_result_does_not_depend_on_threads_or_tiles():
    x, w, b = CASES["grouped in<out 4->8 g=2, stride 2"].arrays(np.float32)
    before = fast.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            fast.set_num_threads(n)
            results.append(gl.conv2d(x, w, b, stride=2, padding=1, groups=2))
    finally:
        fast.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])  # bit for bit: each sum has one order


def test_non_contiguous_input_and_weight():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 9, 11))[:, ::-1, :, ::2]  # reversed channels, every other column
    w = np.asfortranarray(rng.standard_normal((6, 3, 3, 2)))
    for method in ("gemm",):
        np.testing.assert_allclose(run_fast(x, w, None, method, 1, padding=1, groups=2),
                                   gl.conv2d_naive(x, w, padding=1, groups=2), **TOL[np.dtype(np.float64)])


def test_empty_batch():
    out = gl.conv2d(np.zeros((0, 4, 5, 5), np.float32), np.zeros((2, 2, 3, 3), np.float32), groups=2)
    assert out.shape == (0, 2, 3, 3) and out.dtype == np.float32


@pytest.mark.parametrize(("stride", "dilation", "n_phases"), [
    (1, 1, 1), (2, 1, 4), ((2, 3), 1, 6), (2, 2, 1), (3, 2, 9), ((1, 2), (1, 2), 1)])
def test_plan_reads_only_the_phases_some_tap_needs(stride, dilation, n_phases):
    x, w = np.zeros((1, 2, 20, 20)), np.zeros((2, 1, 3, 3))
    p = fast.plan(check_conv_args(x, w, stride=stride, dilation=dilation, groups=2))
    assert len(p.phases) == n_phases
    assert len(p.taps) == 9 and {k for k, _ in p.taps} == set(range(n_phases))


def test_plan_methods_and_tiles():
    a = check_conv_args(np.zeros((8, 32, 112, 112), np.float32), np.zeros((32, 1, 3, 3), np.float32),
                        padding=1, groups=32)
    assert fast.plan(a).method == "taps"
    a = check_conv_args(np.zeros((8, 64, 56, 56), np.float32), np.zeros((64, 64, 3, 3), np.float32),
                        padding=1)
    p = fast.plan(a)
    assert p.method == "gemm" and p.group_tile == 1
    # one row band's column buffer stays within TILE_BYTES, and the bands are of equal size
    assert p.row_tile * p.Wq * 64 * 9 * 4 <= fast.TILE_BYTES["gemm"]
    assert 56 % p.row_tile == 0


def test_plan_cuts_a_single_image_into_several_tiles():
    # depthwise 7x7: 96 channels of 56 x 56 outputs, 49 taps: 14.8M passes, 7 times
    # MIN_TILE_PASSES, make 4 tiles of 24 channels (a power of two, for even work per thread)
    x, w = np.zeros((1, 96, 56, 56), np.float32), np.zeros((96, 1, 7, 7), np.float32)
    p = fast.plan(check_conv_args(x, w, padding=3, groups=96))
    assert 7 * fast.MIN_TILE_PASSES <= 96 * 56 * 56 * 49 < 8 * fast.MIN_TILE_PASSES
    assert p.method == "taps" and p.group_tile == 24 and p.row_tile == 56
    # 3x3 on 32 channels of 112 x 112: 3.6M passes, less than two tiles' worth, but over
    # TWO_TILE_PASSES: two tiles, so that two threads share it
    x, w = np.zeros((1, 32, 112, 112), np.float32), np.zeros((32, 1, 3, 3), np.float32)
    p = fast.plan(check_conv_args(x, w, padding=1, groups=32))
    assert p.method == "taps" and p.n_tiles(1, 32, 32, 112) == 2
    # a late 7 x 7 map is not cut into bands of fewer than 7 rows
    x, w = np.zeros((1, 960, 7, 7), np.float32), np.zeros((960, 1, 5, 5), np.float32)
    p = fast.plan(check_conv_args(x, w, padding=2, groups=960))
    assert p.method == "channels_last" and p.n_tiles(1, 960, 960, 7) == 1
    # dense: one group and 64 output channels, so the 56 rows are split: 115.6M MACs, 6 times
    # MIN_TILE_MACS, make 4 bands of 14 rows (a power of two, for even work per thread)
    x, w = np.zeros((1, 64, 56, 56), np.float32), np.zeros((64, 64, 3, 3), np.float32)
    p = fast.plan(check_conv_args(x, w, padding=1))
    assert 6 * fast.MIN_TILE_MACS <= 56 * 56 * 64 * 64 * 9 < 7 * fast.MIN_TILE_MACS
    assert p.group_tile == 1 and p.row_tile == 14 and not p.out_tile


@pytest.mark.parametrize("c, size, stride, want", [
    (256, 14, 1, (128, 14)),  # 14 rows of 16 columns: too few to split, so the outputs are
    (512, 7, 1, (256, 7)),    # halved; 512 outputs were already split in pieces of 256
    (256, 28, 2, (128, 14)),
    (128, 28, 1, (0, 14)),    # 28 rows of 30 columns: two bands of 420 columns (not four)
    (96, 56, 2, (0, 14)),     # 28 rows of 28: two bands, for two tiles at least
])
def test_plan_keeps_gemm_products_wide_when_it_splits_for_threads(c, size, stride, want):
    # batch 1, dense 3x3 (or 2x2 stride 2): 4 tiles of MIN_TILE_MACS would cut the rows
    # into bands of a few dozen columns, where BLAS runs thin products slowly
    k = 2 if size == 56 else 3
    x, w = np.zeros((1, c, size, size), np.float32), np.zeros((c if k == 3 else 2 * c, c, k, k), np.float32)
    a = check_conv_args(x, w, stride=stride, padding=k // 2 if k == 3 else 0)
    p = fast.plan(a)
    assert (p.out_tile, p.row_tile) == want
    h_out = a.out_spatial[0]
    assert p.n_tiles(1, 1, w.shape[0], h_out) >= 2
    assert p.row_tile * p.Wq >= fast.MIN_SPAN or p.row_tile >= -(-h_out // 2)


def test_plan_cuts_a_call_of_two_tiles_work_in_two():
    # a 1x1 320 -> 1280 on 7 x 7 (20M multiply-adds, over TWO_TILE_MACS): two halves of the
    # output channels; a stride-4 stem of as many MACs keeps one tile (16 stride phases)
    x, w = np.zeros((1, 320, 7, 7), np.float32), np.zeros((1280, 320, 1, 1), np.float32)
    assert fast.TWO_TILE_MACS <= 320 * 1280 * 49 < 2 * fast.MIN_TILE_MACS
    p = fast.plan(check_conv_args(x, w))
    assert p.out_tile == 640 and p.n_tiles(1, 1, 1280, 7) == 2
    x, w = np.zeros((1, 3, 224, 224), np.float32), np.zeros((96, 3, 4, 4), np.float32)
    p = fast.plan(check_conv_args(x, w, stride=4))
    assert len(p.phases) == 16 and p.n_tiles(1, 1, 96, 56) == 1


def test_plan_splits_a_wide_layer_by_output_channels_and_joins_small_images(two_threads):
    rng = np.random.default_rng(5)
    # a 1x1 256 -> 1024 on 14 x 14 at batch 1: one band of rows holds the whole image, so
    # its 51M MACs are split by output channels, two tiles of 512 (each >= MIN_TILE_MACS)
    x = rng.standard_normal((1, 256, 14, 14), np.float32)
    w = rng.standard_normal((1024, 256, 1, 1), np.float32)
    p = fast.plan(check_conv_args(x, w))
    assert p.pointwise and p.out_tile == 512 and p.row_tile == 14
    # a 3x3 512 -> 512 on 7 x 7: columns are copied per tile, so pieces of 256 at least
    x7 = rng.standard_normal((1, 512, 7, 7), np.float32)
    w7 = rng.standard_normal((512, 512, 3, 3), np.float32)
    assert fast.plan(check_conv_args(x7, w7, padding=1)).out_tile == 256
    # depthwise 3x3 on 58 channels of 28 x 28 at batch 8: 190 KiB per image, 3.3M passes
    # in all, so two tiles of four images
    xd, wd = rng.standard_normal((8, 58, 28, 28), np.float32), rng.standard_normal((58, 1, 3, 3), np.float32)
    pd = fast.plan(check_conv_args(xd, wd, padding=1, groups=58))
    assert pd.method == "taps" and pd.image_tile == 4
    xc, wc = rng.standard_normal((8, 232, 7, 7), np.float32), rng.standard_normal((232, 1, 3, 3), np.float32)
    pc = fast.plan(check_conv_args(xc, wc, padding=1, groups=232))
    assert pc.method == "channels_last" and pc.image_tile == 8
    for xs, ws, kw in ((x, w, {}), (x7, w7, {"padding": 1}), (xd, wd, {"padding": 1, "groups": 58}),
                       (xc, wc, {"padding": 1, "groups": 232}), (xd[:5], wd, {"padding": 1, "groups": 58})):
        x64, w64 = xs.astype(np.float64), ws.astype(np.float64)
        np.testing.assert_allclose(gl.conv2d(x64, w64, **kw), gl.conv2d_im2col(x64, w64, **kw),
                                   **TOL[np.dtype(np.float64)])


def test_narrow_maps_copy_exact_windows_and_match_naive(two_threads):
    # 64 output channels per group on narrow maps: each tap's window is copied, not the
    # wrapped columns of every row; strides, dilations and padding through the same path
    rng = np.random.default_rng(6)
    for stride, dilation, padding in ((1, 1, 1), (2, 1, (1, 2)), (1, 2, 2), ((2, 1), (1, 2), 0)):
        x, w = rng.standard_normal((2, 16, 9, 9)), rng.standard_normal((128, 8, 3, 3))
        kw = dict(stride=stride, dilation=dilation, padding=padding, groups=2)
        a = check_conv_args(x, w, **kw)
        p = fast.plan(a)
        assert p.method == "gemm" and not p.direct and 8 * (p.Wq - a.out_spatial[1]) > a.out_spatial[1]
        for tile_bytes in TILES.values():
            np.testing.assert_allclose(run_fast(x, w, None, None, tile_bytes, **kw),
                                       gl.conv2d_naive(x, w, **kw), **TOL[np.dtype(np.float64)])


@pytest.mark.parametrize(("bad", "error", "message"), [
    (0, ValueError, "the number of threads must be at least 1, but got 0"),
    (-1, ValueError, "the number of threads must be at least 1, but got -1"),
    (1.5, TypeError, "the number of threads must be an int, but got float (1.5)"),
    (2.0, TypeError, "the number of threads must be an int, but got float (2.0)"),
    (True, TypeError, "the number of threads must be an int, but got bool (True)"),
    ("2", TypeError, "the number of threads must be an int, but got str ('2')"),
])
def test_set_num_threads_rejects_nonsense(bad, error, message):
    before = gl.get_num_threads()
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        gl.set_num_threads(bad)
    assert gl.get_num_threads() == before


def peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("layer", bench.SUITE, ids=lambda layer: layer.name)
def test_peak_memory_within_four_times_the_arrays(layer, two_threads):
    """The issue's memory target, on every benchmark layer at batch 8 with 2 threads."""
    x, w = layer.arrays()
    out_bytes = x.dtype.itemsize * layer.batch * layer.out_channels * gl.conv_output_size(
        layer.size, layer.kernel_size, layer.stride, layer.padding) ** 2
    peak = peak_bytes(lambda: gl.conv2d(x, w, **layer.kwargs))
    assert out_bytes <= peak <= 4 * (x.nbytes + w.nbytes + out_bytes)


def test_peak_memory_far_below_im2col_on_a_dense_layer(two_threads):
    x = np.ones((8, 32, 56, 56), np.float32)
    w = np.ones((32, 32, 3, 3), np.float32)
    fast_peak = peak_bytes(lambda: gl.conv2d(x, w, padding=1))
    im2col_peak = peak_bytes(lambda: gl.conv2d_im2col(x, w, padding=1))
    assert fast_peak < im2col_peak / 3


@settings(deadline=None, max_examples=60)
@given(data=st.data())
def test_random_configurations_match_im2col(data):
    """Random valid configurations (shapes valid by construction), every method and tiling."""
    groups = data.draw(st.integers(1, 4), "groups")
    c_in, c_out = groups * data.draw(st.integers(1, 3)), groups * data.draw(st.integers(1, 3))
    kh, kw = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    stride = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    dilation = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    padding = data.draw(st.one_of(st.just("valid"), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                                  st.just("same") if stride == (1, 1) else st.just(0)))
    spans = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    h = data.draw(st.integers(spans[0], spans[0] + 6))
    w_size = data.draw(st.integers(spans[1], spans[1] + 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.standard_normal((data.draw(st.integers(1, 2)), c_in, h, w_size))
    w = rng.standard_normal((c_out, c_in // groups, kh, kw))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    oracle = gl.conv2d_im2col(x, w, **kwargs)
    tile_bytes = data.draw(st.sampled_from([1, 256, None]), "tile_bytes")
    for method in methods(w, groups):
        np.testing.assert_allclose(run_fast(x, w, None, method, tile_bytes, **kwargs), oracle,
                                   **TOL[np.dtype(np.float64)], err_msg=method)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_working_pool(two_threads):
    """A child has none of the parent's pool threads; without a fresh pool it would wait forever."""
    x = np.ones((8, 16, 64, 64), np.float32)
    w = np.ones((16, 1, 3, 3), np.float32)
    expected = gl.conv2d(x, w, padding=1, groups=16)  # long enough for the pool to start 2 threads
    pid = os.fork()
    if pid == 0:  # the child: exit 0 if the result is right, killed by SIGALRM if it hangs
        signal.alarm(20)
        os._exit(0 if np.array_equal(gl.conv2d(x, w, padding=1, groups=16), expected) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# ---------------------------------------------------------------- depthwise, channels innermost
@pytest.mark.parametrize("tile_bytes", TILES.values(), ids=TILES.keys())
@pytest.mark.parametrize("name", [name for name, c in CASES.items() if c.groups == c.c_in == c.c_out])
def test_channels_last_matches_naive(name, tile_bytes, float_dtype, two_threads):
    case = CASES[name]
    x, w, b = case.arrays(float_dtype)
    ours = run_fast(x, w, b, "channels_last", tile_bytes, **case.kwargs)
    np.testing.assert_allclose(ours, gl.conv2d_naive(x, w, b, **case.kwargs), **TOL[float_dtype])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 9), st.integers(1, 9), st.integers(1, 4),
       st.tuples(st.integers(1, 3), st.integers(1, 3)), st.tuples(st.integers(1, 2), st.integers(1, 2)),
       st.tuples(st.integers(0, 3), st.integers(0, 3)), st.sampled_from([None, 1, 300]))
def test_channels_last_on_random_depthwise_layers(n, c, h, w, k, stride, dilation, padding, tile_bytes):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h + k * dilation[0], w + k * dilation[1]))
    weight = rng.standard_normal((c, 1, k, k + 1))
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=c)
    np.testing.assert_allclose(run_fast(x, weight, None, "channels_last", tile_bytes, **kwargs),
                               gl.conv2d_naive(x, weight, None, **kwargs), **TOL[np.dtype(np.float64)])


def test_channels_last_is_bit_identical_across_thread_counts():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 192, 28, 28), dtype=np.float32)
    w = rng.standard_normal((192, 1, 7, 7), dtype=np.float32)
    assert fast.plan(check_conv_args(x, w, padding=3, groups=192)).method == "channels_last"
    before, results = gl.get_num_threads(), []
    try:
        for count in (1, 2, 3):
            gl.set_num_threads(count)
            results.append(gl.conv2d(x, w, padding=3, groups=192))
    finally:
        gl.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_plan_puts_channels_innermost_when_channel_rows_are_long():
    for channels, size, expected in [(768, 7, "channels_last"), (384, 14, "channels_last"),
                                     (192, 28, "channels_last"), (96, 56, "taps"), (144, 56, "taps"),
                                     (32, 112, "taps"), (48, 7, "taps")]:
        x, w = np.zeros((1, channels, size, size), np.float32), np.zeros((channels, 1, 7, 7), np.float32)
        p = fast.plan(check_conv_args(x, w, padding=3, groups=channels))
        assert p.method == expected, (channels, size)
        if expected == "channels_last":  # every channel in each tile, rows split
            assert p.group_tile == channels and p.row_tile <= size
    x, w = np.zeros((1, 384, 7, 7), np.float32), np.zeros((768, 1, 7, 7), np.float32)  # multiplier 2
    assert fast.plan(check_conv_args(x, w, padding=3, groups=384)).method == "taps"


# ---------------------------------------------------------------- pointwise
def test_pointwise_layers_multiply_the_input_rows_themselves(two_threads):
    rng = np.random.default_rng(4)
    x = np.asfortranarray(rng.standard_normal((2, 12, 9, 7)))  # not C-contiguous: copied by reshape
    w = rng.standard_normal((6, 4, 1, 1))
    assert fast.plan(check_conv_args(x, w, groups=3)).pointwise
    assert not fast.plan(check_conv_args(x, w, groups=3, stride=2)).pointwise
    assert not fast.plan(check_conv_args(x, w, groups=3, padding=1)).pointwise
    assert not fast.plan(check_conv_args(x, rng.standard_normal((6, 4, 3, 1)), groups=3)).pointwise
    for tile_bytes in (None, 1):
        np.testing.assert_allclose(run_fast(x, w, None, "gemm", tile_bytes, groups=3),
                                   gl.conv2d_naive(x, w, groups=3), **TOL[np.dtype(np.float64)])


def test_plans_are_kept_per_layer_and_follow_the_tile_settings(monkeypatch):
    x, w = np.zeros((1, 8, 10, 10), np.float32), np.zeros((8, 4, 3, 3), np.float32)
    a = check_conv_args(x, w, padding=1, groups=2)
    assert fast.plan(a) is fast.plan(check_conv_args(x, w, padding=1, groups=2))
    assert fast.plan(a) is not fast.plan(check_conv_args(x, w, padding=0, groups=2))
    monkeypatch.setitem(fast.TILE_BYTES, "gemm", 1)
    assert fast.plan(a).row_tile == 1  # planned again with the new tile size
    monkeypatch.setattr(fast, "KEPT_PLANS", 1)
    fast.plan(check_conv_args(x, w, padding=2, groups=2))
    assert len(fast._PLANS) == 1  # the others were dropped


# ---------------------------------------------------------------- direct: one product per tap
@pytest.mark.parametrize("tile_bytes", TILES.values(), ids=TILES.keys())
@pytest.mark.parametrize(("stride", "dilation", "padding"), [(1, 1, 1), (2, 1, 0), (1, 2, (2, 1)), (3, 2, 2)])
def test_direct_products_match_naive_and_torch(stride, dilation, padding, tile_bytes, two_threads):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 64, 11, 10))
    w = rng.standard_normal((16, 32, 3, 2))  # 2 groups of 32 inputs and 8 outputs
    x[0, 3, 4, 4], x[1, 40, 2, 3], x[1, 41, 5, 5] = np.inf, -np.inf, np.nan
    kwargs = dict(stride=stride, dilation=dilation, padding=padding, groups=2)
    assert fast.plan(check_conv_args(x, w, **kwargs)).direct
    ours = run_fast(x, w, None, "gemm", tile_bytes, **kwargs)
    theirs = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kwargs).numpy()
    np.testing.assert_allclose(ours, theirs, **TOL[np.dtype(np.float64)])  # NaN where torch's are
    x[~np.isfinite(x)] = 0
    np.testing.assert_allclose(run_fast(x, w, None, "gemm", tile_bytes, **kwargs),
                               gl.conv2d_naive(x, w, **kwargs), **TOL[np.dtype(np.float64)])


def test_direct_is_chosen_for_many_inputs_per_output_only():
    def direct(c_in, c_out, groups, k=3):
        x, w = np.zeros((1, c_in, 8, 8), np.float32), np.zeros((c_out, c_in // groups, k, k), np.float32)
        return fast.plan(check_conv_args(x, w, padding=k // 2, groups=groups)).direct
    assert direct(256, 128, 8) and direct(64, 32, 1)
    assert not direct(64, 64, 1) and not direct(64, 256, 16) and not direct(16, 8, 2)  # 8 inputs per group
    assert not direct(64, 16, 1, k=1)  # pointwise: no shifts at all


@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs"), [
    ((1, 256, 56, 56), (256, 8, 3, 3), {"padding": 1, "groups": 32}),  # groups, then rows
    ((1, 256, 14, 14), (1024, 256, 1, 1), {}),  # split by output channels
    ((8, 58, 28, 28), (58, 1, 3, 3), {"padding": 1, "groups": 58}),  # two images a tile
    ((8, 232, 7, 7), (232, 1, 3, 3), {"padding": 1, "groups": 232}),  # channels_last, 8 images
    ((3, 64, 40, 40), (64, 64, 3, 3), {"padding": 1}),  # rows
])
def test_plan_counts_the_tiles_a_call_runs(monkeypatch, x_shape, w_shape, kwargs):
    seen = []
    monkeypatch.setattr(fast, "run_jobs", lambda jobs, make, **kw: seen.append(len(jobs)))
    x, w = np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32)
    gl.conv2d(x, w, **kwargs)
    p = fast.layer_plan(x, w, **kwargs)
    h_out = fast.check_conv_args(x, w, **kwargs, nd=2).out_spatial[0]
    assert seen == [p.n_tiles(x_shape[0], kwargs.get("groups", 1), w_shape[0], h_out)]
