"""The example rooms the page offers: a few frames of the built-in renderer, made on first use.

Nothing is committed or downloaded: each room is `msdepth.synth.render_sample` of its own split
name ("app-examples"), so it is deterministic, never a training or test frame of any seed, and the
same PNG on every machine that renders it.
"""

from __future__ import annotations

import io
import threading

import numpy as np
from PIL import Image

EXAMPLE_SPLIT = "app-examples"
EXAMPLE_SIZE = (640, 480)  # NYU's resolution: the rooms are rendered with NYU's Kinect camera
# name -> (seed, frame index), chosen by looking at the first frames for varied rooms
EXAMPLES = {"room-1": (0, 0), "room-2": (0, 1), "room-3": (0, 2)}

_lock = threading.Lock()
_cache: dict[str, bytes] = {}


def example_png(name: str) -> bytes:
    """The PNG file of example ``name`` (rendered once per process; `KeyError` if unknown)."""
    seed, index = EXAMPLES[name]
    with _lock:
        if name not in _cache:
            from msdepth.synth import render_sample

            rgb, _ = render_sample(seed, EXAMPLE_SPLIT, index, size=EXAMPLE_SIZE)
            buffer = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
            _cache[name] = buffer.getvalue()
        return _cache[name]
