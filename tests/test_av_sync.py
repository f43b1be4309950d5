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
def crops() -> dict[str, np.ndarray]:
    """Per face, its Light-ASD crop of every 25-fps frame."""
    found: dict[str, list[np.ndarray]] = {k: [] for k in BOXES}
    for frame in media.iter_frames(TWOSHOT, fps=features.FPS, grey=True):
        for k, (x0, y0, x1, y1) in BOXES.items():
            found[k].append(features.crop_face(frame.image, (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2))
    return {k: np.stack(v) for k, v in found.items()}


@pytest.fixture(scope="module")
def clip(crops) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per face, the mouth motion of every 25-fps frame; the soundtrack's speech-band energy."""
    motion = {k: sync.mouth_motion(v) for k, v in crops.items()}
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


def test_speech_energy_reads_a_long_soundtrack_a_minute_at_a_time(tmp_path):
    """Over an hour's soundtrack in one piece the blocks, their windowed copy and their spectrum peaked at
    +1.3 GB; read ENERGY_BLOCK frames at a time (from a soundtrack.Soundtrack too), every frame's value is the
    one-piece computation's, bit for bit, across block edges."""
    from sceneglot.soundtrack import Soundtrack

    audio = np.tile(media.read_audio(TWOSHOT), 9)  # 72 s: 1800 frames, one block edge at 1500
    n = len(audio) // sync.HOP
    assert n > sync.ENERGY_BLOCK
    blocks = audio[: n * sync.HOP].astype(np.float64).reshape(n, sync.HOP)
    spectrum = np.abs(np.fft.rfft(blocks * np.hanning(sync.HOP), axis=1)) ** 2
    freqs = np.fft.rfftfreq(sync.HOP, 1.0 / sync.SAMPLE_RATE)
    whole = 10 * np.log10(spectrum[:, (freqs >= sync.BAND[0]) & (freqs <= sync.BAND[1])].sum(axis=1) + 1e-10)
    assert np.array_equal(sync.speech_energy(audio), whole)
    track = Soundtrack(TWOSHOT, folder=str(tmp_path))
    try:
        assert np.array_equal(sync.speech_energy(track), sync.speech_energy(track.array()))
    finally:
        track.close()


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


@pytest.mark.slow
def test_a_few_samples_of_audio_shift_leave_the_sync_decisions_as_they_were(crops, clip):
    """The attribution's per-turn z (Light-ASD's encoder rows and the mouth's flow, pooled) with the soundtrack
    shifted by a few samples, as another decoder or resampler would place it: the man's lips lead the woman's
    over his turn by more than the 5 % level the attribution decides at, and over hers neither face leads by
    that much, at every shift. The encoder's z alone moves up to 0.35 under such shifts (python_speech_features'
    MFCC takes 25 ms rectangular windows: 2 samples move it 13 %), the flow's under 0.02 (40 ms energy
    frames); pooled, the z's moved at most 0.25 here."""
    from sceneglot.av import AttributionSettings

    motion, _ = clip
    net = sync.load_network()
    visual = {k: sync.visual_features(v, net) for k, v in crops.items()}
    audio = media.read_audio(TWOSHOT)
    level = AttributionSettings().sync
    his, hers = (1, 112), (113, 199)
    for shift in (0, 1, 2, 3, 5, 8, -3, -8):
        moved = np.roll(audio, shift)
        moved[:max(shift, 0)] = 0.0
        moved[len(moved) + min(shift, 0):] = 0.0
        energy, sound = sync.speech_energy(moved), sync.audio_features(features.mfcc(moved), net)

        def z(face: str, span: tuple[int, int], energy=energy, sound=sound) -> float:
            a, b = span
            return sync.combined(sync.motion_sync(motion[face][a:b], energy, a),
                                 sync.embedding_sync(visual[face][a:b], sound, a))

        assert (z("left", his) - z("right", his)) / np.sqrt(2) > level, shift  # measured 2.7 unshifted
        assert abs(z("right", hers) - z("left", hers)) / np.sqrt(2) < level, shift  # measured 1.2


def _motion_sync_everywhere(motion: np.ndarray, energy: np.ndarray, start: int) -> sync.Sync | None:
    """motion_sync as it was: the correlation at every position of the soundtrack given (stop 26)."""
    n, total = len(motion), len(energy)
    m = motion - motion.mean()
    ext = np.concatenate([energy, energy[: n - 1]])
    windows = np.lib.stride_tricks.sliding_window_view(ext, n)[:total]
    centred = windows - windows.mean(axis=1, keepdims=True)
    r = centred @ m / np.maximum(np.sqrt(np.sum(centred * centred, axis=1)) * np.sqrt(np.sum(m * m)), 1e-12)
    return sync._sync(r, start, sync.FLOW)


def test_motion_sync_reads_only_the_positions_it_needs_and_scores_as_over_the_whole_soundtrack():
    # An ~13-minute soundtrack's energy: turns at its two ends (the null wraps round) and inside it. The
    # correlations agree to rounding (BLAS sums a matrix's rows in blocks whose edges depend on its height).
    rng = np.random.default_rng(5)
    energy = 10 * rng.normal(size=20000)
    for start in (0, 2, 300, 9876, 20000 - 400, 20000 - 60, 20000 - 26):
        for n in (25, 37, 50):
            if start + n > len(energy):
                continue
            motion = rng.random(n)
            got, want = sync.motion_sync(motion, energy, start), _motion_sync_everywhere(motion, energy, start)
            assert (got.lag, got.null, got.views) == (want.lag, want.null, want.views)
            assert abs(got.r - want.r) < 1e-12 and abs(got.z - want.z) < 1e-9
