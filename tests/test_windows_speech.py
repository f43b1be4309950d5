"""Speech on long inputs: the soundtrack read a span at a time, ASR per window, diarization streamed.

Real models on real speech (sample.wav: 30 s, two speakers; cut2.mp4: 12.8 s). Small window
lengths make a short file behave as a long one would.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sceneglot import media, windows
from sceneglot.soundtrack import Soundtrack
from sceneglot.speech import asr, diarize, vad
from tests.media_fixtures import CUT2, DIAR_WAV


@pytest.fixture(scope="module")
def sample():
    return media.read_audio(DIAR_WAV), Soundtrack(DIAR_WAV)


def test_soundtrack_reads_what_the_decoder_gives(sample):
    audio, track = sample
    assert len(track) == len(audio) and track.duration == pytest.approx(30.0, abs=0.05)
    assert np.array_equal(track.array(), audio)
    assert np.array_equal(track[1000:17000], audio[1000:17000])
    assert np.array_equal(track[-500:], audio[-500:]) and len(track[len(audio) + 5:]) == 0
    assert np.array_equal(track.read(2.5, 3.0), audio[40000:48000])
    with pytest.raises(TypeError):
        track[::2]


def test_streamed_diarization_equals_whole_array(sample, monkeypatch):
    """Streaming in blocks from the scratch file gives the turns of the whole array, block size aside."""
    audio, track = sample
    monkeypatch.setattr(diarize, "BLOCK", 10.0)  # three blocks on 30 s: the streaming path is exercised
    whole = diarize.diarize(audio)
    streamed = diarize.diarize_track(track)[0]
    assert streamed == whole
    assert len({t.speaker for t in whole}) >= 2  # two voices are heard (10 s blocks may split one)


def test_speech_edges_fall_in_pauses(sample):
    audio, track = sample
    ws = windows.speech_windows(track, length=8.0, slack=3.0)
    assert len(ws) >= 3 and ws[0].start == 0.0 and ws[-1].end == track.duration
    assert all(a.end == b.start for a, b in itertools.pairwise(ws))
    # Two people talk back to back from 7.5 s to the end: no 0.3 s pause, but breaths between words.
    regions = vad.speech_regions(audio, threshold=0.5, min_silence=0.1, pad=0.0)
    for w in ws[1:]:
        assert abs(w.start - 8.0 * round(w.start / 8.0)) <= 3.0
        inside = [r for r in regions if r[0] < w.start < r[1]]
        assert not inside, (w.start, inside)  # whole-file VAD agrees: nobody is talking at the edge
    assert windows.speech_windows(track, length=30.0, slack=3.0) == [windows.Window(0.0, track.duration)]


def test_windowed_asr_keeps_turns_and_words(sample):
    """ASR per window: every word inside its window, the words of the whole-file run found again, and
    a diarization turn crossing an edge stays one turn (its words keep one speaker)."""
    audio, track = sample
    ws = windows.speech_windows(track, length=7.0, slack=2.0)  # edges at 12.0 and 26.2 s fall inside turns
    whole = asr.transcribe(audio, language="en")
    parts = asr.transcribe_windows(track, ws, language="en")
    assert [s.id for s in parts] == list(range(len(parts)))
    for s in parts:
        w = next(w for w in ws if w.start <= s.start < w.end)
        assert s.end <= w.end + 1e-3
    said = lambda segs: [x.text.lower().strip(".,?!") for s in segs for x in s.words]  # noqa: E731
    a, b = said(whole), said(parts)
    common = sum(min(a.count(t), b.count(t)) for t in set(a))
    assert common >= 0.85 * len(a), (a, b)

    from sceneglot.scene import MediaInfo
    from sceneglot.speech.pipeline import assemble

    turns = diarize.diarize_track(track)[0]
    crossing = [t for t in diarize.exclusive(turns) if any(t.start + 0.5 < w.start < t.end - 0.5 for w in ws[1:])]
    assert crossing, "an edge should fall inside someone's turn on this file"
    info = MediaInfo(path=str(DIAR_WAV), duration=track.duration, fps=0.0, width=0, height=0, has_audio=True,
                     has_video=False)
    scene, _ = assemble(info, parts, turns, "en")
    for t in crossing:
        words = [x for s in scene.segments for x in s.words if t.start + 0.2 < (x.start + x.end) / 2 < t.end - 0.2]
        assert words and len({x.speaker for x in words}) == 1


def test_one_window_is_the_whole_file_run():
    """A clip shorter than a window: windowed ASR and streamed diarization are the whole-file run."""
    audio, track = media.read_audio(CUT2), Soundtrack(CUT2)
    ws = windows.speech_windows(track)
    assert ws == [windows.Window(0.0, track.duration)]
    whole, parts = asr.transcribe(audio), asr.transcribe_windows(track, ws)
    assert [(s.text, s.language, [(w.start, w.end, w.text) for w in s.words]) for s in parts] == \
        [(s.text, s.language, [(w.start, w.end, w.text) for w in s.words]) for s in whole]
    assert diarize.diarize_track(track)[0] == diarize.diarize(audio)
