"""gconv_lib.bench: the suite, the timing and memory helpers, the table and the command.

No test here checks a speed: timings depend on the machine. They check that the
benchmark measures what it says (median, peak of a known allocation, FLOP count) and
that the command writes its table.
"""

from dataclasses import replace

import numpy as np
import pytest

import gconv_lib as gl
from gconv_lib import bench

pytest.importorskip("torch")

TINY = (bench.Layer("tiny grouped", 4, 8, 3, 6, groups=2, padding=1, batch=2),
        bench.Layer("tiny depthwise s2", 3, 3, 3, 7, groups=3, stride=2, padding=1, batch=2))


def test_suite_covers_the_issue_layers():
    kinds = {(L.groups == 1, L.groups == L.in_channels == L.out_channels, L.kernel_size, L.stride)
             for L in bench.SUITE}
    assert (True, False, 3, 1) in kinds  # dense 3x3
    assert (False, True, 3, 1) in kinds and (False, True, 3, 2) in kinds  # depthwise s1, s2
    assert (False, True, 7, 1) in kinds  # ConvNeXt 7x7
    grouped = [L for L in bench.SUITE if 1 < L.groups < L.in_channels]
    assert any(L.kernel_size == 1 for L in grouped)
    assert any(L.in_channels > L.out_channels for L in grouped)
    assert any(L.in_channels < L.out_channels for L in grouped)
    assert all(L.batch == 8 for L in bench.SUITE)


@pytest.mark.parametrize("layer", bench.SUITE, ids=lambda L: L.name)
def test_layer_arrays_and_flops(layer):
    x, w = layer.arrays()
    assert x.dtype == w.dtype == np.float32
    assert x.shape == (8, layer.in_channels, layer.size, layer.size)
    assert w.shape == gl.weight_shape(layer.in_channels, layer.out_channels, layer.kernel_size,
                                      layer.groups)
    out = gl.conv_output_size(layer.size, layer.kernel_size, layer.stride, layer.padding)
    assert layer.flops() == 2 * 8 * layer.out_channels * out**2 * w[0].size


def test_time_call_is_the_median():
    durations = iter([0.0, 0.03, 0.01, 0.02])  # the warm-up call, then three timed calls
    import time

    def fn():
        time.sleep(next(durations))

    assert bench.time_call(fn, repeats=3, warmup=1) == pytest.approx(0.02, abs=0.008)


