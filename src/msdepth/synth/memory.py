"""Keep freed memory in the process: a frame makes hundreds of short-lived arrays of 0.1-4 MB.

With glibc's defaults, freed arrays of that size go back to the kernel (munmap or heap trim),
and the next frame's arrays fault their pages in again and have them zeroed: about a third of
the image sensor's time went to that. `keep_freed_memory` raises the mmap threshold (arrays up
to 16 MB come from the heap) and the trim threshold (up to 64 MB of freed heap is kept), once
per process. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def keep_freed_memory() -> None:
    """Tune glibc's allocator for many large temporaries (idempotent; no-op off glibc)."""
    global _done
    if _done:
        return
    _done = True
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl or no libc.so.6
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt(_M_MMAP_THRESHOLD, 16 << 20)
    mallopt(_M_TRIM_THRESHOLD, 64 << 20)
