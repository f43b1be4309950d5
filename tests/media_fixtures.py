"""Where the shared evaluation media lives, and small real files made on the fly for tests."""

from __future__ import annotations

import subprocess
import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
EVAL = SHARED / "eval"
CUT2 = EVAL / "scenes" / "cut2.mp4"
TWOSHOT = EVAL / "scenes" / "twoshot.mp4"
JFK = EVAL / "speech" / "jfk.flac"
DIAR_WAV = EVAL / "diarization" / "sample.wav"
GRID = sorted((EVAL / "lips").glob("*.mpg"))


def write_video(
    path: Path,
    frames: int = 10,
    size: tuple[int, int] = (64, 48),
    fps: int = 25,
    audio_seconds: float | None = None,
    rotation: int | None = None,
    color: tuple[int, int, int] | None = None,
) -> Path:
    """A small H.264 MP4 (optionally with an AAC tone and rotation metadata)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height = size
        v.pix_fmt = "yuv420p"
        if rotation is not None:
            v.set_display_rotation(rotation)
        a = None
        if audio_seconds:
            a = out.add_stream("aac", rate=16000)
            a.layout = "mono"
        for i in range(frames):
            img = np.zeros((size[1], size[0], 3), np.uint8)
            if color is None:
                img[:, : (i * 7) % size[0] + 1] = (255, 128, 0)
            else:
                img[:] = color
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        if a is not None:
            _mux_tone(out, a, audio_seconds, 440.0)
    return path


def _mux_tone(out, stream, seconds: float, hz: float) -> None:
    n = int(seconds * 16000)
    tone = (0.3 * np.sin(2 * np.pi * hz * np.arange(n) / 16000)).astype(np.float32)
    for start in range(0, n, 1024):
        af = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="flt", layout="mono")
        af.sample_rate = 16000
        af.pts = start
        af.time_base = Fraction(1, 16000)
        for p in stream.encode(af):
            out.mux(p)
    for p in stream.encode(None):
        out.mux(p)


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=16000)
        a.layout = "mono"
        _mux_tone(out, a, seconds, 300.0)
    return path


def write_wav(path, audio: np.ndarray, rate: int = 16000, channels: int = 1) -> Path:
    """16-bit PCM WAV; extra channels are the same signal at falling gains (a real downmix has work to do)."""
    data = np.clip(audio, -1, 1)
    if channels > 1:
        data = np.repeat(data[:, None], channels, axis=1) * np.linspace(1, 0.3, channels)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype("<i2").tobytes())
    return Path(path)


ENGLISH_POLISH = [("en-us", "Good morning, thank you for coming to the studio today."),
                  ("pl", "Dzień dobry, bardzo się cieszę, że mogę tu dzisiaj być."),
                  ("en-us", "Can you tell us about your work in Warsaw?"),
                  ("pl", "Oczywiście, pracuję jako inżynier w dużej firmie od pięciu lat.")]


def english_polish_clip(folder: Path) -> Path:
    """An interview that switches language each line (espeak-ng voices), 1 s of silence between lines."""
    from sceneglot.media import read_audio

    parts = []
    for i, (voice, text) in enumerate(ENGLISH_POLISH):
        out = folder / f"line{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True)
        parts += [np.zeros(16000, np.float32), read_audio(out)]
    return write_wav(folder / "mixed.wav", np.concatenate([*parts, np.zeros(8000, np.float32)]))


def audio_streams_file(path: Path, clips: list[Path]) -> Path:
    """A Matroska file with one audio stream per clip (16 kHz mono FLAC), in order: a dub beside the original."""
    from sceneglot.media import read_audio

    block = 4096
    sounds = [(np.clip(read_audio(c), -1, 1) * 32767).astype(np.int16) for c in clips]
    with av.open(str(path), "w", format="matroska") as out:
        streams = []
        for _ in clips:
            stream = out.add_stream("flac", rate=16000, layout="mono")
            streams.append(stream)
        for start in range(0, max(len(s) for s in sounds), block):  # interleaved, as a muxer expects
            for stream, samples in zip(streams, sounds, strict=True):
                if start < len(samples):
                    frame = av.AudioFrame.from_ndarray(samples[None, start:start + block], format="s16",
                                                       layout="mono")
                    frame.sample_rate, frame.pts, frame.time_base = 16000, start, Fraction(1, 16000)
                    for p in stream.encode(frame):
                        out.mux(p)
        for stream in streams:
            for p in stream.encode(None):
                out.mux(p)
    return path
