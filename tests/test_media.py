import re

import numpy as np
import pytest
from scipy import signal

from sceneglot import media
from sceneglot.errors import InputError
from tests.media_fixtures import CUT2, EVAL, GRID, write_audio_only, write_video


def test_probe_cut2():
    info = media.probe(CUT2)
    assert info.duration == pytest.approx(12.8, abs=0.01)
    assert info.fps == 25.0
    assert (info.width, info.height) == (1280, 720)
    assert info.has_audio and info.has_video
    assert info.rotation == 0
    assert info.frame_count == 320
    assert not info.variable_frame_rate


def test_probe_grid_mpeg_program_stream():
    info = media.probe(GRID[0])
    assert info.fps == 25.0 and info.has_audio
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert not info.variable_frame_rate  # interlaced field rate is not VFR


def test_audio_is_16k_mono_float_and_aligned_to_the_video_duration():
    audio = media.read_audio(CUT2)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / 16000 == pytest.approx(12.8, abs=0.05)
    assert 0.01 < np.abs(audio).max() <= 1.0
    chunks = list(media.iter_audio(CUT2, chunk_seconds=1.0))
    assert all(len(c) == 16000 for c in chunks[:-1])
    assert np.array_equal(np.concatenate(chunks), audio)


def test_frames_have_exact_timestamps():
    times = [f.time for f in media.iter_frames(CUT2, size=(160, 90))]
    assert len(times) == 320
    assert np.allclose(np.diff(times), 0.04)
    assert times[0] == 0.0


def test_frames_resampled_by_time_and_resized():
    frames = list(media.iter_frames(CUT2, fps=10, size=(128, 72), start=2.0, end=4.0))
    assert [round(f.time, 3) for f in frames] == [round(2.0 + k / 10, 3) for k in range(20)]
    assert frames[0].image.shape == (72, 128, 3)
    # 25 -> 50 fps repeats each source frame twice
    doubled = list(media.iter_frames(CUT2, fps=50, size=(32, 18), end=0.4))
    assert len(doubled) == 20
    assert np.array_equal(doubled[0].image, doubled[1].image)


def test_grey_frames_are_the_full_range_luma_plane():
    import av
    import cv2

    grey = list(media.iter_frames(CUT2, fps=25, end=2.0, grey=True))
    colour = list(media.iter_frames(CUT2, fps=25, end=2.0))
    assert len(grey) == len(colour) == 50
    assert [g.time for g in grey] == [c.time for c in colour]
    assert grey[0].image.shape == (720, 1280) and grey[0].image.dtype == np.uint8
    with av.open(str(CUT2)) as container:  # swscale's own grey conversion of the same frame
        first = next(container.decode(container.streams.video[0]))
        assert first.format.name == "yuv420p"
        np.testing.assert_array_equal(grey[0].image, first.to_ndarray(format="gray"))
    # The BGR round trip lands within rounding of the luma: same picture, no shift in level.
    diff = np.stack([g.image.astype(np.int16) - cv2.cvtColor(c.image, cv2.COLOR_BGR2GRAY)
                     for g, c in zip(grey, colour, strict=True)])
    assert abs(diff.mean()) < 1.5 and np.percentile(np.abs(diff), 99) <= 4
    small = next(media.iter_frames(CUT2, size=(160, 90), grey=True))
    assert small.image.shape == (90, 160)