def test_peak_memory_sees_numpy_allocations():
    size = 4 * 2**20
    peak = bench.peak_memory(lambda: np.ones(size // 8))
    assert size <= peak < size + 2**16
    assert bench.peak_memory(lambda: None) < 2**12


def test_run_suite_table_and_threads(tmp_path):
    torch = pytest.importorskip("torch")
    results = bench.run_suite(TINY, repeats=2, threads=1)
    assert torch.get_num_threads() == 1 and gl.fast.get_num_threads() == 1
    for r in results:
        assert r.ours > 0 and r.torch > 0 and r.max_abs_diff < 1e-4
        assert r.io_bytes == sum(a.nbytes for a in r.layer.arrays()) + 4 * np.prod(
            gl.conv2d(*r.layer.arrays(), **r.layer.kwargs).shape)
        assert r.peak >= 4 * np.prod(gl.conv2d(*r.layer.arrays(), **r.layer.kwargs).shape)
    table = bench.to_markdown(results, threads=1, repeats=2)
    lines = table.splitlines()
    assert lines[0].startswith("Threads: 1")
    assert lines[2] == "| " + " | ".join(bench.COLUMNS) + " |"
    assert [line.split(" | ")[0] for line in lines[4:6]] == ["| tiny grouped", "| tiny depthwise s2"]
    assert "Median ratio" in lines[-1]


def test_main_writes_the_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "SUITE", TINY)
    out = tmp_path / "sub" / "bench.md"
    assert bench.main(["--quick", "--threads", "1", "--suite", "layers", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("threads: 1")
    assert out.read_text() in printed
    assert "tiny depthwise s2" in out.read_text()


def test_time_calls_rounds_flip_the_order_and_take_medians():
    import time

    calls = []
    fast_fn = lambda: calls.append("a")
    slow_fn = lambda: (calls.append("b"), time.sleep(0.01))
    t_fast, t_slow = bench.time_calls([fast_fn, slow_fn], repeats=2, warmup=1, rounds=2)
    assert "".join(calls) == "aaa" "bbb" "bbb" "aaa"
    assert t_fast < 0.005 <= 0.009 < t_slow


TINY_KINDS = (
    bench.Layer("tiny backward", 4, 6, 3, 7, groups=2, stride=2, padding=1, batch=2, op="backward"),
    bench.Layer("tiny transposed", 4, 6, 4, 5, groups=2, stride=2, padding=1, batch=2, op="transposed"),
    bench.Layer("tiny conv1d", 4, 4, 3, 30, groups=4, padding=1, batch=2, nd=1),
    bench.Layer("tiny conv3d", 2, 4, 3, (4, 5, 6), stride=2, batch=2, nd=3),
)


def test_every_kind_of_call_matches_torch_and_counts_its_bytes():
    results = bench.run_suite(TINY_KINDS, repeats=1, threads=1)
    backward, transposed, conv1d, conv3d = results
    assert all(r.max_abs_diff < 1e-4 for r in results)
    assert conv1d.floor > 0 and backward.floor is transposed.floor is conv3d.floor is None  # depthwise 1-d
    x, w = transposed.layer.arrays()
    assert w.shape == (4, 3, 4, 4)
    out = gl.conv_transpose2d(x, w, **transposed.layer.kwargs)
    assert out.shape[2:] == transposed.layer.out_spatial == (10, 10)
    assert transposed.io_bytes == x.nbytes + w.nbytes + out.nbytes
    x, w = backward.layer.arrays()
    dy = 4 * 2 * 6 * 4 * 4  # grad_output, (2, 6, 4, 4) float32
    grads = x.nbytes + w.nbytes + 4 * 6  # grad_input, grad_weight, grad_bias
    assert backward.io_bytes == x.nbytes + w.nbytes + dy + grads
    assert backward.layer.flops() == 2 * 2 * gl.macs(4, 6, 3, 7, groups=2, stride=2, padding=1, batch=2)
    assert conv3d.layer.out_spatial == (1, 2, 2) == gl.conv3d(*conv3d.layer.arrays(), stride=2).shape[2:]
    assert conv1d.layer.flops() == 2 * 2 * 4 * 30 * 3


def test_depthwise_layers_get_the_floor():
    layer = TINY[1]
    assert layer.depthwise and not TINY[0].depthwise
    result = bench.run_layer(layer, repeats=1)
    assert result.floor > 0
    table = bench.to_markdown([bench.run_layer(TINY[0], repeats=1), result], threads=1, repeats=1)
    assert "Depthwise, gconv_lib/floor: median" in table and "Not depthwise" in table
    assert table.splitlines()[-1].startswith("Median ratio")


@pytest.mark.parametrize(("layer", "taps", "values"), [
    (bench.Layer("dw 1-d", 4, 4, 5, 20, groups=4, padding=2, nd=1, batch=2), 5, 2 * 4 * 20),
    (bench.Layer("dw 3-d", 3, 3, 3, (4, 5, 5), groups=3, padding=1, nd=3, batch=1), 27, 3 * 4 * 5 * 5),
    (bench.Layer("dw x2", 3, 6, 3, 8, groups=3, padding=1, batch=1), 9, 6 * 8 * 8),  # multiplier 2
    # transposed, stride 2: each of the 4 x 4 input values of a channel meets the 9 taps
    (bench.Layer("dw up", 3, 3, 3, 4, groups=3, stride=2, op="transposed", batch=2), 9, 2 * 3 * 4 * 4),
])
def test_every_depthwise_layer_gets_a_floor_of_one_pass_per_tap(monkeypatch, layer, taps, values):
    assert layer.depthwise
    assert not bench.Layer("grouped", 4, 4, 3, 8, groups=2).depthwise
    assert not bench.Layer("dw backward", 3, 3, 3, 8, groups=3, op="backward").depthwise
    passes = []

    class CountingNumPy:  # NumPy, with the floor's multiply passes counted
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def multiply(src, tap, out):
            passes.append(src.size)
            return np.multiply(src, tap, out=out)

    monkeypatch.setattr(bench, "np", CountingNumPy())
    bench.floor_call(layer)()
    monkeypatch.undo()
    assert len(passes) == taps and set(passes) == {values}
    assert bench.run_layer(layer, repeats=1).floor > 0


def test_the_floor_runs_its_passes_on_every_chunk(monkeypatch):
    seen = []
    monkeypatch.setattr(bench, "run_jobs", lambda jobs, make, blas: seen.append((jobs, make, blas)))
    bench.floor_call(bench.Layer("dw", 3, 3, 3, 10, groups=3, padding=1, batch=2), chunk_bytes=64)()
    (jobs, make, blas), = seen
    assert not blas and jobs[0] == (0, 16) and jobs[-1] == (592, 600)  # 2 * 3 * 10 * 10 elements
    worker = make()
    worker(0, 16)  # runs without error on a full chunk and on the last, short one
    worker(592, 600)


def test_the_suites():
    suites = bench.suites()
    assert set(suites) == {"layers", "small", "backward", "transposed", "conv1d", "conv3d"}
    assert {L.op for L in suites["backward"]} == {"backward"}
    assert {L.op for L in suites["transposed"]} == {"transposed"}
    assert {L.nd for L in suites["conv1d"]} == {1} and {L.nd for L in suites["conv3d"]} == {3}
    assert all(L.batch == 1 for L in suites["small"])
    assert any(L.depthwise for L in suites["small"])
    long = suites["conv1d"][0]
    assert long.batch == 1 and long.spatial == (200_000,) and long.in_channels == 64


def test_networks_are_timed_layer_by_layer(monkeypatch, tmp_path, capsys):
    from gconv_lib import networks

    def tiny():
        net = networks.Network("tiny net", size=8).conv(3, 4, 3, stride=2).conv(4, 4, 3, groups=4)
        return net.conv(4, 4, 3, groups=4).linear(4, 2)  # the depthwise layer twice

    result = bench.run_network(tiny(), batch=2, repeats=1)
    assert (result.layers, result.distinct, result.batch) == (3, 2, 2)
    assert result.macs == 2 * tiny().macs() and result.ours > 0 and result.torch > 0
    table = bench.networks_markdown([result, replace(result, batch=1)])
    assert "| tiny net | 2 | 3 (2) |" in table
    assert f"Batch 2: geometric mean of the ratios {result.ratio:.2f}" in table
    monkeypatch.setattr(bench, "NETWORKS", (tiny,))
    out = tmp_path / "bench.md"
    assert bench.main(["--quick", "--threads", "1", "--suite", "networks", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("Measured ") and "## networks" in text and "Batch 1: geometric mean" in text


def test_an_unknown_suite_is_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--suite", "layers,videos"])
    err = capsys.readouterr().err
    assert "--suite must name suites among layers, small" in err and "but got videos" in err


def test_time_in_numpy_splits_a_call_and_puts_numpy_back(monkeypatch):
    fake = iter(range(1000))
    monkeypatch.setattr(bench.time, "perf_counter", lambda: float(next(fake)))
    x, w = np.ones((1, 4, 6, 6), np.float32), np.ones((4, 4, 3, 3), np.float32)
    before = gl.fast.np
    split = bench.time_in_numpy(lambda: gl.conv2d(x, w, padding=1), names=("matmul",), repeats=2)
    assert gl.fast.np is before  # swapped back
    # one tile a call, one product a tile: each timed product reads the fake clock twice,
    # one tick apart; the whole timed loop spans both calls' ticks and the products'
    assert split["matmul"] == 1.0 and split["total"] == 2.5
    calls = []

    def fails_when_timed():  # the first, untimed call passes
        calls.append(gl.fast.np)
        return 1 / (len(calls) == 1)

    with pytest.raises(ZeroDivisionError):
        bench.time_in_numpy(fails_when_timed)
    assert calls[0] is before and calls[1] is not before and gl.fast.np is before
