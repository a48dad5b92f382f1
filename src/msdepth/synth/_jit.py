"""The one way the renderer compiles its per-pixel kernels (numba), so that every kernel gets
the same options.

- ``cache=True``: machine code is cached on disk beside the module (``__pycache__``) and loaded
  by later processes in milliseconds instead of compiled (about a second per kernel); where
  that folder is read-only numba falls back to a per-user cache (or ``NUMBA_CACHE_DIR``).
- ``nogil=True``: kernels release the GIL (threads could render in parallel).
- ``error_model="numpy"``: float division by zero gives inf/nan as in NumPy instead of raising
  (rays parallel to an axis rely on 1 / 0 = inf).
- no ``fastmath``: IEEE arithmetic, so results do not depend on vectorisation choices and the
  exact-depth guarantees of the NumPy code carry over.

Kernels take C-contiguous float32 / int32 / int64 / bool arrays only, to keep one compiled
signature each.
"""

from __future__ import annotations

import numba

kernel = numba.njit(cache=True, nogil=True, error_model="numpy")
