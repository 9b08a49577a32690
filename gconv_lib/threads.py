"""gconv_lib's threads: how many, the pool that runs them, their buffers, and NumPy's BLAS.

**How many.** :func:`get_num_threads` and :func:`set_num_threads`; at import the
environment variable ``GCONV_NUM_THREADS`` (a positive integer), else the number of CPUs
(at most 64). :mod:`gconv_lib.fast` (the default ``conv1d``/``conv2d`` path) and
:mod:`gconv_lib.transpose` (``conv_transpose2d``, and so ``conv2d_backward``) use them.

**The pool.** :func:`run_jobs` splits a call's work between workers, and
:func:`run_in_pool` hands them to ``get_num_threads() - 1`` threads that each wait on an
Event of their own (:class:`_Workers`): handing a call to them and waiting for them took
about 30 us on the project's 2-vCPU VM, where a ``ThreadPoolExecutor`` took about 140 us
(its queue, then its futures), as much as the arithmetic of a small layer. One call uses
them at a time; a call that finds them busy (another thread is convolving) goes to one
shared ``ThreadPoolExecutor`` instead. Both are swapped under the lock that
:func:`set_num_threads` takes; the old ones finish the work already given to them and then
stop. So changing the count while other threads convolve never fails a call, and a call
started before the change still gets every worker it asked for.

**Their buffers.** Each thread keeps the scratch buffers its tiles used
(:func:`thread_buffers`) for its next call, up to :data:`KEEP_BYTES` each. A fresh
multi-MiB array is new pages that the kernel maps one fault at a time: for a layer that
takes a fraction of a millisecond, fresh buffers in every call took longer than the
arithmetic (a 1x1 16 -> 16 layer on 112 x 112: 1.4 ms, 0.25 ms with kept buffers).

**NumPy's BLAS.** While gconv_lib's own matrix products run (:func:`one_blas_thread`), the
BLAS libraries NumPy loaded are held to one thread through ``threadpoolctl`` (which knows
OpenBLAS, MKL and BLIS builds): gconv_lib's workers already keep the cores busy, and a
product's result must not depend on how many threads BLAS used (OpenBLAS splits some
products differently by thread count), or results would not be bit-identical across
thread counts. OpenBLAS has one thread count per process, so a BLAS call in another
thread runs on one thread while a gconv_lib call is computing products. When the last
concurrent call ends, the count each library had before is restored -- unless it is no
longer one, that is, unless someone set it meanwhile: that setting stays. A library that
already runs on one thread is never touched.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from threadpoolctl import ThreadpoolController

from .validate import check_num_threads, ieee_quietly, num_threads_from_environment

#: A thread keeps a scratch buffer for its next call when it is at most this size.
KEEP_BYTES = 16 << 20
_LOCAL = threading.local()
_NUM_THREADS = num_threads_from_environment(os.environ) or max(1, min(os.cpu_count() or 1, 64))
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def get_num_threads() -> int:
    """The number of threads gconv_lib's default convolution path uses.

    Set by :func:`set_num_threads`; at import, by the environment variable
    ``GCONV_NUM_THREADS``, else the number of CPUs (at most 64).

    Examples
    --------
    >>> get_num_threads() >= 1
    True
    """
    return _NUM_THREADS


def set_num_threads(n) -> None:
    """Use ``n`` threads in ``conv1d``, ``conv2d``, ``conv_transpose2d`` and ``conv2d_backward``.

    Safe to call while other threads convolve: calls already running finish on the
    threads they started with. NumPy's BLAS settings are not changed (see the module
    docstring for how they are held during a call); with ``n = 1`` gconv_lib starts no
    threads of its own.

    Parameters
    ----------
    n : int
        At least 1.

    Raises
    ------
    TypeError
        When ``n`` is not an int (``2.0`` and ``True`` are not).
    ValueError
        When ``n < 1``.

    Examples
    --------
    >>> before = get_num_threads()
    >>> set_num_threads(2); get_num_threads()
    2
    >>> set_num_threads(before)
    """
    global _NUM_THREADS, _POOL, _WORKERS
    n = check_num_threads(n)
    with _POOL_LOCK:
        old = (_POOL, _WORKERS) if n != _NUM_THREADS else (None, None)
        if n != _NUM_THREADS:
            _POOL = _WORKERS = None
        _NUM_THREADS = n
    if old[0] is not None:
        old[0].shutdown(wait=False)  # its queued work still runs; then its threads end
    if old[1] is not None:
        old[1].retire()  # a call using them ends first; then their threads end


#: Multiply-adds (or element-wise operations) that one more worker must get before
#: :func:`run_jobs` starts it: handing work to a pool thread and waiting for it costs tens
#: of microseconds (more on a busy machine), about what one core computes in this much.
WORK_PER_WORKER = 4_000_000


class _Workers:
    """``get_num_threads() - 1`` threads, each waiting on its own :class:`threading.Event`.

    A call hands its work to them and waits for them with one Event each way: on the
    project's 2-vCPU VM a round trip took about 30 us, where a ``ThreadPoolExecutor``'s
    queue and futures took about 140 us, as much as the arithmetic of a small layer. One
    call uses them at a time (:meth:`claim`); a call that finds them busy, or wants more
    workers than they are, uses the executor.
    """

    def __init__(self, n: int):
        self.lock, self.busy, self.retired = threading.Lock(), False, False
        self.slots = [_Slot(f"gconv_lib_worker_{k}") for k in range(n)]

    def claim(self, workers: int) -> bool:
        """Take the first ``workers`` threads for one call; False when they cannot be had."""
        with self.lock:
            if self.busy or self.retired or workers > len(self.slots):
                return False
            self.busy = True
            return True

    def run(self, work, workers: int, here: bool) -> None:
        """Run ``work()`` on ``workers`` of them (after :meth:`claim`) and, with ``here``, on
        the calling thread; return when all are done, then raise the first error."""
        try:
            slots = self.slots[:workers]
            for slot in slots:
                slot.give(work)
            error = None
            if here:
                try:
                    work()
                except BaseException as e:  # raised once the workers have ended too
                    error = e
            for slot in slots:
                slot.done.wait()
            errors = [slot.error for slot in slots if slot.error is not None]
            if error is not None:  # the calling thread's, after the workers'
                errors.append(error)
            for slot in slots:
                slot.error = None  # nor to its frames, through a traceback
            if errors:
                raise errors[0]
        finally:
            with self.lock:
                self.busy, stop = False, self.retired
            if stop:
                self.stop()

    def retire(self) -> None:
        """Stop the threads now, or when the call using them ends."""
        with self.lock:
            self.retired, stop = True, not self.busy
        if stop:
            self.stop()

    def stop(self) -> None:
        for slot in self.slots:
            slot.give(None)


class _Slot:
    """One worker thread: it runs what :meth:`give` hands it, and stops on ``None``."""

    def __init__(self, name: str):
        self.start, self.done = threading.Event(), threading.Event()
        self.work = self.error = None
        threading.Thread(target=self.loop, name=name, daemon=True).start()

    def give(self, work) -> None:
        self.work, self.error = work, None
        self.done.clear()
        self.start.set()

    def loop(self) -> None:
        while True:
            self.start.wait()
            self.start.clear()
            work, self.work = self.work, None  # no reference to the call's arrays after it
            if work is None:
                return
            try:
                work()
            except BaseException as e:  # raised by the caller
                self.error = e
            finally:
                del work
                self.done.set()


_WORKERS: _Workers | None = None


def run_in_pool(work, workers: int, here: bool = False) -> None:
    """Run ``work()`` on ``workers`` threads of the pool at once; return when all are done.

    With ``here``, one more ``work()`` runs on the calling thread meanwhile (so a call that
    wants two workers wakes one pool thread, not two, and does not sit idle). The first
    exception raised by a worker is raised here, after every worker has ended. The
    workers are :class:`_Workers` when they are free, else a ``ThreadPoolExecutor``.
    """
    global _POOL, _WORKERS
    with _POOL_LOCK:
        if _WORKERS is None:
            _WORKERS = _Workers(max(0, _NUM_THREADS - 1))
        fast = _WORKERS if _WORKERS.claim(workers) else None
        if fast is None:
            if _POOL is None:
                _POOL = ThreadPoolExecutor(_NUM_THREADS, thread_name_prefix="gconv_lib")
            futures = [_POOL.submit(work) for _ in range(workers)]
    if fast is not None:
        fast.run(work, workers, here)
        return
    error = None
    if here:
        try:
            work()
        except BaseException as e:  # raised once the pool's workers have ended too
            error = e
    wait(futures)
    for future in futures:
        future.result()
    if error is not None:
        raise error


def run_jobs(jobs, make_worker, blas: bool = True, work: int | None = None) -> None:
    """Run every job of the list ``jobs`` on gconv_lib's threads; return when all are done.

    Each of ``min(get_num_threads(), len(jobs))`` workers calls ``make_worker()`` once (so
    that it can keep buffers of its own) and then calls what it returned with each job it
    takes from the shared list, ``worker(*job)``, until none is left. One worker runs on
    the calling thread, more on the pool; given the call's total ``work`` (multiply-adds
    or element-wise operations), only as many as get :data:`WORK_PER_WORKER` each. Workers
    compute with NumPy's floating-point warnings off
    (:func:`~gconv_lib.validate.ieee_quietly`); with ``blas``, NumPy's BLAS is held to one
    thread meanwhile (:data:`one_blas_thread`). The results must not depend on which worker
    runs which job: each job writes its own part of the output.
    """
    shared, lock = iter(jobs), threading.Lock()

    @ieee_quietly
    def worker_loop():
        worker = make_worker()
        try:
            while True:
                with lock:
                    job = next(shared, None)
                if job is None:
                    return
                worker(*job)
        finally:
            trim_thread_buffers()

    workers = min(_NUM_THREADS, len(jobs))
    if work is not None:
        workers = min(workers, max(1, work // WORK_PER_WORKER))
    with one_blas_thread if blas else contextlib.nullcontext():
        if workers <= 1:
            worker_loop()
        else:
            run_in_pool(worker_loop, workers - 1, here=True)


def thread_buffers() -> dict:
    """This thread's scratch buffers, by name: kept from one call to the next.

    Only this thread uses them, one worker at a time, so no lock is needed; results
    never alias them (each worker copies its tile's result into the output).
    """
    buffers = getattr(_LOCAL, "buffers", None)
    if buffers is None:
        buffers = _LOCAL.buffers = {}
    return buffers


def trim_thread_buffers() -> None:
    """Drop this thread's scratch buffers larger than :data:`KEEP_BYTES`."""
    buffers = thread_buffers()
    for name in [name for name, buffer in buffers.items() if buffer.nbytes > KEEP_BYTES]:
        del buffers[name]


@functools.cache
def _blas_libraries() -> tuple:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process."""
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


class _OneBlasThread:
    """Context manager: BLAS held to one thread while any ``with`` block is inside it.

    Nested and concurrent blocks share one count; the first in saves and sets, the last
    out restores what it saved for each library still at one thread.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        """No block inside (a new lock: a forked child must not inherit a held one)."""
        self.lock, self.depth, self.saved = threading.Lock(), 0, []

    def __enter__(self):
        with self.lock:
            if self.depth == 0:
                counts = [(lib, lib.num_threads) for lib in _blas_libraries()]  # one query each
                self.saved = [(lib, count) for lib, count in counts if count != 1]
                for lib, _ in self.saved:
                    lib.set_num_threads(1)
            self.depth += 1

    def __exit__(self, *exc):
        with self.lock:
            self.depth -= 1
            if self.depth == 0:
                self.restore()

    def restore(self):
        """Give back each saved count, where the library is still at the one thread set here."""
        for lib, before in self.saved:
            if lib.num_threads == 1:
                lib.set_num_threads(before)
        self.saved = []


one_blas_thread = _OneBlasThread()


def _after_fork_in_child():
    """A forked child has none of the parent's threads: a new pool, and BLAS given back."""
    global _POOL, _POOL_LOCK, _WORKERS
    _POOL, _POOL_LOCK, _WORKERS = None, threading.Lock(), None
    if one_blas_thread.depth:  # the calls that held BLAS do not exist in the child
        one_blas_thread.restore()
    one_blas_thread.reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
