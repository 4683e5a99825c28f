"""Compiled kernels cached on disk: the one ``numba.njit`` wrapper of every module with numba kernels."""

from __future__ import annotations

try:  # numba is a dependency; modules with kernels keep a numpy path for when it is missing
    import numba
except ImportError:  # pragma: no cover
    numba = None


def cached_njit(**options):
    """``numba.njit`` with the compiled code cached on disk (next to the module, or numba's user-wide cache
    directory when the package is read-only), so each new process (each Dask worker) loads the kernels
    instead of compiling them; where no cache folder is writable numba refuses ``cache=True`` and the
    kernels compile in each process instead."""

    def decorate(function):
        try:
            return numba.njit(cache=True, **options)(function)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(**options)(function)

    return decorate
