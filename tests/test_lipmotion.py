"""The lip-motion fallback (av.lipmotion) decodes from its first track, as Light-ASD's score_tracks does."""

from __future__ import annotations

import numpy as np
import pytest

from sceneglot import media
from sceneglot.av import lipmotion
from sceneglot.scene import Track
from tests.media_fixtures import CUT2


def _tracks() -> list[Track]:
    """One whole-picture face per shot of cut2, the late two starting past their shot's keyframe."""
    spans = [("T0", 0.0, 2.96), ("T1", 3.04, 6.28), ("T2", 6.6, 9.4), ("T3", 9.6, 12.6)]
    return [Track(tid, a, b, [[t, 280, 0, 1000, 720] for t in np.arange(a, b + 1e-6, 0.04)]) for tid, a, b in spans]


@pytest.mark.slow
def test_late_tracks_seek_and_score_as_the_whole_run(monkeypatch):
    decoded: list[tuple[float, int]] = []  # (start asked, frames given) of each decode
    frames = media.iter_frames

    def counted(*args, **kwargs):
        decoded.append((kwargs.get("start", 0.0), 0))
        for frame in frames(*args, **kwargs):
            decoded[-1] = (decoded[-1][0], decoded[-1][1] + 1)
            yield frame

    monkeypatch.setattr(media, "iter_frames", counted)  # a spy: the real decode, counted
    audio = media.read_audio(CUT2)
    whole = lipmotion.score_tracks(CUT2, _tracks(), audio)
    late = lipmotion.score_tracks(CUT2, _tracks()[2:], audio)
    assert decoded[0][0] == 0.0 and decoded[1][0] == pytest.approx(6.6)
    assert decoded[1][1] == decoded[0][1] - round(6.6 * 25)  # from the first late track's frame on
    assert list(late) == ["T2", "T3"] and all(len(late[t]) > 60 for t in late)
    for tid in late:
        assert late[tid] == whole[tid]
