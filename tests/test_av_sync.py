"""Lip-audio synchrony (av.sync) on twoshot.mp4: the left man speaks 0-4.5 s while the right woman is silent.

Crops are Light-ASD's (features.crop_face) at the fixed face boxes measured on the clip (as test_av_asd uses).
"""

from __future__ import annotations

import numpy as np
import pytest

from sceneglot import media
from sceneglot.av import features, sync
from tests.media_fixtures import TWOSHOT

BOXES = {"left": (192, 205, 410, 505), "right": (806, 180, 1121, 626)}
SPEECH = (1, 112)  # frames of the left man's turn (frame 0 has no motion yet)


@pytest.fixture(scope="module")
def clip() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per face, the mouth motion of every 25-fps frame; the soundtrack's speech-band energy."""
    crops: dict[str, list[np.ndarray]] = {k: [] for k in BOXES}
    for frame in media.iter_frames(TWOSHOT, fps=features.FPS, grey=True):
        for k, (x0, y0, x1, y1) in BOXES.items():
            crops[k].append(features.crop_face(frame.image, (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2))
    motion = {k: sync.mouth_motion(np.stack(v)) for k, v in crops.items()}
    return motion, sync.speech_energy(media.read_audio(TWOSHOT))


def test_the_speaking_face_follows_its_sound_and_the_silent_one_does_not(clip):
    motion, energy = clip
    a, b = SPEECH
    speaker = sync.motion_sync(motion["left"][a:b], energy, a)
    silent = sync.motion_sync(motion["right"][a:b], energy, a)
    assert speaker.z > 2.0 and abs(speaker.lag) <= sync.LAG  # measured z 3.3 (r 0.44)
    assert speaker.z > silent.z + 1.0  # measured 0.5 for the silent face
    assert speaker.null > 100  # every shift of 1-15 s of the 8 s soundtrack, wrapped


def test_the_same_face_with_sound_from_another_turn_scores_low(clip):
    motion, energy = clip
    lips = motion["left"][1:88]  # as long as the other turn (frames 113-199, the woman speaking)
    own = sync.motion_sync(lips, energy, 1)
    other = sync.motion_sync(lips, energy, 113)
    assert own.z > other.z + 1.0  # measured 1.9 against 0.4


def test_speech_energy_is_one_value_per_video_frame(clip):
    _, energy = clip
    assert len(energy) == 200  # 8 s at 25 fps
    assert energy[:SPEECH[1]].max() - energy[:SPEECH[1]].min() > 20  # dB: syllables and pauses


def test_too_short_a_turn_or_too_short_a_soundtrack_gives_no_score(clip):
    motion, energy = clip
    assert sync.motion_sync(motion["left"][1:20], energy, 1) is None
    assert sync.motion_sync(motion["left"][1:60], energy[:80], 1) is None
    still = sync.motion_sync(np.zeros(50), energy, 1)
    assert still.z == 0.0 and still.null == 0
    assert sync.combined(None, still) is None


@pytest.fixture(scope="module")
def encoded(clip) -> tuple[dict[str, np.ndarray], np.ndarray, object]:
    """Light-ASD's visual features of the left and right faces over the man's turn, and the audio features."""
    crops: dict[str, list[np.ndarray]] = {k: [] for k in BOXES}
    for frame in media.iter_frames(TWOSHOT, fps=features.FPS, end=SPEECH[1] / features.FPS, grey=True):
        for k, (x0, y0, x1, y1) in BOXES.items():
            crops[k].append(features.crop_face(frame.image, (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2))
    net = sync.load_network()
    visual = {k: sync.visual_features(np.stack(v), net) for k, v in crops.items()}
    return visual, sync.audio_features(features.mfcc(media.read_audio(TWOSHOT)), net), net


@pytest.mark.slow
def test_light_asd_encoders_and_visual_head_follow_the_speaker(clip, encoded):
    _, energy = clip
    visual, sound, net = encoded
    a, b = SPEECH
    assert sound.shape == (199, 128) and visual["left"].shape[1] == 128  # the last frame lacks 4 whole MFCC rows
    speaker = sync.embedding_sync(visual["left"][a:b], sound, a)
    silent = sync.embedding_sync(visual["right"][a:b], sound, a)
    assert speaker.z > silent.z + 1.0  # measured 2.2 against 0.2
    talk = {k: sync.motion_sync(sync.lip_activity(v[a:b], net), energy, a) for k, v in visual.items()}
    assert talk["left"].z > talk["right"].z + 1.0  # measured 2.5 against 0.9
    assert sync.combined(speaker, talk["left"]) > sync.combined(silent, talk["right"]) + 1.0  # measured 3.3 against 0.8
