"""Synchronised capture: (video frame, that frame's audio samples) pairs from a file or live devices.

OpenCV's VideoCapture can deliver audio beside video (its AudioIO API), but
only in builds whose backend supports it: the Linux wheels' FFmpeg backend
rejects the audio parameters and they ship no GStreamer. `opencv_audio()`
says whether this build can; when it can, files are read through OpenCV,
otherwise (and always for devices) through PyAV, which demuxes both streams
from one container with timestamps on one clock.

A device is named `FORMAT:URL` (an FFmpeg input device: `v4l2:/dev/video0`,
`alsa:default`, `pulse:default`, `avfoundation:0:0`, `dshow:video=...:audio=...`,
or `lavfi:GRAPH`, whose virtual sources stand in for a camera and a microphone
in tests); `SPEC+SPEC` opens a camera and a microphone that are separate
devices, each timed from its own first packet. Video is resampled by time to
`fps` (25 for the LRW models); frame k's audio is the 16 kHz samples of
[k/fps, (k+1)/fps): 640 samples at 25 fps.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import numpy as np

from ..errors import InputError
from ..media import SAMPLE_RATE, check_input

FPS = 25.0
_QUEUE = 64  # decoded items held between the reader threads and the consumer
_EPS = 1e-4


@dataclass
class AVFrame:
    index: int
    time: float  # seconds from the source's start
    image: np.ndarray  # H x W x 3 uint8 BGR
    audio: np.ndarray  # float32, 16 kHz mono: the samples of [time, time + 1/fps)
    arrived: float  # time.perf_counter() when the frame and all of its audio were in


@cache
def opencv_audio() -> tuple[bool, str]:
    """(whether this OpenCV build's VideoCapture returns audio, why), probed on a generated clip."""
    import tempfile

    import cv2

    from .. import media

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "probe.mkv"
        with av.open(str(path), "w") as out:  # 0.2 s of video and sound
            v = out.add_stream("mpeg4", rate=25)
            v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
            a = out.add_stream("pcm_s16le", rate=16000)
            a.layout = "mono"
            for i in range(5):
                frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="bgr24")
                frame.pts = i
                out.mux(v.encode(frame))
            out.mux(v.encode(None))
            sound = av.AudioFrame.from_ndarray(np.zeros((1, 3200), np.int16), format="s16", layout="mono")
            sound.sample_rate, sound.pts = 16000, 0
            out.mux(a.encode(sound))
            out.mux(a.encode(None))
        media.probe(path)
        level = cv2.getLogLevel()
        cv2.setLogLevel(0)  # silent: a refusal is logged as an error on stderr
        cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, _cv_params())
        cv2.setLogLevel(level)
        try:
            if not cap.isOpened():
                return False, f"OpenCV {cv2.__version__}: VideoCapture rejects the audio parameters (no audio backend)"
            channels = int(cap.get(cv2.CAP_PROP_AUDIO_TOTAL_CHANNELS))
            if channels < 1:
                return False, f"OpenCV {cv2.__version__}: VideoCapture opens but reports no audio channel"
            return True, f"OpenCV {cv2.__version__} {cap.getBackendName()}: audio and video from one VideoCapture"
        finally:
            cap.release()


def _cv_params() -> list[int]:
    import cv2

    return [cv2.CAP_PROP_AUDIO_STREAM, 0, cv2.CAP_PROP_VIDEO_STREAM, 0, cv2.CAP_PROP_AUDIO_DATA_DEPTH, cv2.CV_32F,
            cv2.CAP_PROP_AUDIO_SAMPLES_PER_SECOND, SAMPLE_RATE, cv2.CAP_PROP_AUDIO_SYNCHRONIZE, 1]


