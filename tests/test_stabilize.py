"""Temporal stabilisation: scale jitter removed, real scale changes followed, moving edges kept,
scene cuts reset (`msdepth.inference.stabilize`)."""

import itertools

import numpy as np
import pytest

from msdepth.inference.stabilize import Stabilizer

H, W = 55, 74


def scene_image(seed: int, square_at: int | None = None) -> np.ndarray:
    """A textured frame (4x the depth's size) and optionally a bright square at column
    ``square_at`` (of the depth map)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (H // 5 + 1, W // 5 + 1, 3)).astype(np.uint8)
    image = np.kron(small, np.ones((20, 20, 1), np.uint8))[: 4 * H, : 4 * W]
    if square_at is not None:
        image[80:140, 4 * square_at : 4 * square_at + 60] = 250
    return np.ascontiguousarray(image)


def frame_to_frame(logs: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(logs)]))


def test_global_scale_jitter_of_a_still_scene_is_removed():
    rng = np.random.default_rng(0)
    base = np.log(np.linspace(1.0, 4.0, W, dtype=np.float32))[None].repeat(H, 0)
    image = scene_image(1)
    raw = [base + np.float32(rng.normal(0, 0.05)) for _ in range(60)]
    stab = Stabilizer()
    out = [stab(log, image) for log in raw]
    assert frame_to_frame(out[10:]) < 0.3 * frame_to_frame(raw[10:])
    # the level stays that of the frames, not drifting away from them
    assert abs(float(np.mean(out[-20:]) - np.mean(raw))) < 0.05


def test_a_steady_change_of_scale_is_followed_without_a_lasting_lag():
    # walking towards a wall: every depth shrinks by 0.5 % a frame; the image hardly changes
    base = np.full((H, W), np.log(3.0), np.float32)
    image = scene_image(2)
    stab = Stabilizer()
    out = [stab(base - np.float32(0.005 * t), image) for t in range(80)]
    lag = float(np.mean(out[-1]) - np.mean(base - np.float32(0.005 * 79)))
    assert abs(lag) < 0.01  # under 1 % after the filter has picked up the trend


def test_pixels_whose_colour_changed_take_the_new_prediction():
    # a near square moves right by 10 depth pixels a frame: where it arrives, depth follows
    far, near = np.log(4.0), np.log(1.0)
    stab = Stabilizer()
    for t in range(6):
        log = np.full((H, W), far, np.float32)
        log[20:35, 10 * t : 10 * t + 15] = near
        out = stab(log, scene_image(3, square_at=10 * t))
    arrived = np.zeros((H, W), bool)
    arrived[22:33, 52:58] = True  # inside the square now, background a frame ago
    np.testing.assert_allclose(out[arrived], near, atol=0.02)
    left = np.zeros((H, W), bool)
    left[22:33, 41:48] = True  # background now, inside the square a frame ago
    np.testing.assert_allclose(out[left], far, atol=0.02)


def test_a_scene_cut_starts_again_from_the_new_prediction():
    stab = Stabilizer()
    first = np.full((H, W), np.log(2.0), np.float32)
    for _ in range(5):
        stab(first, scene_image(4))
    other = np.full((H, W), np.log(6.0), np.float32)
    out = stab(other, 255 - scene_image(5))
    np.testing.assert_array_equal(out, other)
    assert stab.stats.cuts == 1


def test_the_first_frame_is_taken_as_it_is():
    log = np.random.default_rng(6).normal(1.0, 0.2, (H, W)).astype(np.float32)
    np.testing.assert_array_equal(Stabilizer()(log, scene_image(6)), log)


@pytest.mark.parametrize("kwargs", [{"scale_response": 0}, {"pixel_memory": 1.0}, {"tolerance": 0}])
def test_out_of_range_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        Stabilizer(**kwargs)