@pytest.mark.parametrize("codec,pix_fmt,suffix", [
    ("libx264", "yuv420p", "mp4"),  # limited range: Y plane through the range LUT
    ("libx264", "yuv444p", "mp4"),
    ("mjpeg", "yuvj420p", "mkv"),  # full range: Y plane as is
    ("libx264", "yuv420p10le", "mp4"),  # 10-bit: swscale's grey
    ("png", "rgb24", "mov"),  # no luma plane at all: swscale's grey
])
def test_grey_frames_match_bgr_to_grey_for_every_layout(tmp_path, codec, pix_fmt, suffix):
    import av
    import cv2

    path = tmp_path / f"grad.{suffix}"
    ramp = np.linspace(0, 255, 96)
    image = np.stack([np.add.outer(np.linspace(0, 60, 64), ramp * 0.7)] * 3, -1)
    image[..., 2] = np.flipud(image[..., 2])  # some colour, so chroma is not flat
    image = np.clip(image, 0, 255).astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, pix_fmt
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    grey = list(media.iter_frames(path, grey=True))
    colour = list(media.iter_frames(path))
    assert len(grey) == len(colour) == 3 and grey[0].image.shape == (64, 96) and grey[0].image.dtype == np.uint8
    diff = grey[0].image.astype(np.int16) - cv2.cvtColor(colour[0].image, cv2.COLOR_BGR2GRAY)
    assert np.abs(diff).mean() < 2.0 and np.abs(diff).max() <= 8, (np.abs(diff).mean(), np.abs(diff).max())


def test_rotation_metadata_gives_display_oriented_frames(tmp_path):
    path = write_video(tmp_path / "portrait.mp4", frames=3, size=(64, 48), rotation=90)
    info = media.probe(path)
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (48, 64)
    frame = next(media.iter_frames(path))
    assert frame.image.shape == (64, 48, 3)


def test_video_without_audio_and_audio_without_video(tmp_path):
    silent = write_video(tmp_path / "silent.mp4", frames=5)
    assert not media.probe(silent).has_audio
    with pytest.raises(InputError, match="no audio track"):
        media.read_audio(silent)
    sound = write_audio_only(tmp_path / "tone.m4a")
    info = media.probe(sound)
    assert info.has_audio and not info.has_video
    with pytest.raises(InputError, match="no video track"):
        next(media.iter_frames(sound))


def _cut_times(path, threshold=12.0):
    prev, cuts = None, []
    for f in media.iter_frames(path, size=(160, 90)):
        grey = f.image.mean(axis=2)
        if prev is not None and np.abs(grey - prev).mean() > threshold:
            cuts.append(f.time)
        prev = grey
    return cuts


@pytest.mark.slow
def test_decode_encode_round_trip_keeps_sync_and_duration(tmp_path):
    src = media.probe(CUT2)
    out = tmp_path / "round.mp4"
    with media.VideoWriter(out, src.fps, src.width, src.height, audio_from=CUT2) as writer:
        for frame in media.iter_frames(CUT2):
            writer.write(frame.image)
    info = media.probe(out)
    assert info.video_codec == "h264" and info.has_audio
    assert abs(info.duration - src.duration) <= 1 / src.fps
    assert info.frame_count == src.frame_count

    # video offset: where the hard cuts land; audio offset: cross-correlation lag
    cuts_in, cuts_out = _cut_times(CUT2), _cut_times(out)
    assert len(cuts_in) == 3 and len(cuts_out) == 3
    video_offset = float(np.mean(np.subtract(cuts_out, cuts_in)))
    a_in, a_out = media.read_audio(CUT2), media.read_audio(out)
    n = min(len(a_in), len(a_out))
    corr = signal.correlate(a_out[:n], a_in[:n], mode="full", method="fft")
    audio_offset = (int(np.argmax(corr)) - (n - 1)) / 16000
    assert abs(video_offset - audio_offset) < 0.040


def test_writer_leaves_nothing_when_aborted(tmp_path):
    out = tmp_path / "partial.mp4"
    with pytest.raises(RuntimeError), media.VideoWriter(out, 25, 64, 48) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        raise RuntimeError("stage failed")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_to_overwrite_its_input(tmp_path):
    src = write_video(tmp_path / "in.mp4", frames=3, audio_seconds=0.2)
    before = src.read_bytes()
    with pytest.raises(InputError, match="is the input"):
        media.VideoWriter(src, 25, 64, 48, audio_from=src)
    assert src.read_bytes() == before


