"""gconv_lib.threads: the thread count and its settings, the pool under concurrent use, and
NumPy's BLAS held to one thread only while gconv_lib's products run, never overwriting a
setting someone made meanwhile."""

import os
import re
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import run_while_the_thread_count_changes
from threadpoolctl import threadpool_info, threadpool_limits

import gconv_lib as gl
from gconv_lib import fast, threads
from gconv_lib.validate import num_threads_from_environment

needs_blas = pytest.mark.skipif(not threads._blas_libraries(), reason="threadpoolctl finds no BLAS library")


def blas_threads() -> list[int]:
    """The thread count of every BLAS library threadpoolctl sees."""
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


# ---------------------------------------------------------------- the setting
@pytest.mark.parametrize(("value", "expected"),
                         [("4", 4), (" 3\n", 3), ("", None), ("  ", None), (None, None)])
def test_the_environment_variable(value, expected):
    environ = {} if value is None else {"GCONV_NUM_THREADS": value}
    assert num_threads_from_environment(environ) == expected


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5", "1e3", "4 threads"])
def test_a_bad_environment_variable_says_which_and_what_it_must_be(value):
    message = (f"the environment variable GCONV_NUM_THREADS must be a positive integer (the number of "
               f"threads gconv_lib uses), but it is {value!r}")
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        num_threads_from_environment({"GCONV_NUM_THREADS": value})


@pytest.mark.parametrize(("value", "expected"), [("abc", None), ("3", "3")])
def test_the_environment_variable_at_import(value, expected):
    env = dict(os.environ, GCONV_NUM_THREADS=value)
    run = subprocess.run([sys.executable, "-c", "import gconv_lib; print(gconv_lib.get_num_threads())"],
                         env=env, capture_output=True, text=True, timeout=60)
    if expected is None:
        assert run.returncode != 0
        assert run.stderr.strip().splitlines()[-1] == (
            "ValueError: the environment variable GCONV_NUM_THREADS must be a positive integer "
            "(the number of threads gconv_lib uses), but it is 'abc'")
    else:
        assert run.returncode == 0 and run.stdout.strip() == expected


def test_set_and_get_are_top_level_and_the_same_as_fast_s():
    assert gl.set_num_threads is threads.set_num_threads is fast.set_num_threads
    assert gl.get_num_threads is threads.get_num_threads is fast.get_num_threads


# ---------------------------------------------------------------- the pool
def configurations():
    """(x, w, kwargs) for a 'gemm' and a 'taps' layer, large enough to use several workers."""
    rng = np.random.default_rng(0)
    dense = (rng.standard_normal((2, 8, 24, 24), np.float32), rng.standard_normal((8, 8, 3, 3), np.float32),
             dict(padding=1))
    depthwise = (rng.standard_normal((2, 16, 24, 24)), rng.standard_normal((16, 1, 3, 3)),
                 dict(padding=1, groups=16, stride=2))
    return [dense, depthwise]


def test_concurrent_calls_while_the_count_changes():
    """Four threads convolve while the main thread changes the count: no call fails, and every
    result is bit for bit the one computed alone (the old pool was shut down under callers)."""
    cases = configurations()
    before = gl.get_num_threads()
    gl.set_num_threads(1)
    try:
        expected = [gl.conv2d(x, w, **kwargs) for x, w, kwargs in cases]
    finally:
        gl.set_num_threads(before)

    def convolve(k):
        for i in range(k, k + 25):
            x, w, kwargs = cases[i % len(cases)]
            np.testing.assert_array_equal(gl.conv2d(x, w, **kwargs), expected[i % len(cases)])

    errors, changes = run_while_the_thread_count_changes([lambda k=k: convolve(k) for k in range(4)])
    assert errors == [] and changes > 10


def test_a_worker_s_error_is_raised_after_every_worker_ended(two_threads):
    calls, finished, lock = [], [], threading.Lock()

    def work():
        with lock:
            calls.append(1)
            first = len(calls) == 1
        if first:
            raise RuntimeError("worker failed")
        finished.append(1)

    with pytest.raises(RuntimeError, match="worker failed"):
        threads.run_in_pool(work, 4)
    assert len(finished) == 3  # the others ran to the end before the error was raised


