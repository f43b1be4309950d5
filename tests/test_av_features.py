"""Light-ASD input recipe: crops (against a literal pad-then-slice), MFCC rate and scale, alignment, smoothing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sceneglot.av import asd, features


def _reference_crop(image, x, y, s):
    """SPEC.md literally: pad the whole frame with 110, slice, resize, grey, centre 112."""
    pad = int(s * 1.8)
    padded = np.pad(image, ((pad, pad), (pad, pad), *[(0, 0)] * (image.ndim - 2)), "constant", constant_values=110)
    my, mx = y + pad, x + pad
    face = padded[int(my - s):int(my + s * 1.8), int(mx - s * 1.4):int(mx + s * 1.4)]
    face = cv2.resize(face, (224, 224))
    face = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    return face[56:168, 56:168]


@pytest.mark.parametrize("x,y,s", [(320, 240, 80), (10, 5, 60), (630, 470, 150), (300.7, 200.2, 33.3)])
def test_crop_matches_pad_then_slice(x, y, s):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    np.testing.assert_array_equal(features.crop_face(image, x, y, s), _reference_crop(image, x, y, s))
    grey = image[..., 1]  # media.iter_frames(grey=True) frames are 2-D
    np.testing.assert_array_equal(features.crop_face(grey, x, y, s), _reference_crop(grey, x, y, s))


def test_geometry_resamples_by_time_and_median_filters():
    # Boxes at 30 fps with one outlier: 25-fps ticks, outlier removed by the 13-frame median.
    rows = [[k / 30, 100, 100, 200, 220] for k in range(90)]
    rows[40] = [40 / 30, 400, 400, 500, 520]
    geo = features.geometry(rows, 0.0, 89 / 30)
    assert np.allclose(np.diff(geo.times), 0.04)
    middle = slice(7, len(geo.times) - 7)
    assert np.allclose(geo.x[middle], 150) and np.allclose(geo.y[middle], 160) and np.allclose(geo.s[middle], 60)


def test_short_tracks_keep_their_box():
    rows = [[k / 25, 100, 100, 200, 220] for k in range(4)]
    geo = features.geometry(rows, 0.0, 3 / 25)
    assert len(geo.times) == 4 and np.allclose(geo.s, 60) and np.allclose(geo.x, 150)


def test_mfcc_is_100_rows_per_second_and_int16_scaled():
    t = np.arange(16000 * 2) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    feats = features.mfcc(tone)
    assert feats.shape == (199, 13)
    # Coefficient 0 is log frame energy: at int16 scale it is 2*ln(32768) above the float-scale value.
    from python_speech_features import mfcc

    on_floats = mfcc(tone.astype(np.float64), 16000, numcep=13)
    assert abs(np.median(feats[:, 0] - on_floats[:, 0]) - 2 * np.log(32768)) < 0.01
    np.testing.assert_allclose(feats[:, 1:], on_floats[:, 1:], atol=0.5)  # int16 rounding only


def test_mfcc_in_blocks_and_spans_equals_the_whole_soundtrack_at_once(monkeypatch):
    from python_speech_features import mfcc

    from sceneglot import media
    from tests.media_fixtures import TWOSHOT

    audio = media.read_audio(TWOSHOT)
    pcm = np.clip(np.round(audio.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    whole = mfcc(pcm, 16000, numcep=13, winlen=0.025, winstep=0.010).astype(np.float32)  # the reference's one call
    monkeypatch.setattr(features, "BLOCK_ROWS", 97)  # many block edges, one mid-way through the last frames
    assert features.mfcc_rows(len(audio)) == len(whole)
    np.testing.assert_array_equal(features.mfcc(audio), whole)
    np.testing.assert_array_equal(features.mfcc(audio, 333, 400), whole[333:733])  # one track's span
    assert features.mfcc(audio, len(whole) - 3, 100).shape == (3, 13)  # a span past the end stops there
    assert features.mfcc(audio[:399]).shape == (0, 13) and features.mfcc(audio[:401]).shape == (2, 13)


class _WindowEngine:
    """Stand-in encoder whose output at a frame depends on its ±2 neighbours (zero beyond the window)."""

    def __init__(self) -> None:
        self.sizes = []

    def window(self, audio, video):
        assert len(audio) == 4 * len(video)  # four MFCC rows per frame, cut at the same frames
        self.sizes.append(len(video))
        x = np.pad(video[:, 0, 0].astype(np.float64) + audio[::4, 0], 2)
        return np.stack([x[i:i + len(video)] for i in range(5)], 1).sum(1, keepdims=True).repeat(128, 1)


def test_feature_stream_equals_one_pass_holds_few_crops_and_stops_at_the_soundtrack(monkeypatch):
    monkeypatch.setattr(asd, "CHUNK", 20)
    monkeypatch.setattr(asd, "WHOLE", 0)  # chunked whatever the track's length
    frames, rows = 130, 4 * 113 + 3  # the soundtrack ends inside frame 113
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (frames, 112, 112)).astype(np.uint8)
    audio = rng.normal(size=(rows, 13)).astype(np.float32)
    engine = _WindowEngine()
    stream = asd.FeatureStream(engine, audio)
    held = 0
    for crop in video:
        stream.push(crop)
        held = max(held, len(stream.crops))
    got = stream.finish()
    want = engine.window(audio[:4 * 113], video[:113])
    assert got.shape == (113, 128) and np.abs(got - want).max() < 1e-9
    assert held <= asd.CHUNK + 2 * asd.CONTEXT
    assert max(engine.sizes[:-1]) <= asd.CHUNK + 2 * asd.CONTEXT


def test_a_track_up_to_whole_frames_is_one_encoder_call_a_longer_one_is_chunked():
    rng = np.random.default_rng(1)
    for frames, calls in ((asd.WHOLE, 1), (asd.WHOLE + 1, -(-(asd.WHOLE + 1) // asd.CHUNK))):
        video = rng.integers(0, 256, (frames, 112, 112)).astype(np.uint8)
        audio = rng.normal(size=(4 * frames, 13)).astype(np.float32)
        engine = _WindowEngine()
        stream = asd.FeatureStream(engine, audio)
        for crop in video:
            stream.push(crop)
        got = stream.finish()
        assert len(engine.sizes) == calls and (calls > 1 or engine.sizes == [frames])
        assert np.abs(got - _WindowEngine().window(audio, video)).max() < 1e-9


def test_smooth_is_a_clipped_five_frame_mean():
    x = np.array([0, 0, 10, 0, 0, 0, 0], np.float32)
    assert np.allclose(asd.smooth(x), [10 / 3, 2.5, 2, 2, 2, 0, 0])