def test_writer_refuses_unwritable_directory(tmp_path):
    with pytest.raises(InputError, match=r"not writable|does not exist"):
        media.VideoWriter("/proc/sceneglot-test.mp4", 25, 64, 48)
    with pytest.raises(InputError, match="does not exist"):
        media.VideoWriter(tmp_path / "missing" / "x.mp4", 25, 64, 48)


# ---------------------------------------------------------------- several audio streams, damaged files


def two_track_copy(path, first_silent: bool = True, container: str = "matroska", sound: bool = True):
    """cut2 remuxed with a muted guide track (AAC silence) before (or after) its real soundtrack (none: `sound`)."""
    from fractions import Fraction

    import av

    with av.open(str(CUT2)) as src, av.open(str(path), "w", format=container) as out:
        v_in, a_in = src.streams.video[0], src.streams.audio[0]
        v_out = out.add_stream_from_template(v_in)
        tracks = {}

        def silent_track():
            s = out.add_stream("aac", rate=48000)
            s.layout = "stereo"
            s.metadata["title"] = "guide (muted)"
            return s

        if first_silent:
            mute = silent_track()
        if sound:
            tracks[a_in.index] = out.add_stream_from_template(a_in)
            tracks[a_in.index].metadata["language"] = "eng"
        if not first_silent:
            mute = silent_track()
        for packet in src.demux(v_in, a_in):
            if packet.dts is None or (not sound and packet.stream.index == a_in.index):
                continue
            packet.stream = v_out if packet.stream.index == v_in.index else tracks[packet.stream.index]
            out.mux(packet)
        zeros = np.zeros((2, 1024), np.float32)
        for k in range(round(12.8 * 48000 / 1024)):
            frame = av.AudioFrame.from_ndarray(zeros, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = 48000, k * 1024, Fraction(1, 48000)
            for p in mute.encode(frame):
                out.mux(p)
        for p in mute.encode(None):
            out.mux(p)
    return path


def test_a_muted_first_track_is_passed_over_for_the_one_with_sound(tmp_path):
    path = two_track_copy(tmp_path / "guide-first.mkv")
    info = media.probe(path)
    assert info.audio_streams == 2 and info.audio_stream == 1
    clean = media.read_audio(CUT2)
    audio = media.read_audio(path)
    n = min(len(clean), len(audio))
    assert n / 16000 == pytest.approx(12.8, abs=0.05)
    assert np.abs(audio[:n] - clean[:n]).max() < 1e-3  # the real soundtrack, not the muted one
    # --audio-stream N overrides the choice; a stream the file does not have is one clear error.
    assert np.abs(media.read_audio(path, stream=0)).max() < 1e-3
    assert media.probe(path, audio=0).audio_stream == 0
    with pytest.raises(InputError, match=r"no audio stream 2 in .*audio streams 0-1"):
        media.audio_stream(path, 2)
    # The usual layout, sound first, is left alone.
    assert media.probe(two_track_copy(tmp_path / "guide-last.mkv", first_silent=False)).audio_stream == 0


@pytest.mark.slow
def test_writer_keeps_every_audio_stream(tmp_path):
    import av

    src = two_track_copy(tmp_path / "two.mkv")
    out = tmp_path / "out.mp4"
    info = media.probe(src)
    with media.VideoWriter(out, info.fps, info.width, info.height, audio_from=src) as writer:
        for frame in media.iter_frames(src, size=(info.width, info.height)):
            writer.write(frame.image)
    with av.open(str(out)) as c:
        streams = list(c.streams.audio)
        assert len(streams) == 2
        assert streams[1].metadata.get("language") == "eng"
    assert media.probe(out).audio_stream == 1  # the written file still leads a player to the sound
    a_out, a_in = media.read_audio(out, stream=1), media.read_audio(CUT2)
    n = min(len(a_out), len(a_in))
    assert abs(len(a_out) - len(a_in)) / 16000 < 0.05 and np.corrcoef(a_out[:n], a_in[:n])[0, 1] > 0.99


def test_writer_encodes_a_wav_soundtrack_without_a_channel_mask_to_aac(tmp_path):
    """16 kHz mono PCM in a WAV states no channel order ("1 channels"), which the AAC encoder refuses as a
    layout: the writer names it mono, and the sound survives at its own rate."""
    import av

    wav = EVAL / "speech" / "multilingual" / "deyu.wav"
    with av.open(str(wav)) as c:
        assert c.streams.audio[0].codec_context.name == "pcm_s16le" and c.streams.audio[0].layout.name == "1 channels"
    out = tmp_path / "out.mp4"
    with media.VideoWriter(out, 25.0, 64, 48, audio_from=wav) as writer:
        for _ in range(25):
            writer.write(np.zeros((48, 64, 3), np.uint8))
    info = media.probe(out)
    assert info.audio_codec == "aac" and info.sample_rate == 16000
    with av.open(str(out)) as c:
        assert c.streams.audio[0].layout.name == "mono"
    a_out, a_in = media.read_audio(out), media.read_audio(wav)
    lag = int(np.argmax(signal.correlate(a_out[:48000], a_in[:48000], mode="full", method="fft"))) - 47999
    a_out = a_out[max(0, lag):]  # the AAC encoder's priming delay, if the muxer left any
    n = min(len(a_out), len(a_in))
    assert abs(len(a_out) - len(a_in)) / 16000 < 0.1 and np.corrcoef(a_out[:n], a_in[:n])[0, 1] > 0.95


def damaged_copy(path, garbage: int = 20_000, seed: int = 0):
    """cut2 with `garbage` random bytes written over the middle of its media data, as a bad disk sector does."""
    data = bytearray(CUT2.read_bytes())
    mid = len(data) // 2
    data[mid : mid + garbage] = np.random.default_rng(seed).integers(0, 256, garbage, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def test_damaged_file_is_read_around_the_damage_and_says_where(tmp_path):
    path = damaged_copy(tmp_path / "damaged.mp4")
    with pytest.warns(media.DamageWarning, match=r"damaged video in damaged\.mp4 between (\d+\.\d\d) s and") as rec:
        frames = [f.time for f in media.iter_frames(path)]
    assert len(frames) >= 319  # FFmpeg itself plays 319 of 320
    start, end = map(float, re.findall(r"(\d+\.\d+) s", str(rec[0].message)))
    assert 0 < start < end < 12.8 and end - start < 1.0
    assert not any(start + 0.05 < t < end - 0.05 for t in frames)  # the range named is the frames lost
    with pytest.warns(media.DamageWarning, match=r"damaged video in damaged\.mp4"):  # said again, not hidden
        resampled = list(media.iter_frames(path, fps=25.0))
    assert len(resampled) == 320  # by time: the last good frame is held over the gap
    with pytest.warns(media.DamageWarning, match="damaged audio"):
        audio = media.read_audio(path)
    clean = media.read_audio(CUT2)
    assert abs(len(audio) - len(clean)) <= 160  # lost packets become silence: later sound keeps its time
    k = 10 * 16000  # after the damage: the same sound at the same time (within 2 ms)
    a, b = audio[k : k + 16000], clean[k : k + 16000]
    corr = signal.correlate(a, b, mode="full", method="fft")
    lag = int(np.argmax(corr)) - (len(b) - 1)
    assert abs(lag) <= 32 and corr.max() / np.sqrt((a**2).sum() * (b**2).sum()) > 0.95


def test_a_file_that_cannot_be_decoded_at_all_is_still_refused(tmp_path):
    data = bytearray(CUT2.read_bytes())
    start = data.find(b"mdat") + 4  # every coded sample replaced with noise; the index (moov) left intact
    end = start - 8 + int.from_bytes(data[start - 8 : start - 4], "big")
    data[start:end] = np.random.default_rng(1).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    path = tmp_path / "noise.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"corrupt video|cannot decode video|no decodable frame"):
        list(media.iter_frames(path))
