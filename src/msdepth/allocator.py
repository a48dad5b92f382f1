"""glibc's allocator, tuned to keep freed memory in the process.

Training steps and rendered frames allocate and free many large temporaries (activations,
gradients, per-pixel arrays of 0.1 MB to over 100 MB). With glibc's defaults each one above the
mmap threshold is a fresh mapping whose pages fault in, zeroed, one at a time, and freed heap is
trimmed back to the kernel: ~180k page faults per coarse training step at batch 32, about a
third of the renderer's image-sensor time. With mmap off and no trimming the same memory is
reused and the peak RSS stays the workload's own peak. Elsewhere than glibc nothing changes.
"""

from __future__ import annotations

import ctypes
import functools
import platform
from collections.abc import Iterator
from contextlib import contextmanager

# glibc mallopt parameters (malloc.h) and its defaults
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # pragma: no cover - glibc without the usual soname
        return None


def reuse_freed_memory(enabled: bool = True) -> bool:
    """Make glibc keep freed memory in the process (``enabled``) or restore its defaults.

    Returns False (and does nothing) where the C library is not glibc.
    """
    libc = _glibc()
    if libc is None:
        return False
    if enabled:
        return bool(libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    ok = libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX) and libc.mallopt(
        _M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD
    )
    libc.malloc_trim(0)  # hand what was kept back to the kernel
    return bool(ok)


@contextmanager
def reusing_freed_memory(enabled: bool = True) -> Iterator[None]:
    """`reuse_freed_memory` for the duration of a block (glibc's defaults afterwards)."""
    if not enabled:
        yield
        return
    reuse_freed_memory(True)
    try:
        yield
    finally:
        reuse_freed_memory(False)


@functools.cache
def keep_freed_memory() -> bool:
    """`reuse_freed_memory` for the rest of this process, once (rendering worker processes)."""
    return reuse_freed_memory(True)