# ---------------------------------------------------------------- NumPy's BLAS
def record_blas_in_tiles(monkeypatch, hook=None):
    """Wrap fast._tile to record the BLAS thread counts each tile sees (and run ``hook`` first)."""
    seen, tile = [], fast._tile

    def recording(*args):
        if hook is not None:
            hook()
        seen.append(blas_threads())
        return tile(*args)

    monkeypatch.setattr(fast, "_tile", recording)
    return seen


@needs_blas
@pytest.mark.parametrize("n_threads", [1, 2])
def test_blas_runs_on_one_thread_during_products_and_is_given_back(monkeypatch, n_threads):
    x, w, kwargs = configurations()[0]
    before = gl.get_num_threads()
    gl.set_num_threads(n_threads)
    try:
        with threadpool_limits(2, user_api="blas"):
            seen = record_blas_in_tiles(monkeypatch)
            gl.conv2d(x, w, **kwargs)
            assert seen and all(counts == [1] * len(counts) for counts in seen)
            assert set(blas_threads()) == {2}  # given back
    finally:
        gl.set_num_threads(before)


@needs_blas
def test_depthwise_never_touches_blas(monkeypatch, two_threads):
    x, w, kwargs = configurations()[1]
    with threadpool_limits(2, user_api="blas"):
        seen = record_blas_in_tiles(monkeypatch)
        gl.conv2d(x, w, **kwargs)
        assert seen and all(set(counts) == {2} for counts in seen)


@needs_blas
def test_a_blas_setting_made_during_a_call_is_kept(monkeypatch, two_threads):
    """The user sets BLAS to 3 while a call holds it at 1: after the call it is 3, not the 2
    saved when the call started."""
    x, w, kwargs = configurations()[0]
    inside, go_on = threading.Event(), threading.Event()

    def wait_on_the_first_tile():
        if not inside.is_set():
            inside.set()
            assert go_on.wait(20)

    with threadpool_limits(2, user_api="blas"):
        record_blas_in_tiles(monkeypatch, wait_on_the_first_tile)
        call = threading.Thread(target=gl.conv2d, args=(x, w), kwargs=kwargs)
        call.start()
        assert inside.wait(20)
        assert set(blas_threads()) == {1}
        threadpool_limits(3, user_api="blas")  # the user's setting, in the middle of the call
        go_on.set()
        call.join(20)
        assert set(blas_threads()) == {3}


@needs_blas
def test_set_num_threads_leaves_blas_alone():
    with threadpool_limits(2, user_api="blas"):
        before = gl.get_num_threads()
        gl.set_num_threads(1)
        gl.set_num_threads(before)
        assert set(blas_threads()) == {2}


