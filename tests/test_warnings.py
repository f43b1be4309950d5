"""Third-party warnings never reach the user's terminal: the cases that raised them are handled."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.signal import medfilt

from sceneglot.av import features


@pytest.mark.parametrize("frames", [7, 9, 12])
def test_a_short_face_track_gives_the_reference_median_without_scipy_warning(frames):
    """Tracks of 7-12 frames: scipy's medfilt warns "kernel_size exceeds volume extent"; same numbers, no warning."""
    rng = np.random.default_rng(frames)
    t = np.arange(frames) / 25.0
    x0 = 300 + rng.normal(0, 3, frames)
    y0 = 100 + rng.normal(0, 3, frames)
    boxes = [[float(a), float(b), float(c), float(b + 200), float(c + 220)] for a, b, c in zip(t, x0, y0, strict=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        geometry = features.geometry(boxes, 0.0, float(t[-1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = medfilt(x0 + 100, features.MEDIAN)
    assert np.allclose(geometry.x, expected)


def test_library_warnings_stay_off_the_terminal_unless_verbose(capsys):
    from sceneglot.terminal import warnings_to_terminal

    with warnings_to_terminal(verbose=False):
        medfilt(np.arange(8.0), 13)  # scipy: "kernel_size exceeds volume extent"
    assert capsys.readouterr().err == ""
    with warnings_to_terminal(verbose=True):
        medfilt(np.arange(8.0), 13)
    assert "kernel_size exceeds volume extent" in capsys.readouterr().err


def test_damage_met_by_every_decode_is_one_line(tmp_path, capsys):
    from test_media import damaged_copy

    from sceneglot import media
    from sceneglot.terminal import warnings_to_terminal

    path = damaged_copy(tmp_path / "damaged.mp4")
    with warnings_to_terminal():
        for _ in range(2):  # faces, active speakers and the burn-in each decode the video
            sum(1 for _ in media.iter_frames(path, size=(160, 90)))
        media.read_audio(path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("sceneglot: warning: damaged video and audio in damaged.mp4 between ")
