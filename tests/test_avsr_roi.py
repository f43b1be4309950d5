"""Mouth regions: geometry, streaming smoother, and the crop centre against dlib's 68-point mouth on GRID."""

from pathlib import Path

import cv2
import dlib
import numpy as np
import pytest

from sceneglot import media
from sceneglot.avsr import roi
from tests.media_fixtures import GRID

DLIB_68 = Path("/usr/share/dlib/shape_predictor_68_face_landmarks.dat")  # Debian libdlib-data


def _landmarks(cx, cy, roll, eye=60.0):
    """YuNet-layout points of an upright face rotated by `roll` about the mouth centre."""
    pts = np.array([[-eye / 2, -70], [eye / 2, -70], [0, -35], [-25, 0], [25, 0]], float)
    c, s = np.cos(roll), np.sin(roll)
    return (pts @ np.array([[c, s], [-s, c]]) + [cx, cy]).reshape(-1)


def test_pose_centre_roll_and_scale():
    p = roi.pose(_landmarks(200, 150, np.radians(12)))
    assert p.roll == pytest.approx(np.radians(12))
    assert p.scale == pytest.approx(60 / roi.EYE_DISTANCE)
    # The crop centre is the corners' midpoint moved the mean face's 0.73 px down the face.
    assert np.hypot(p.cx - 200, p.cy - 150) == pytest.approx(roi.MOUTH_DROP * p.scale)
    corners = p.to_crop(_landmarks(200, 150, np.radians(12)).reshape(5, 2)[3:])
    assert corners[0, 1] == pytest.approx(corners[1, 1])  # roll removed: corners level
    assert corners[1, 0] - corners[0, 0] == pytest.approx(50 / p.scale)


def test_cut_maps_the_centre_to_the_crop_centre():
    img = np.zeros((300, 400), np.uint8)
    cv2.circle(img, (210, 140), 3, 255, -1)
    crop = roi.cut(img, roi.MouthPose(210, 140, 0.3, 0.8))
    ys, xs = np.nonzero(crop > 128)
    assert abs(xs.mean() - 47.5) < 1 and abs(ys.mean() - 47.5) < 1
    assert crop.shape == (96, 96) and crop.dtype == np.uint8


def test_streaming_smoother_equals_the_whole_clip_smoothing():
    rng = np.random.default_rng(0)
    poses = [roi.MouthPose(*rng.normal(100, 5, 2), rng.normal(0, 0.1), rng.uniform(0.8, 1.2)) for _ in range(20)]
    st = roi.Smoother(6)
    streamed = [q for p in poses if (q := st.push(p)) is not None] + st.flush()
    assert streamed == roi.smooth(poses, 6)
    assert [q.cx for q in streamed] == [p.cx for p in poses]  # centres are the frame's own
    short = roi.Smoother(6)
    assert [short.push(p) for p in poses[:3]] == [None] * 3 and len(short.flush()) == 3


def test_network_input_is_the_recipe_crop_and_normalisation():
    crops = np.full((29, 96, 96), 255, np.uint8)
    crops[:, 4:92, 4:92] = 0
    x = roi.network_input(crops)
    assert x.shape == (1, 1, 29, 88, 88) and x.dtype == np.float32
    assert np.allclose(x, (0 - 0.421) / 0.165)  # only the border was white


@pytest.mark.slow
@pytest.mark.parametrize("clip", GRID, ids=[p.stem for p in GRID])
def test_mouth_centre_matches_dlib_on_grid(clip):
    """>= 95 % of frames: dlib's mouth centre (mean of points 48-67) within 4 px of the 96x96 crop's centre."""
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(DLIB_68))
    tracker = roi.MouthTracker()
    greys, mouths = [], []
    for fr in media.iter_frames(clip):
        grey = cv2.cvtColor(fr.image, cv2.COLOR_BGR2GRAY)
        greys.append(grey)
        mouths += tracker.push(fr.index, fr.image, grey)
    mouths += tracker.flush()
    assert [m.index for m in mouths] == list(range(len(greys))) == list(range(75))
    errors = []
    for m in mouths:
        faces = detector(greys[m.index], 1)
        assert len(faces) == 1
        shape = predictor(greys[m.index], faces[0])
        centre = np.array([[shape.part(k).x, shape.part(k).y] for k in range(48, 68)], float).mean(axis=0)
        errors.append(float(np.hypot(*(m.pose.to_crop(centre[None])[0] - roi.ROI_SIZE / 2))))
        assert m.crop.shape == (96, 96)
    within = float(np.mean(np.array(errors) <= 4.0))
    print(f"{clip.stem}: {within:.1%} of frames within 4 px, median {np.median(errors):.2f} px")
    assert within >= 0.95
