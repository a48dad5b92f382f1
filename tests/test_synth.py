"""The synthetic renderer: exact z-depth geometry, determinism, plausible random rooms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from msdepth.synth import render_sample, render_scene
from msdepth.synth.scene import FLAT, Camera, Material, Scene, look_rotation, nyu_intrinsics
from msdepth.synth.sensor import MAX_DEPTH, MIN_DEPTH, clean_depth, kinect_depth

SMALL = (80, 60)


def empty_room(camera: Camera, room=(8.0, 4.0, 8.0), boxes=()) -> Scene:
    """A bare room (no lights: ambient only) with optional boxes, all flat grey."""
    grey = Material(FLAT, (0.5, 0.5, 0.5))
    boxes = np.array(boxes, np.float32).reshape(-1, 6)
    return Scene(
        room=np.array(room, np.float32),
        camera=camera,
        boxes=boxes,
        materials=[grey] * (6 + len(boxes)),
        casts_shadow=np.array([False] * 6 + [True] * len(boxes)),
    )


def kinect_camera(position, yaw=0.0, pitch=0.0, roll=0.0, size=(320, 240)) -> Camera:
    k = nyu_intrinsics(size)
    rot = look_rotation(yaw, pitch, roll)
    return Camera(np.array(position, np.float32), rot, k["fx"], k["fy"], k["cx"], k["cy"], *size)


@pytest.mark.parametrize("distance", [0.8, 2.5, 6.0])
def test_camera_facing_a_wall_sees_depth_d_everywhere(distance):
    # Camera at z = distance looking along -z at the wall z = 0, which fills the view.
    camera = kinect_camera((15.0, 15.0, distance), yaw=math.pi)
    scene = empty_room(camera, room=(30.0, 30.0, 8.0))
    _, depth = render_scene(scene, np.random.default_rng(0), sensor=False)
    assert depth.shape == (240, 320)
    np.testing.assert_allclose(depth, distance, rtol=1e-5)


def test_depth_is_along_the_optical_axis_not_the_ray_length():
    # Looking straight down from height h: the floor's z-depth is h even at the image corners,
    # where the ray to the floor is about 40% longer.
    h = 1.4
    camera = kinect_camera((4.0, h, 4.0), pitch=-math.pi / 2)
    _, depth = render_scene(empty_room(camera), np.random.default_rng(0), sensor=False)
    np.testing.assert_allclose(depth, h, rtol=1e-5)


def test_rays_parallel_to_the_floor_still_hit_the_far_wall():
    # With the principal point on a pixel row and no pitch, that row's rays have exactly zero
    # vertical direction: they meet neither floor nor ceiling, only the wall ahead.
    k = nyu_intrinsics((320, 240))
    camera = Camera(
        np.array((4.0, 1.5, 6.0), np.float32),
        look_rotation(math.pi, 0.0, 0.0),
        k["fx"],
        k["fy"],
        160.0,
        120.0,
        320,
        240,
    )
    _, depth = render_scene(empty_room(camera), np.random.default_rng(0), sensor=False)
    np.testing.assert_allclose(depth[120], 6.0, rtol=1e-5)
    assert np.isfinite(depth).all()


def test_a_box_in_front_of_the_wall_is_nearer_by_its_distance():
    camera = kinect_camera((15.0, 15.0, 5.0), yaw=math.pi)
    box = (14.5, 14.5, 2.0, 15.5, 15.5, 3.0)  # front face at z = 3, i.e. 2 m from the camera
    scene = empty_room(camera, room=(30.0, 30.0, 8.0), boxes=[box])
    _, depth = render_scene(scene, np.random.default_rng(0), sensor=False)
    centre = depth[110:130, 150:170]
    np.testing.assert_allclose(centre, 2.0, rtol=1e-5)
    assert depth[5, 5] == pytest.approx(5.0, rel=1e-5)  # the wall behind, at the corner


def test_same_seed_same_frame_bit_for_bit():
    a_rgb, a_depth = render_sample(7, "train", 3, SMALL)
    b_rgb, b_depth = render_sample(7, "train", 3, SMALL)
    assert np.array_equal(a_rgb, b_rgb)
    assert np.array_equal(a_depth, b_depth)


def test_other_seed_index_or_split_gives_another_frame():
    rgb, depth = render_sample(7, "train", 3, SMALL)
    for other in [(8, "train", 3), (7, "train", 4), (7, "test", 3)]:
        o_rgb, o_depth = render_sample(*other, SMALL)
        assert not np.array_equal(rgb, o_rgb)
        assert not np.array_equal(depth, o_depth)


def test_random_rooms_have_indoor_depth_and_mostly_valid_pixels():
    frames = [render_sample(1, "train", i, SMALL) for i in range(12)]
    valid_fractions = []
    for rgb, depth in frames:
        assert rgb.dtype == np.uint8 and rgb.shape == (60, 80, 3)
        assert depth.dtype == np.float32 and depth.shape == (60, 80)
        valid = depth > 0
        assert np.all(depth[valid] >= MIN_DEPTH * 0.98)
        assert np.all(depth[valid] <= MAX_DEPTH * 1.02)
        assert rgb.std() > 5  # not a blank image
        valid_fractions.append(valid.mean())
    assert np.mean(valid_fractions) > 0.8
    assert min(valid_fractions) > 0.3
    medians = [np.median(d[d > 0]) for _, d in frames]
    assert 1.0 < np.median(medians) < 6.0  # NYU's median depth is about 2.5-3.5 m


def test_sensor_drops_depth_out_of_kinect_range():
    depth = np.array([[0.3, 0.6, 9.5, 12.0, np.inf]], np.float32)
    np.testing.assert_array_equal(clean_depth(depth) > 0, [[False, True, True, False, False]])


def test_sensor_noise_grows_with_distance_like_a_kinect():
    rng = np.random.default_rng(0)
    ones = np.ones((200, 200), np.float32)
    stds = []
    for z in (1.0, 4.0):
        out = kinect_depth(ones * z, ones, ones, ones * 0, rng)
        valid = out > 0
        assert valid.mean() > 0.95
        stds.append(float((out[valid] - z).std()))
    assert stds[0] == pytest.approx(0.0012 + 0.0019 * 0.6**2, rel=0.3)
    assert stds[1] == pytest.approx(0.0012 + 0.0019 * 3.6**2, rel=0.3)


def test_render_at_training_size_smoke():
    """A handful of full-size frames render (speed is measured by benchmarks/bench_synth.py)."""
    for i in range(4):
        rgb, depth = render_sample(0, "train", i)
        assert rgb.shape == (240, 320, 3) and depth.shape == (240, 320)
        assert (depth > 0).mean() > 0.3


def test_intrinsics_are_nyu_kinect_scaled_to_the_output_size():
    k = nyu_intrinsics((320, 240))
    assert k["fx"] == pytest.approx(518.8579 / 2)
    assert k["fy"] == pytest.approx(519.4696 / 2)
    assert k["cx"] == pytest.approx(325.5824 / 2)
    assert k["cy"] == pytest.approx(253.7362 / 2)


def test_sensor_takes_highlights_at_half_resolution_as_their_repeat():
    """`shade` returns highlights at half resolution; a glint blinds the same pixels as the
    same map repeated to full size, and a frame without one loses no depth to gloss."""
    ones = np.ones((60, 80), np.float32)
    half = np.zeros((30, 40), np.float32)
    half[10:14, 5:9] = 5.0  # a strong glint
    full = np.repeat(np.repeat(half, 2, axis=0), 2, axis=1)
    a = kinect_depth(ones * 2, ones, ones, half, np.random.default_rng(3))
    b = kinect_depth(ones * 2, ones, ones, full, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert (a[20:28, 10:18] == 0).all()
    dull = kinect_depth(ones * 2, ones, ones, half * 0, np.random.default_rng(3))
    assert (dull[20:28, 10:18] > 0).all()


def test_inverse_ray_lengths_match_the_ray_directions():
    from msdepth.synth.raycast import camera_rays, inverse_ray_lengths

    camera = kinect_camera((1.0, 1.5, 2.0), yaw=0.7, pitch=-0.2, roll=0.05, size=SMALL)
    dx, dy, dz = camera_rays(camera).d
    np.testing.assert_allclose(
        inverse_ray_lengths(camera), 1 / np.sqrt(dx * dx + dy * dy + dz * dz), rtol=1e-5
    )


def _axis_camera(position) -> Camera:
    """A 320x240 camera looking along -z with its principal point on a pixel centre (160, 120):
    that pixel's ray is exactly the optical axis."""
    k = nyu_intrinsics((320, 240))
    rot = look_rotation(math.pi, 0.0, 0.0)
    return Camera(np.array(position, np.float32), rot, k["fx"], k["fy"], 160.0, 120.0, 320, 240)