@needs_blas
def test_bit_identical_whatever_the_threads_of_gconv_lib_and_of_blas():
    """A product shape where OpenBLAS's result depends on its thread count: gconv_lib's results
    still do not (BLAS runs on one thread in every call)."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 96, 30, 30)), rng.standard_normal((100, 96, 3, 3))
    before, results = gl.get_num_threads(), []
    try:
        for n_threads, n_blas in [(1, 1), (1, 2), (2, 2), (3, 1)]:
            gl.set_num_threads(n_threads)
            with threadpool_limits(n_blas, user_api="blas"):
                results.append(gl.conv2d(x, w, padding=1))
    finally:
        gl.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


@needs_blas
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_blas_is_held_gets_the_setting_back():
    with threadpool_limits(2, user_api="blas"), threads.one_blas_thread:
        assert set(blas_threads()) == {1}
        pid = os.fork()
        if pid == 0:  # the child: exit 0 when BLAS has its 2 threads back and a call works
            signal.alarm(20)
            ok = set(blas_threads()) == {2} and gl.conv2d(np.ones((1, 2, 3, 3)), np.ones((1, 2, 3, 3))) == 18
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert set(blas_threads()) == {1}  # the parent still holds it
    assert os.waitstatus_to_exitcode(status) == 0


# ---------------------------------------------------------------- buffers and small calls
def test_a_thread_keeps_its_buffers_between_calls_up_to_keep_bytes(monkeypatch):
    x = np.ones((1, 4, 16, 16), np.float32)
    w = np.ones((4, 4, 3, 3), np.float32)
    before = gl.get_num_threads()
    gl.set_num_threads(1)  # every tile on this thread
    try:
        threads.thread_buffers().clear()
        gl.conv2d(x, w, padding=1)
        kept = dict(threads.thread_buffers())
        assert kept and all(b.nbytes <= threads.KEEP_BYTES for b in kept.values())
        gl.conv2d(x, w, padding=1)
        assert all(threads.thread_buffers()[name] is buffer for name, buffer in kept.items())
        monkeypatch.setattr(threads, "KEEP_BYTES", 0)
        gl.conv2d(x, w, padding=1)
        assert threads.thread_buffers() == {}
    finally:
        gl.set_num_threads(before)


def test_small_work_runs_on_the_calling_thread_only(two_threads):
    seen = []
    record = lambda: (lambda job: seen.append(threading.current_thread()))
    threads.run_jobs([(k,) for k in range(8)], record, blas=False, work=threads.WORK_PER_WORKER - 1)
    assert set(seen) == {threading.current_thread()} and len(seen) == 8
    seen.clear()
    threads.run_jobs([(k,) for k in range(8)], record, blas=False)  # no estimate: every thread may help
    assert len(seen) == 8  # which thread ran which job is not fixed


def test_the_calling_thread_s_error_waits_for_the_pool(two_threads):
    finished = []

    def work():
        if threading.current_thread() is threading.main_thread():
            raise RuntimeError("caller failed")
        finished.append(1)

    with pytest.raises(RuntimeError, match="caller failed"):
        threads.run_in_pool(work, 1, here=True)
    assert finished == [1]


def test_a_call_hands_work_to_the_waiting_workers_and_a_concurrent_one_to_the_executor(two_threads):
    names, inside, release = [], threading.Event(), threading.Event()

    def record():
        names.append(threading.current_thread().name)

    threads.run_in_pool(record, 1)
    assert names == ["gconv_lib_worker_0"]  # the Event worker, not the executor's thread

    def hold():  # keeps the Event worker busy until released
        inside.set()
        release.wait(10)

    first = threading.Thread(target=threads.run_in_pool, args=(hold, 1))
    first.start()
    assert inside.wait(10)
    names.clear()
    threads.run_in_pool(record, 1)  # the workers are taken: the executor runs it
    assert len(names) == 1 and names[0].startswith("gconv_lib_") and "worker" not in names[0]
    release.set()
    first.join(10)
    assert not first.is_alive()


def test_changing_the_count_ends_the_old_workers_after_their_call(two_threads):
    release, started = threading.Event(), threading.Event()
    threads.run_in_pool(lambda: None, 1)  # the workers exist
    old = [t for t in threading.enumerate() if t.name == "gconv_lib_worker_0"]
    assert len(old) == 1
    caller = threading.Thread(target=threads.run_in_pool,
                              args=(lambda: (started.set(), release.wait(10)), 1))
    caller.start()
    assert started.wait(10)
    gl.set_num_threads(3)  # while the old workers run a call
    assert all(t.is_alive() for t in old)
    release.set()
    caller.join(10)
    for t in old:
        t.join(10)
        assert not t.is_alive()  # retired once their call ended
    names = []
    threads.run_in_pool(lambda: names.append(threading.current_thread().name), 2)
    assert sorted(names) == ["gconv_lib_worker_0", "gconv_lib_worker_1"]  # a new set


def test_the_workers_keep_no_reference_to_a_call_s_arrays(two_threads):
    import gc
    import weakref
    x = np.ones((1, 32, 64, 64), np.float32)
    w = np.ones((32, 32, 3, 3), np.float32)
    out = gl.conv2d(x, w, padding=1)  # 38M multiply-adds: both workers
    refs = [weakref.ref(a) for a in (x, w, out)]
    del x, w, out
    gc.collect()
    assert [r() for r in refs] == [None, None, None]

    def fail():
        raise RuntimeError("worker failed")

    with pytest.raises(RuntimeError):
        threads.run_in_pool(fail, 1)
    assert all(slot.error is None for slot in threads._WORKERS.slots)
