"""Synthetic indoor RGB-D data: procedural rooms ray cast with exact metric z-depth.

    from msdepth.synth import synthesize_dataset
    synthesize_dataset("data/synth", train=2000, test=200, seed=0)

Modules, in the order a frame is made: `scene` (what a scene is), `palette` and `layout`
(random rooms), `raycast`, `surface`, `textures`, `shading`, `sensor`, `render` (one frame),
`dataset` (many frames into a prepared dataset).
"""

from msdepth.synth.dataset import render_frames, synthesize_dataset
from msdepth.synth.layout import random_scene
from msdepth.synth.render import render_sample, render_scene

__all__ = ["random_scene", "render_frames", "render_sample", "render_scene", "synthesize_dataset"]
