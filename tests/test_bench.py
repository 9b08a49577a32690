"""gconv_lib.bench: the suite, the timing and memory helpers, the table and the command.

No test here checks a speed: timings depend on the machine. They check that the
benchmark measures what it says (median, peak of a known allocation, FLOP count) and
that the command writes its table.
"""

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
    assert bench.main(["--quick", "--threads", "1", "--out", str(out)]) == 0
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
