"""The fast default path of :func:`gconv_lib.conv2d` (work in progress: thread settings only)."""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_NUM_THREADS = max(1, min(int(os.environ.get("GCONV_NUM_THREADS", os.cpu_count() or 1)), 64))


def _openblas():
    """NumPy's bundled OpenBLAS library and its set/get-threads functions, or None."""
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*.so*")
    for path in glob.glob(libs):
        lib = ctypes.CDLL(path)
        for suffix in ("64_", "_64_", ""):
            name = "scipy_openblas_set_num_threads" + suffix
            if hasattr(lib, name) and hasattr(lib, "scipy_openblas_get_num_threads" + suffix):
                return getattr(lib, name), getattr(lib, "scipy_openblas_get_num_threads" + suffix)
    return None


def get_num_threads() -> int:
    """The number of threads gconv_lib's fast path uses."""
    return _NUM_THREADS


def set_num_threads(n: int) -> bool:
    """Use ``n`` threads in the fast path and in NumPy's BLAS (when it is a bundled OpenBLAS).

    Returns whether the BLAS thread count could be set too.
    """
    global _NUM_THREADS
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of threads must be a positive int, but got {n!r}")
    _NUM_THREADS = n
    blas = _openblas()
    if blas is None:
        return False
    blas[0](ctypes.c_int(n))
    return True