def frames(source: str | None = None, device: str | None = None, fps: float = FPS,
           backend: str = "auto") -> Iterator[AVFrame]:
    """The synchronised pairs of a file (`source`) or a live `device`, one at a time.

    backend "auto": OpenCV for files when `opencv_audio()` allows, else PyAV; "pyav" or "opencv" force one.
    """
    if (source is None) == (device is None):
        raise InputError("give a media file or --device, not both")
    if source is not None:
        check_input(source)
        use_cv = backend == "opencv" or (backend == "auto" and opencv_audio()[0])
        if use_cv:
            if not opencv_audio()[0]:
                raise InputError(opencv_audio()[1])
            yield from _opencv_frames(str(source), fps)
            return
        inputs = [(None, str(source))]
    else:
        inputs = [_parse(spec) for spec in split_devices(device)]
    yield from _pyav_frames(inputs, fps, live=device is not None)


def split_devices(device: str) -> list[str]:
    """`SPEC+SPEC` -> both specs; a "+" counts only before another `FORMAT:` (lavfi graphs use "+" too)."""
    parts = device.split("+")
    out = [parts[0]]
    for part in parts[1:]:
        fmt, sep, _ = part.partition(":")
        if sep and fmt in av.formats_available:
            out.append(part)
        else:
            out[-1] += "+" + part
    return out


def _parse(spec: str) -> tuple[str, str]:
    fmt, sep, url = spec.partition(":")
    if not sep or not fmt or not url:
        raise InputError(f"--device {spec!r}: expected FORMAT:URL, e.g. v4l2:/dev/video0 or alsa:default")
    if fmt not in av.formats_available:
        raise InputError(f"--device {spec!r}: FFmpeg here has no input format {fmt!r}")
    return fmt, url


class _Reader(threading.Thread):
    """Decodes one container's first video and first audio stream into a queue, on the container's clock."""

    def __init__(self, fmt: str | None, url: str, out: queue.Queue, stop: threading.Event, live: bool) -> None:
        super().__init__(daemon=True)
        self.fmt, self.url, self.out, self.stop, self.live = fmt, url, out, stop, live

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            self._run()
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            what = f"{self.fmt}:{self.url}" if self.fmt else self.url
            self._put(("error", InputError(f"cannot read {what}: {getattr(exc, 'strerror', None) or exc}")))
        finally:
            self._put(("end", None))

    def _run(self) -> None:
        options = {"rtbufsize": "64M"} if self.live and self.fmt == "dshow" else {}
        with av.open(self.url, format=self.fmt, options=options) as container:
            streams = [*container.streams.video[:1], *container.streams.audio[:1]]
            self._put(("streams", len(container.streams.video[:1]), len(container.streams.audio[:1])))
            origin = None if self.live else (container.start_time or 0) / av.time_base
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for packet in container.demux(*streams):
                if self.stop.is_set():
                    return
                for frame in packet.decode():
                    if frame.time is None:
                        continue
                    if origin is None:  # a device: its first timestamp is time 0
                        origin = frame.time
                    t = frame.time - origin
                    if isinstance(frame, av.VideoFrame):
                        item = ("video", t, frame.to_ndarray(format="bgr24"))
                    else:
                        parts = [(o.time, o.to_ndarray().reshape(-1)) for o in resampler.resample(frame)]
                        if not parts:
                            continue
                        item = ("audio", t, np.concatenate([p for _, p in parts]).astype(np.float32))
                    if not self._put(item):
                        return
            tail = [o.to_ndarray().reshape(-1) for o in resampler.resample(None)]
            if tail:
                self._put(("audio", None, np.concatenate(tail).astype(np.float32)))


def _pyav_frames(inputs: list[tuple[str | None, str]], fps: float, live: bool) -> Iterator[AVFrame]:
    out: queue.Queue = queue.Queue(maxsize=_QUEUE)
    stop = threading.Event()
    readers = [_Reader(fmt, url, out, stop, live) for fmt, url in inputs]
    for r in readers:
        r.start()
    sync = _Sync(fps)
    running, opened, found = len(readers), 0, [0, 0]
    try:
        while running:
            kind, *rest = out.get()
            if kind == "streams":
                opened += 1
                found = [found[0] + rest[0], found[1] + rest[1]]
                if opened == len(readers) and not all(found):
                    what = " + ".join(f"{f}:{u}" if f else u for f, u in inputs)
                    raise InputError(f"{what} has no {'video' if not found[0] else 'audio'} stream: "
                                     "audio-visual recognition needs both")
            elif kind == "end":
                running -= 1
            elif kind == "error":
                raise rest[0]
            elif kind == "video":
                sync.video(rest[0], rest[1])
            else:
                sync.audio(rest[0], rest[1])
            yield from sync.ready()
        yield from sync.finish()
    finally:
        stop.set()
        for r in readers:
            r.join(timeout=2.0)


