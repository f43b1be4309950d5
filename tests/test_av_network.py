"""Light-ASD: strict loading of both released state dicts, ONNX export, and engine parity on real crops."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.media_fixtures import SHARED, TWOSHOT

os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(SHARED / "models"))

import torch  # pinned in requirements.txt: missing, this module fails (it is never skipped)

from sceneglot import media, models
from sceneglot.av import asd, features, network, sync


@pytest.fixture(scope="module")
def real_inputs():
    """60 frames of the left face of twoshot.mp4 (fixed box around it) and the matching MFCC rows."""
    box = [[0.0, 192, 205, 410, 505], [10.0, 192, 205, 410, 505]]
    geo = features.geometry(box, 0.0, 2.36)
    crops = [features.crop_face(f.image, geo.x[f.index], geo.y[f.index], geo.s[f.index])
             for f in media.iter_frames(TWOSHOT, fps=25, end=2.4)]
    audio = features.mfcc(media.read_audio(TWOSHOT))
    return audio[:4 * len(crops)], np.stack(crops)


@pytest.mark.parametrize("name", ["light-asd", "light-asd-ava"])
def test_state_dicts_load_strictly(name):
    net = network.load(models.file(name))  # load_state_dict(strict=True) raises on any key mismatch
    assert sum(p.numel() for p in net.parameters()) == 1_021_636


@pytest.mark.slow
def test_torch_onnxruntime_opencv_agree(real_inputs):
    audio, video = real_inputs
    assert len(video) == 60 and audio.shape == (240, 13)
    net = network.load(models.file("light-asd"))
    with torch.no_grad():
        ref = net(torch.from_numpy(audio)[None], torch.from_numpy(video.astype(np.float32))[None]).numpy()
    assert ref.shape == (60, 2) and np.abs(ref).max() > 0.5  # real, non-trivial logits
    for kind in asd.ENGINES:
        logits = asd.Engine(kind)(audio, video)
        assert np.abs(logits - ref).max() < 1e-3, kind


@pytest.mark.slow
def test_chunked_encoding_equals_one_pass(real_inputs, monkeypatch):
    audio, video = real_inputs
    engine = asd.Engine("onnxruntime")
    whole = engine.encode(audio, video)
    monkeypatch.setattr(asd, "CHUNK", 17)
    monkeypatch.setattr(asd, "WHOLE", 0)  # chunked although the track is short
    assert np.abs(engine.encode(audio, video) - whole).max() < 1e-4


def test_export_is_cached_by_weights_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path))
    from sceneglot.av import export

    paths = export.onnx_paths("light-asd")
    digest = models.get("light-asd").files[0].sha256[:16]
    assert all(digest in p.name and p.parent == tmp_path / "onnx" for p in paths.values())
    stamps = {k: p.stat().st_mtime_ns for k, p in paths.items()}
    again = export.onnx_paths("light-asd")
    assert {k: p.stat().st_mtime_ns for k, p in again.items()} == stamps


def test_thread_count_can_change_between_encoder_calls(real_inputs, monkeypatch):
    """pipeline.analyze gives ASD one core while speech runs and all once it is done: the cores are asked
    before each encoder call, a call on two cores runs as two pieces side by side on the one session
    (one intra-op thread: nothing reloads), and the features are the same either way."""
    import threading

    audio, video = real_inputs
    ran: list[str] = []  # the thread each session run was on

    def threads():
        return 1 if not ran else 2  # one core for the first call, two after

    monkeypatch.setattr(asd, "CHUNK", 25)
    monkeypatch.setattr(asd, "WHOLE", 0)  # chunked although the track is short
    monkeypatch.setattr(asd, "MIN_PART", 10)  # the last call (41 frames) is cut in two as well
    moving = asd.Engine("onnxruntime", threads=threads)
    loads = []
    real_load = moving._load

    def load(path, n, **kw):  # counts sessions and the threads their runs are on, calls through
        loads.append(n)
        run = real_load(path, n, **kw)
        return lambda feeds: ran.append(threading.current_thread().name) or run(feeds)

    moving._load = load
    feats = moving.encode(audio, video)
    assert loads == [1] and moving._encoder_threads == 1  # one session, one thread a piece, kept throughout
    assert ran[0] == threading.current_thread().name and len(ran) == 3  # the first call whole, then two pieces
    assert sum(name.startswith("sceneglot-asd") for name in ran[1:]) == 1  # its second piece ran beside the first
    fixed = asd.Engine("onnxruntime", threads=1).encode(audio, video)
    assert np.abs(feats - fixed).max() < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("kind", asd.ENGINES)
def test_exported_encoder_rows_equal_the_torch_encoders(real_inputs, kind):
    """The visual rows (a second output of the encoder graph) and the audio encoder alone (its own graph)
    give what av.sync's torch reference computes, on real crops and twoshot's whole soundtrack."""
    audio, video = real_inputs
    net = network.load(models.file("light-asd"))
    engine = asd.Engine(kind)
    fused, visual = engine.encoders(audio, video)
    assert np.abs(visual - sync.visual_features(video, net)).max() < 1e-3
    assert np.abs(fused - engine.window(audio, video)).max() == 0
    mfcc = features.mfcc(media.read_audio(TWOSHOT))
    want = sync.audio_features(mfcc, net)
    got = engine.audio_rows(mfcc)
    assert got.shape == want.shape == (len(mfcc) // 4, 128) and np.abs(want).max() > 1.0
    assert np.abs(got - want).max() < 1e-3


@pytest.mark.slow
def test_soundtrack_audio_in_chunks_equals_one_pass(monkeypatch):
    """AUDIO_CHUNK frames per call with CONTEXT frames either side equal one call over twoshot's soundtrack."""
    sound = media.read_audio(TWOSHOT)
    engine = asd.Engine("onnxruntime")
    whole = engine.audio_rows(features.mfcc(sound))
    assert len(whole) == asd.soundtrack_frames(len(sound)) == 199
    for chunk in (37, 50):  # edges at odd and even frames: the stride-2 pools must line up either way
        monkeypatch.setattr(asd, "AUDIO_CHUNK", chunk)
        chunked = asd.soundtrack_audio(engine, sound, out=np.zeros((len(whole), 128), np.float32))
        assert np.abs(chunked - whole).max() < 1e-4
    kept = asd.soundtrack_audio(engine, sound)  # float16 by default: ~1e-3 of rows up to ~10
    assert kept.dtype == np.float16 and np.abs(kept - whole).max() < 1e-2
    assert isinstance(kept, np.memmap)  # spooled to disk chunk by chunk, not held