def test_sphere_and_cylinder_kernels_hit_at_the_nearest_surface():
    from msdepth.synth.raycast import cast

    camera = _axis_camera((4.0, 1.5, 6.0))
    scene = empty_room(camera)
    scene.spheres = np.array([[4.0, 1.5, 3.0, 0.5]], np.float32)  # centre 3 m ahead, r 0.5
    scene.materials = [*scene.materials, scene.materials[0]]
    _, hits = cast(camera, scene)
    assert hits.depth[120, 160] == pytest.approx(2.5, rel=1e-6)
    assert hits.prim[120, 160] == 6
    assert hits.prim[5, 5] < 6  # the room around it
    scene.spheres = np.zeros((0, 4), np.float32)
    scene.cylinders = np.array([[4.0, 4.0, 0.5, 0.0, 1.6]], np.float32)  # x, z, r, bottom, top
    _, hits = cast(camera, scene)
    assert hits.depth[120, 160] == pytest.approx(1.5, rel=1e-6)  # side, 2 m ahead minus r
    assert hits.prim[120, 160] == 6


def test_shadow_map_holds_the_drop_to_a_box_below_the_light():
    from msdepth.synth.scene import Light
    from msdepth.synth.shading import SHADOW_MAP_SIZE, shadow_map

    camera = _axis_camera((1.0, 1.5, 7.0))
    scene = empty_room(camera, boxes=[(3.5, 0.0, 3.5, 4.5, 1.0, 4.5)])  # top at 1 m
    light = Light(np.array([4.0, 3.5, 4.0], np.float32), np.ones(3, np.float32))
    _, drops = shadow_map(light, scene)
    c = SHADOW_MAP_SIZE // 2
    assert drops[c, c] == pytest.approx(2.5, rel=1e-6)  # straight down onto the box top
    assert np.isinf(drops[0, 0]) and np.isinf(drops[-1, -1])  # nothing towards the corners


