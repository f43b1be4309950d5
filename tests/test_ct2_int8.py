"""The int8 copy of a Whisper model: the same model CTranslate2 builds when it quantises the float16 file."""

from __future__ import annotations

import io

import ctranslate2
import numpy as np
import pytest
from faster_whisper import WhisperModel, decode_audio

from sceneglot import ct2_int8, models
from tests.media_fixtures import JFK


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_int8_copy_loads_as_the_model_quantised_at_load(store):
    copy = models.int8_copy("whisper-tiny.en")
    assert copy is not None and copy.is_relative_to(store)
    assert (copy / "model.bin").stat().st_size < 0.7 * (models.path("whisper-tiny.en") / "model.bin").stat().st_size
    at_load = WhisperModel(str(models.path("whisper-tiny.en")), device="cpu", compute_type="int8", cpu_threads=1)
    stored = WhisperModel(str(copy), device="cpu", compute_type="int8", cpu_threads=1)
    assert stored.model.compute_type == at_load.model.compute_type

    audio = decode_audio(str(JFK))
    features = np.ascontiguousarray(at_load.feature_extractor(audio)[None, :, :3000])
    encoded = [np.array(m.model.encode(ctranslate2.StorageView.from_array(features))) for m in (at_load, stored)]
    assert np.array_equal(encoded[0], encoded[1])  # bit for bit: the same int8 weights, scales and floats

    def heard(model):
        segments, _ = model.transcribe(audio, beam_size=5, word_timestamps=True, language="en")
        return [(s.text, s.avg_logprob, [(w.word, w.start, w.end, w.probability) for w in s.words])
                for s in segments]

    first = heard(at_load)
    assert "ask not what your country can do for you" in first[0][0]
    assert heard(stored) == first  # the decoder too: the same scores and word times


def test_the_copy_is_made_once_and_remade_when_its_bytes_change(store):
    copy = models.int8_copy("whisper-tiny.en")
    made = (copy / "model.bin").stat().st_mtime_ns
    assert models.int8_copy("whisper-tiny.en") == copy
    assert (copy / "model.bin").stat().st_mtime_ns == made  # found and verified, not written again

    recorded = (copy / "model.bin.sha256").read_text().strip()
    with (copy / "model.bin").open("r+b") as fh:  # one byte of a weight altered, size kept
        fh.seek(-100, io.SEEK_END)
        byte = fh.read(1)
        fh.seek(-100, io.SEEK_END)
        fh.write(bytes([byte[0] ^ 0xFF]))
    assert models.sha256(copy / "model.bin") != recorded
    assert models.int8_copy("whisper-tiny.en") == copy
    assert models.sha256(copy / "model.bin") == recorded  # rewritten from the verified source


def test_rows_quantise_as_the_runtime_does():
    w = np.array([[127, 62.5, 63.5, -0.5], [0, 0, 0, 0], [-2, 1, 0.5, 0.25]], np.float16)
    q, scale = ct2_int8.quantize_rows(w)
    assert q.dtype == np.int8 and scale.dtype == np.float32
    assert q.tolist() == [[127, 62, 64, 0], [0, 0, 0, 0], [-127, 64, 32, 16]]  # halves to even (nearbyint)
    assert scale.tolist() == [1.0, 1.0, 63.5]  # 127 / max |w|; 1 for a row of zeros


def test_a_file_it_cannot_rewrite_is_refused(tmp_path):
    old = tmp_path / "model.bin"
    old.write_bytes((4).to_bytes(4, "little") + b"\x00" * 16)  # binary version 4: the runtime truncates there
    with pytest.raises(ct2_int8.FormatError, match="version 4"):
        ct2_int8.write_int8(old, io.BytesIO())
    cut = tmp_path / "cut.bin"
    cut.write_bytes((models.path("whisper-tiny.en") / "model.bin").read_bytes()[:5000])
    with pytest.raises(ct2_int8.FormatError):
        ct2_int8.write_int8(cut, io.BytesIO())
