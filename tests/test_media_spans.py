"""A span of the soundtrack read from a seek (media.read_audio_span, soundtrack.Spans) against the whole decode.

Both place samples by one rule (media.sample_index for a time, media._filled for a gap), so where
the codec's output after a seek depends only on the packets decoded (FLAC, PCM, AAC without
perceptual noise substitution) the samples must be the whole decode's, bit for bit, a gap in the
span included. FFmpeg's AAC encoder writes PNS by default, whose noise comes from a generator that
runs through the whole stream, so on the shared AAC clips only the noise bands can differ: the
samples must still be at the same times (correlation peak at lag 0) and close. Where the stream's
index shows a gap or a step (a stream-copied loop's splices) before where a seek would start, the
whole decode's count there is not the timestamps', so the span is decoded from the start: exact.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest

from sceneglot import media, windows
from sceneglot.soundtrack import RATE, Soundtrack, Spans
from tests.media_fixtures import EVAL, JFK
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


@pytest.fixture(scope="module")
def gapped(tmp_path_factory):
    """dialogue.mp4's sound in AAC without PNS: its two 64 ms gaps (at 5.12 and 10.36 s) kept, nothing else
    (ffmpeg's encoder takes the frames' timestamps)."""
    out = tmp_path_factory.mktemp("gapped") / "gapped.m4a"
    _ffmpeg("-i", str(EVAL / "scenes" / "dialogue.mp4"), "-vn", "-c:a", "aac", "-aac_pns", "0", str(out))
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


def test_a_span_over_the_first_splice_is_exact_and_one_after_it_too(spliced, plain):
    assert _steps(spliced)  # the joins leave frames off where the last ended
    whole, join = media.read_audio(spliced), len(media.read_audio(plain)) / RATE
    s = join - 1.0  # over the first join: its step counted through as the whole decode counts it
    got = media.seek_audio_span(spliced, s, s + 3.0)
    assert got is not None and np.array_equal(got, whole[round(s * RATE):round((s + 3.0) * RATE)])
    for s in (join + 4.0, 2 * join - 2.0, 2 * join + 7.5):  # after one: the whole decode's count is off the
        # timestamps by the steps it kept, which the index shows, so it is decoded from the start
        assert media.seek_audio_span(spliced, s, s + 2.0) is None
        got = media.read_audio_span(spliced, s, s + 2.0)
        assert np.array_equal(got, whole[round(s * RATE):round((s + 2.0) * RATE)]), s


SPEECH = [JFK, *sorted((EVAL / "speech" / "multilingual").glob("*.wav"))]  # FLAC at 44.1 kHz (a 441-sample
# period), PCM at 16 kHz
SCENES = sorted((EVAL / "scenes").glob("*.mp4"))  # AAC at 48 kHz with PNS; cut2's starts 1 ms late, dialogue's has gaps


@pytest.mark.parametrize("path", SPEECH, ids=lambda p: p.name)
def test_flac_and_pcm_spans_are_exact(path):
    whole = media.read_audio(path)
    for s in _starts(len(whole)):
        got = media.seek_audio_span(path, s, s + 2.9)  # from a seek (or from the start for the first second)
        assert got is not None and np.array_equal(got, whole[round(s * RATE):round((s + 2.9) * RATE)]), s
    tail = len(whole) / RATE - 2.2
    assert np.array_equal(media.read_audio_span(path, tail, None), whole[round(tail * RATE):])


@pytest.mark.parametrize("path", SCENES, ids=lambda p: p.name)
def test_aac_with_noise_substitution_is_aligned_and_close(path):
    whole = media.read_audio(path)
    for s in _starts(len(whole)):
        ref = whole[round(s * RATE):round((s + 2.0) * RATE)]
        got = media.read_audio_span(path, s, s + 2.0)  # from a seek but after dialogue's first gap
        assert len(got) == len(ref), s
        corr = np.correlate(got, ref[40:-40], mode="valid")  # lags -40..40 samples
        assert int(np.argmax(corr)) == 40, s
        assert np.abs(got - ref).max() < 0.05 and np.abs(got - ref).mean() < 1e-3, s


def test_a_gap_in_a_span_is_filled_from_a_seek_as_the_whole_decode_fills_it(gapped):
    """Exact from a seek up to the first gap and shortly after it, over it included; later, decoded from the
    start (the index check does not follow the count past a gap), exact too; the sound after the gap on its
    timestamp."""
    assert [d for d in _steps(gapped) if d] == [3072, 3072]
    whole = media.read_audio(gapped)
    # Over the gap at 5.184 s, the seek before it; then the gap in the seek's preroll (up to 1 s before the
    # span), where the silence frames go on from the last frame's end as the frames after a seek must.
    for s in (3.9, 4.6, 5.0, 5.19, 5.6, 6.0):
        got = media.seek_audio_span(gapped, s, s + 2.0)
        assert got is not None and np.array_equal(got, whole[round(s * RATE):round((s + 2.0) * RATE)]), s
    for s in (6.3, 9.9, 10.37, 11.0):
        assert media.seek_audio_span(gapped, s, s + 2.0) is None
        assert np.array_equal(media.read_audio_span(gapped, s, s + 2.0), whole[round(s * RATE):round((s + 2.0) * RATE)])
    with av.open(str(gapped)) as c:  # the frames after the first gap, resampled on their own from their time
        frames = [f for f in c.decode(c.streams.audio[0]) if 5.184 <= f.time < 10.368]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    alone = np.concatenate([o.to_ndarray().reshape(-1) for f in frames for o in resampler.resample(f)])
    at = media.sample_index(frames[0].time)  # on time: the silence went through the resampler (media._filled)
    assert np.array_equal(whole[at + 100:at + len(alone)], alone[100:])  # past the resampler's reach of the gap


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


def test_timestamps_that_do_not_count_samples_fall_back_to_one_whole_decode(plain):
    """`plain` stream-copied to Matroska: timestamps in milliseconds, which cannot place a seek on the sample."""
    path = plain.with_name("plain.mka")
    _ffmpeg("-i", str(plain), "-c", "copy", str(path))
    with av.open(str(path)) as c:
        assert c.streams.audio[0].time_base == Fraction(1, 1000)
    whole = media.read_audio(path)
    assert media.seek_audio_span(path, 4.0, 7.0) is None
    assert np.array_equal(media.read_audio_span(path, 4.0, 7.0), whole[4 * RATE:7 * RATE])
    spans = Spans(path, None, media.probe(path).duration)
    assert np.array_equal(spans.read(0.2, 0.9), whole[round(0.2 * RATE):round(0.9 * RATE)]) and spans._whole is None
    assert np.array_equal(spans.read(4.0, 7.0), whole[4 * RATE:7 * RATE]) and spans._whole is not None
    assert len(spans) == len(whole)
