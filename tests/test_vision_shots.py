import json

import numpy as np
import pytest

from sceneglot import media
from sceneglot.vision.shots import ShotDetector, shots_from_starts
from tests.media_fixtures import CUT2, TWOSHOT


def _scene(seed: int, t: int) -> np.ndarray:
    """A textured frame that drifts a little each step, like a hand-held talking head."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 220, size=(18, 32, 3)).astype(np.uint8)
    big = np.kron(base, np.ones((20, 20, 1), np.uint8))
    return np.roll(big, t, axis=1)


def _run(frames: list[np.ndarray]) -> list[int]:
    det = ShotDetector()
    return [i for i, f in enumerate(frames) if det.update(f, i / 25)]


def test_hard_cut_found_once_and_motion_ignored():
    frames = [_scene(1, t) for t in range(30)] + [_scene(2, t) for t in range(30)]
    assert _run(frames) == [30]


def test_fade_through_black_is_one_boundary_at_first_lit_frame():
    a, b = _scene(1, 0), _scene(2, 0)
    frames = [a] * 20
    frames += [(a * (1 - k / 10)).astype(np.uint8) for k in range(1, 11)]
    frames += [np.zeros_like(a)] * 5
    frames += [(b * (k / 10)).astype(np.uint8) for k in range(1, 11)] + [b] * 20
    cuts = _run(frames)
    assert len(cuts) == 1
    assert 35 <= cuts[0] <= 37


def test_black_video_and_fade_in_at_start_have_no_boundary():
    black = np.zeros((360, 640, 3), np.uint8)
    assert _run([black] * 40) == []
    a = _scene(3, 0)
    fade_in = [(a * (k / 12)).astype(np.uint8) for k in range(13)]
    assert _run([black] * 10 + fade_in + [a] * 10) == []


def test_shots_are_contiguous():
    shots = shots_from_starts([3.04, 6.36], 12.8)
    assert [(s.start, s.end) for s in shots] == [(0.0, 3.04), (3.04, 6.36), (6.36, 12.8)]
    assert [(s.start, s.end) for s in shots_from_starts([], 2.0)] == [(0.0, 2.0)]


def _cuts(path) -> list[int]:
    det = ShotDetector()
    return [f.index for f in media.iter_frames(path, size=(320, 180)) if det.update(f.image, f.time) and f.index]


def test_cut2_cuts_match_truth():
    truth = json.loads(CUT2.with_suffix(".json").read_text())
    expected = [turn["start"] for turn in truth["turns"][1:]]  # 3.0, 6.3, 9.4 (rounded to 0.1 s)
    found = _cuts(CUT2)
    # The first frame of each new shot, checked by eye: 76 (3.04 s), 159 (6.36 s), 237 (9.48 s).
    assert found == [76, 159, 237]
    for frame, t in zip(found, expected, strict=True):
        assert abs(frame / 25 - t) <= 0.1  # the truth file's rounding


def test_twoshot_has_no_cut():
    assert _cuts(TWOSHOT) == []


@pytest.mark.parametrize("value", [0, 255])
def test_flat_frames_do_not_divide_by_zero(value):
    flat = np.full((36, 64, 3), value, np.uint8)
    assert _run([flat] * 5) == []
