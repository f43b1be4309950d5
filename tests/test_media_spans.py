"""A span of the soundtrack read from a seek (media.read_audio_span, soundtrack.Spans) against the whole decode.

Where the codec's output after a seek depends only on the packets decoded (FLAC, PCM, AAC without
perceptual noise substitution) and the frames run on without a gap, the samples must be the whole
decode's, bit for bit. FFmpeg's AAC encoder writes PNS by default, whose noise comes from a
generator that runs through the whole stream, so on the shared AAC clips only the noise bands can
differ: the samples must still be at the same times (correlation peak at lag 0) and close. A
stream-copied loop has splices (frames starting a sample off where the last ended): a span over
the first is counted through as the whole decode counts it, exact; one after it starts on the
timestamps, where the whole decode, which counts samples, has slipped by the step it kept:
aligned, not exact.
"""

from __future__ import annotations

import subprocess

import av
import numpy as np
import pytest

from sceneglot import media, windows
from sceneglot.soundtrack import RATE, Soundtrack, Spans
from tests.media_fixtures import CUT2, EVAL, JFK
from tests.tools import need


def _ffmpeg(*args: str) -> None:
    ffmpeg = need("ffmpeg", "test inputs: AAC without noise substitution and a stream-copied loop")
    subprocess.run([ffmpeg, "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """cut4, twoshot and cut4 again: their sound in one AAC encode without PNS (48 kHz, no gap between frames;
    cut2 starts 1 ms late and would leave one)."""
    out = tmp_path_factory.mktemp("spans") / "plain.m4a"
    clips = [EVAL / "scenes" / f"{n}.mp4" for n in ("cut4", "twoshot", "cut4")]
    _ffmpeg(*(x for c in clips for x in ("-i", str(c))), "-filter_complex", "concat=n=3:v=0:a=1[a]", "-map", "[a]",
            "-c:a", "aac", "-aac_pns", "0", "-ar", "48000", str(out))
    return out


@pytest.fixture(scope="module")
def spliced(plain):
    """`plain` looped three times by stream copy (ffmpeg -stream_loop): splices at each join."""
    out = plain.with_name("looped.m4a")
    _ffmpeg("-stream_loop", "2", "-i", str(plain), "-c", "copy", str(out))
    return out


def _steps(path, before: float | None = None) -> list[int]:
    """Where decoded frames do not start where the previous one ended (48 kHz samples: + gap, - overlap),
    those before `before` s when given."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        out, end = [], None
        for f in c.decode(s):
            if before is not None and f.time >= before:
                break
            if end is not None and f.pts != end:
                out.append(f.pts - end)
            end = f.pts + f.samples
    return out


def _starts(n: int) -> list[float]:
    seconds = n / RATE
    rng = np.random.default_rng(0)
    return sorted({0.3, 1.2, 2.0001, seconds / 2, seconds - 2.5, *rng.uniform(1.1, seconds - 1, 8).round(4)})


def test_a_span_is_the_whole_decodes_samples(plain):
    assert _steps(plain) == []
    whole = media.read_audio(plain)
    for s in _starts(len(whole)):
        got = media.read_audio_span(plain, s, s + 3.7)
        assert np.array_equal(got, whole[round(s * RATE):round((s + 3.7) * RATE)]), s
    tail = len(whole) / RATE - 3
    assert np.array_equal(media.read_audio_span(plain, tail, None), whole[round(tail * RATE):])


def test_a_span_over_the_first_splice_is_exact_and_one_after_it_aligned(spliced, plain):
    assert _steps(spliced)  # the joins leave frames off where the last ended
    whole, join = media.read_audio(spliced), len(media.read_audio(plain)) / RATE
    s = join - 1.0  # over the first join: its step counted through as the whole decode counts it
    got = media.read_audio_span(spliced, s, s + 3.0)
    assert np.array_equal(got, whole[round(s * RATE):round((s + 3.0) * RATE)])
    for s in (join + 4.0, 2 * join - 2.0, 2 * join + 7.5):  # after one: the same sound, as far as the whole
        # decode kept time
        kept = sum(abs(d) for d in _steps(spliced, s) if abs(d) <= 480)  # steps under 10 ms it does not close
        ref = whole[round(s * RATE):round((s + 2.0) * RATE)]
        got = media.read_audio_span(spliced, s, s + 2.0)
        assert len(got) == len(ref) and 0 < kept < 48
        corr = np.correlate(got, ref[40:-40], mode="valid")
        assert abs(int(np.argmax(corr)) - 40) <= np.ceil(kept * RATE / 48000), s


def test_flac_and_pcm_spans_are_exact():
    for path in (JFK, EVAL / "speech" / "multilingual" / "deyu.wav"):  # 44.1 kHz (a 441-sample period), 16 kHz
        whole = media.read_audio(path)
        for s in _starts(len(whole)):
            got = media.read_audio_span(path, s, s + 2.9)
            assert np.array_equal(got, whole[round(s * RATE):round((s + 2.9) * RATE)]), (path.name, s)


def test_aac_with_noise_substitution_is_aligned_and_close():
    whole = media.read_audio(CUT2)
    for s in _starts(len(whole)):
        ref = whole[round(s * RATE):round((s + 2.0) * RATE)]
        got = media.read_audio_span(CUT2, s, s + 2.0)
        assert len(got) == len(ref)
        corr = np.correlate(got, ref[40:-40], mode="valid")  # lags -40..40 samples
        assert int(np.argmax(corr)) == 40, s
        assert np.abs(got - ref).max() < 0.05 and np.abs(got - ref).mean() < 1e-3, s


def test_spans_give_the_windows_a_soundtrack_gives(plain):
    """An ASR window's task on a Ray node (soundtrack.Spans) finds the same window and the same samples."""
    track = Soundtrack(plain)
    spans = Spans(plain, None, media.probe(plain).duration)
    assert len(spans) == len(track) and spans.duration == track.duration
    count = windows.speech_count(track.duration, 10.0, 3.0)
    assert count >= 3
    for k in range(count):
        here, there = windows.speech_window(track, k, count, 10.0, 3.0), windows.speech_window(spans, k, count,
                                                                                                10.0, 3.0)
        assert here == there
        assert np.array_equal(track.read(here.start, here.end), spans.read(there.start, there.end))
    assert np.array_equal(spans[RATE:2 * RATE], track[RATE:2 * RATE])
    with pytest.raises(TypeError):
        spans[::2]


def test_a_ray_task_reads_spans_by_seeking_and_a_local_job_from_its_scratch_file(plain):
    from sceneglot import pipeline

    info = media.probe(plain)
    there = pipeline.lazy_audio(plain, info, seek=True)  # what cluster._stage_task gives a stage
    here = pipeline.lazy_audio(plain, info)
    assert isinstance(there.spans(), Spans) and there._track is None  # nothing decoded whole
    assert isinstance(here.spans(), Soundtrack) and here.spans() is here.track()
    assert np.array_equal(there.spans().read(20.0, 25.0), here.spans().read(20.0, 25.0))


def test_a_span_over_a_gap_falls_back_to_one_whole_decode():
    """dialogue.mp4's sound has two 64 ms gaps (at 5.12 and 10.36 s), which the whole decode fills with silence."""
    path = EVAL / "scenes" / "dialogue.mp4"
    assert any(d >= 3072 for d in _steps(path))
    whole = media.read_audio(path)
    assert media.seek_audio_span(path, 4.0, 7.0) is None  # a seek would not fill it as the whole decode does
    assert np.array_equal(media.read_audio_span(path, 4.0, 7.0), whole[4 * RATE:7 * RATE])
    spans = Spans(path, None, media.probe(path).duration)
    assert np.array_equal(spans.read(2.0, 4.5), whole[2 * RATE:round(4.5 * RATE)]) and spans._whole is None
    assert np.array_equal(spans.read(4.0, 7.0), whole[4 * RATE:7 * RATE]) and spans._whole is not None
    assert len(spans) == len(whole)