class _Sync:
    """Pairs time-resampled video frames with the audio samples of their frame period."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.step = round(SAMPLE_RATE / fps)
        self.samples = np.zeros(0, np.float32)
        self.base = 0  # audio sample index of samples[0]
        self.audio_start: int | None = None
        self.held: tuple[float, np.ndarray] | None = None
        self.last_dt = 1.0 / fps
        self.pending: list[tuple[int, np.ndarray]] = []  # (tick, image) waiting for their audio
        self.tick = 0
        self.audio_done_at: float | None = None

    def video(self, t: float, image: np.ndarray) -> None:
        if self.held is not None:
            self.last_dt = max(t - self.held[0], 1e-3)
            self._emit_until(t)
        self.held = (t, image)

    def _emit_until(self, until: float) -> None:
        while self.tick / self.fps < until - _EPS:
            self.pending.append((self.tick, self.held[1]))
            self.tick += 1

    def audio(self, t: float | None, samples: np.ndarray) -> None:
        """Samples continuing the soundtrack; `t` (seconds) of the first chunk places it (None: resampler tail)."""
        if self.audio_start is None and t is not None:
            lead = round(t * SAMPLE_RATE)
            self.audio_start = lead
            if lead > 0:  # sound starts late: silence until then
                samples = np.concatenate([np.zeros(lead, np.float32), samples])
            elif lead < 0:
                samples = samples[-lead:]
        self.samples = np.concatenate([self.samples, samples])

    def ready(self, final: bool = False) -> Iterator[AVFrame]:
        while self.pending:
            tick, image = self.pending[0]
            lo = tick * self.step
            hi = lo + self.step
            have = self.base + len(self.samples)
            if have < hi and not final:
                return
            chunk = self.samples[max(0, lo - self.base):max(0, hi - self.base)]
            if len(chunk) < self.step:
                chunk = np.concatenate([chunk, np.zeros(self.step - len(chunk), np.float32)])
            self.pending.pop(0)
            drop = max(0, hi - self.base)
            self.samples, self.base = self.samples[drop:], self.base + drop
            yield AVFrame(tick, round(tick / self.fps, 6), image, chunk, time.perf_counter())

    def finish(self) -> Iterator[AVFrame]:
        if self.held is not None:
            self._emit_until(self.held[0] + self.last_dt)
        yield from self.ready(final=True)


def _opencv_frames(path: str, fps: float) -> Iterator[AVFrame]:
    """OpenCV AudioIO: each grab gives a video frame and the audio that goes with it (CAP_PROP_AUDIO_SYNCHRONIZE)."""
    import cv2

    cap = cv2.VideoCapture(path, cv2.CAP_ANY, _cv_params())
    try:
        base = int(cap.get(cv2.CAP_PROP_AUDIO_BASE_INDEX))
        sync = _Sync(fps)
        src_fps = cap.get(cv2.CAP_PROP_FPS) or fps
        n = 0
        heard = 0
        while cap.grab():
            ok, image = cap.retrieve(None, 0)
            ok_a, sound = cap.retrieve(None, base)
            if ok:
                sync.video(n / src_fps, image)
                n += 1
            if ok_a and sound is not None and sound.size:
                sync.audio(heard / SAMPLE_RATE, np.asarray(sound, np.float32).reshape(-1))
                heard += sound.size
            yield from sync.ready()
        yield from sync.finish()
    finally:
        cap.release()