def test_sensor_loses_depth_just_right_of_a_near_edge():
    """The projector's shadow: `band` = 2 columns (at 320 wide) of background right of a near
    object have no reading; the near object and the background beyond stay valid."""
    depth = np.full((240, 320), 3.0, np.float32)
    depth[:, :100] = 1.0  # a near object on the left
    ones = np.ones_like(depth)
    out = kinect_depth(
        depth, ones, ones, np.zeros((120, 160), np.float32), np.random.default_rng(1)
    )
    assert (out[:, 100:102] == 0).all()
    assert (out[:, 102] > 0).mean() > 0.95 and (out[:, 99] > 0).mean() > 0.95


def test_a_near_view_stands_in_front_of_the_furniture_it_looks_at():
    from msdepth.synth.layout import SceneBuilder, _near_view

    b = SceneBuilder((6.0, 2.8, 6.0))
    b.footprints.append((2.8, 3.2, 2.8, 3.2))  # one table in the middle of the room
    for seed in range(20):
        camera = _near_view(b, np.random.default_rng(seed), (320, 240))
        assert camera is not None
        to_table = np.array([3.0, 0.0, 3.0]) - camera.position
        to_table[1] = 0.0
        assert 0.8 <= np.linalg.norm(to_table) <= 2.8 + 1e-6
        forward = camera.rotation[:, 2].copy()  # optical axis in world
        forward[1] = 0.0
        cos = forward @ to_table / np.linalg.norm(forward) / np.linalg.norm(to_table)
        assert cos > math.cos(0.7)  # looking at it, give or take the hand's aim
        assert camera.rotation[1, 2] < 0.2  # level or looking down onto it


def test_a_near_view_without_furniture_falls_back_to_looking_across_the_room():
    from msdepth.synth.layout import SceneBuilder, _near_view, hand_held_camera

    b = SceneBuilder((5.0, 2.6, 5.0))
    assert _near_view(b, np.random.default_rng(0), (320, 240)) is None
    assert hand_held_camera(b, np.random.default_rng(0), (320, 240)) is not None


def test_a_doorway_shows_the_space_behind_its_wall_and_the_wall_around_it():
    from msdepth.synth.layout import (
        WALL_THICKNESS,
        Doorway,
        SceneBuilder,
        build_doorway,
        extended_room,
    )
    from msdepth.synth.palette import Palette
    from msdepth.synth.raycast import cast

    rng = np.random.default_rng(0)
    b = SceneBuilder((5.0, 2.8, 4.0))
    door = Doorway(wall=3, a0=2.0, a1=3.0, height=2.1, depth=3.0)  # in the wall z = 4
    grey = Material(FLAT, (0.5, 0.5, 0.5))
    build_doorway(b, rng, Palette(rng), door, grey)
    room = extended_room(np.array(b.room, np.float32), door)
    assert room[2] == pytest.approx(4.0 + WALL_THICKNESS + 3.0)
    boxes = np.array(b.boxes, np.float32)
    camera = kinect_camera((2.5, 1.2, 1.5), size=SMALL)  # 2.5 m from the wall, facing it
    scene = empty_room(camera, room=tuple(room), boxes=boxes)
    depth = cast(camera, scene)[1].depth.reshape(SMALL[1], SMALL[0])
    row = depth[int(camera.cy)]
    left, middle = row[2], row[int(camera.cx)]
    assert left == pytest.approx(2.5, abs=1e-3)  # the wall beside the opening, at its plane
    assert middle > 2.5 + WALL_THICKNESS  # through the opening: the space behind
    assert middle <= 2.5 + WALL_THICKNESS + 3.0 + 1e-3


def test_about_half_the_rooms_open_onto_a_space_behind_a_wall():
    from msdepth.synth.layout import DOORWAY_SHARE, random_scene

    grown = [random_scene(np.random.default_rng(seed), SMALL).room for seed in range(200)]
    first = [np.random.default_rng(seed) for seed in range(200)]
    sizes = [(r.uniform(2.5, 8.0), r.uniform(2.4, 3.2), r.uniform(2.5, 8.0)) for r in first]
    opened = [bool(np.any(g - np.float32(s) > 1.0)) for g, s in zip(grown, sizes, strict=True)]
    assert abs(np.mean(opened) - DOORWAY_SHARE) < 0.1
