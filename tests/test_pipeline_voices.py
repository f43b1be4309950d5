"""Diarization's kept CAM++ frame features: stored in the job folder and read back memory-mapped, never held."""

from __future__ import annotations

import numpy as np
import pytest

from sceneglot import pipeline
from sceneglot.jobs import JobFolder
from sceneglot.speech.turns import VoiceFrames


def _frames(n: int) -> VoiceFrames:
    rng = np.random.default_rng(3)
    return VoiceFrames(0.0125 + 0.01 * np.arange(n), rng.normal(size=(n, 512)).astype(np.float16))


def test_kept_voice_features_come_back_memory_mapped_for_their_key_only(tmp_path):
    folder = JobFolder(tmp_path)
    kept = _frames(1234)
    pipeline._store_voices(folder, "key-a", kept)
    back = pipeline._load_voices(folder, "key-a")
    assert isinstance(back.features, np.memmap) and back.features.dtype == np.float16
    assert np.array_equal(back.features, kept.features) and np.array_equal(back.times, kept.times)
    assert pipeline._load_voices(folder, "key-b") is None  # other diarization settings: not these frames

    pipeline._store_voices(folder, "key-b", _frames(10))  # replaced: the old key no longer matches
    assert pipeline._load_voices(folder, "key-a") is None and len(pipeline._load_voices(folder, "key-b").times) == 10


def test_voice_features_without_their_key_file_are_not_used(tmp_path):
    folder = JobFolder(tmp_path)
    pipeline._store_voices(folder, "key-a", _frames(50))
    folder.path(pipeline.VOICES).unlink()  # as a crash between the two writes leaves it
    assert pipeline._load_voices(folder, "key-a") is None
    np.save(folder.path(pipeline.VOICE_FEATURES), np.zeros((7, 512), np.float16))
    np.savez(folder.path(pipeline.VOICES), key=np.array("key-a"), times=np.arange(50.0))
    assert pipeline._load_voices(folder, "key-a") is None  # times and features disagree


def test_diarization_spools_its_frame_features_to_disk_and_ray_can_carry_them():
    import pickle

    from sceneglot.spool import RowSpool

    rows = _frames(300).features
    spool = RowSpool(512)  # what diarize.analyse keeps the frame features in
    for a in range(0, 300, 70):  # one block at a time, as diarization computes them
        assert spool.write(rows[a:a + 70].astype(np.float32)) == a
    kept = spool.rows()
    del spool  # the map outlives the spool's file object
    assert isinstance(kept, np.memmap) and kept.shape == (300, 512) and np.array_equal(kept, rows)
    assert np.array_equal(pickle.loads(pickle.dumps(kept)), rows)  # a Ray task's result is pickled
    assert RowSpool(512).rows().shape == (0, 512)
    with pytest.raises(ValueError, match="512-wide"):
        RowSpool(512).write(np.zeros((3, 128), np.float16))
