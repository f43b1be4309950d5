"""Media I/O on PyAV: probe, audio at 16 kHz, streamed frames, and an encoder that keeps the sound.

No ffmpeg binary is needed. Times are seconds from the container's start, so
audio sample 0 and a frame at t=0 are simultaneous whatever the streams'
own start offsets are. Frames are display-oriented (rotation metadata applied),
and are yielded one at a time: nothing here holds a whole video in memory.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np

from .errors import InputError
from .files import atomic_path, check_output_path
from .scene import MediaInfo

SAMPLE_RATE = 16000
# Audio codecs the MP4 muxer takes as they are; anything else is re-encoded to AAC.
_MP4_AUDIO = {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"}
_EPS = 1e-4


SOUND_SECONDS = 60.0  # how much of an audio stream is listened to when deciding whether it carries sound
SOUND_LEVEL = 1e-3  # -60 dBFS: RMS of 0.1 s above this is sound; a muted track's codec noise stays far below


class DamageWarning(UserWarning):
    """Undecodable data inside a file that was otherwise read (the CLI merges them into one line per file)."""

    def __init__(self, kind: str, path: str, start: float, end: float) -> None:
        self.kind, self.path, self.start, self.end = kind, path, start, end
        super().__init__(f"damaged {kind} in {Path(path).name} between {start:.2f} s and {end:.2f} s: "
                         f"skipped, the rest was read")


def _damage(kind: str, path, start: float, end: float) -> None:
    warnings.warn(DamageWarning(kind, str(path), start, end), stacklevel=3)


@dataclass
class Frame:
    index: int
    time: float
    image: np.ndarray  # H x W x 3 uint8 BGR (OpenCV's order), or H x W full-range luma with grey=True
    source: av.VideoFrame | None = field(default=None, repr=False)  # the decoded frame, with keep_source=True

    def luma(self, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """This frame's full-size, full-range grey picture, display-oriented (what grey=True yields), made
        from the decoded frame only when asked: one decode serves a scaled colour picture and the grey one.

        `region` (x0, y0, x1, y1, display pixels, inside the picture): only that part, range-expanded
        alone (the faces pass needs a few face squares of each frame, not the whole picture)."""
        if self.source is None:
            raise ValueError("luma() needs iter_frames(keep_source=True)")
        rotation = int(self.source.rotation or 0) % 360
        if region is None or rotation:
            grey = _rotate(_grey(self.source), rotation)
            return grey if region is None else grey[region[1] : region[3], region[0] : region[2]]
        return _grey(self.source, region)

    @property
    def luma_shape(self) -> tuple[int, int]:
        """(height, width) of `luma()`."""
        if self.source is None:
            raise ValueError("luma_shape needs iter_frames(keep_source=True)")
        w, h = self.source.width, self.source.height
        return (w, h) if int(self.source.rotation or 0) % 360 in (90, 270) else (h, w)


def check_input(path: str | os.PathLike) -> Path:
    """Turn the usual ways a path can be wrong into one readable line."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"no such file: {p}")
    if p.is_dir():
        raise InputError(f"is a directory, not a media file: {p}")
    if not os.access(p, os.R_OK):
        raise InputError(f"cannot read: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"empty file: {p}")
    return p


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    p = check_input(path)
    with p.open("rb") as fh:
        if fh.read(8)[4:8] == b"ftyp":
            _check_isobmff(p)
    try:
        return av.open(str(p), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a readable media file: {p} ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0]


def _check_isobmff(path: Path) -> None:
    """Walk the top-level boxes of an MP4/MOV: a box reaching past the end means truncation.

    FFmpeg opens a truncated MP4 whose index sits at the front and silently
    stops early; reading box sizes (ISO/IEC 14496-12 §4.2) catches it up front.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            box_size, box_type = struct.unpack(">I4s", fh.read(8))
            if box_size == 1:
                (box_size,) = struct.unpack(">Q", fh.read(8))
            elif box_size == 0:  # box runs to the end of the file
                return
            if box_size < 8:
                raise InputError(f"corrupt MP4 (bad box size at byte {pos}): {path}")
            if pos + box_size > size:
                raise InputError(
                    f"truncated file: {path} ('{box_type.decode('latin-1')}' box needs "
                    f"{pos + box_size} bytes, file has {size})"
                )
            pos += box_size


def _origin(container: av.container.InputContainer) -> float:
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def _carries_sound(path: Path, index: int) -> bool:
    """Whether audio stream `index` has any 0.1 s above SOUND_LEVEL in its first SOUND_SECONDS."""
    with _open(path) as container:
        stream = container.streams.audio[index]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        block = SAMPLE_RATE // 10
        seen = 0
        rest = np.zeros(0, np.float32)
        with contextlib.suppress(av.error.FFmpegError):
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                for frame in frames:
                    for out in resampler.resample(frame):
                        rest = np.concatenate([rest, out.to_ndarray().reshape(-1)])
                        n = len(rest) // block * block
                        if n and (np.sqrt((rest[:n].reshape(-1, block) ** 2).mean(1)) > SOUND_LEVEL).any():
                            return True
                        seen += n
                        rest = rest[n:]
                if seen >= SOUND_SECONDS * SAMPLE_RATE:
                    break
    return False


@functools.lru_cache(maxsize=64)
def _chosen_audio(path: str, size: int, mtime_ns: int) -> int:
    p = Path(path)
    with _open(p) as container:  # a stream's fields are read while its container is open (after: freed memory)
        flags = [s.disposition for s in container.streams.audio]
    if len(flags) <= 1:
        return 0
    # A player's choice: default-flagged tracks first, commentary and audio description last, file order.
    aside = av.stream.Disposition.comment | av.stream.Disposition.descriptions | av.stream.Disposition.visual_impaired
    order = sorted(range(len(flags)), key=lambda i: (not flags[i] & av.stream.Disposition.default,
                                                     bool(flags[i] & aside), i))
    return next((i for i in order if _carries_sound(p, i)), order[0])


def audio_stream(path: str | os.PathLike, requested: int | None = None) -> int:
    """Which audio stream (0-based, among the file's audio streams) the job listens to.

    `requested` (--audio-stream N) wins when the file has it; otherwise the one
    a player would play: the default-flagged track, else the first that carries
    sound (a muted guide track or a silent first track is passed over).
    """
    p = check_input(path)
    if requested is not None:
        with _open(p) as container:
            n = len(container.streams.audio)
        if not 0 <= requested < n:
            have = f"audio streams 0-{n - 1}" if n > 1 else ("one audio stream (0)" if n else "no audio stream")
            raise InputError(f"no audio stream {requested} in {p}: it has {have}")
        return requested
    st = p.stat()
    return _chosen_audio(str(p.resolve()), st.st_size, st.st_mtime_ns)


def audio_label(path: str | os.PathLike, index: int) -> str:
    """A few words on one audio stream, for the note naming the stream used: "eng, aac, 2 ch, 'guide'"."""
    with _open(path) as container:
        stream = container.streams.audio[index]
        parts = [stream.metadata.get("language") or "", stream.codec_context.name or "",
                 f"{stream.codec_context.channels} ch" if stream.codec_context.channels else ""]
        title = stream.metadata.get("title")
    if title:
        parts.append(repr(title))
    return ", ".join(p for p in parts if p and p != "und") or "no details"


def probe(path: str | os.PathLike, audio: int | None = None) -> MediaInfo:
    """Describe a media file; raise InputError when it is not usable media.

    `audio` picks the audio stream described (see `audio_stream`); `audio_stream`
    in the result says which one it is.
    """
    p = check_input(path)
    chosen = audio_stream(p, audio)
    with _open(p) as container:
        vstreams, astreams = container.streams.video, container.streams.audio
        if not vstreams and not astreams:
            raise InputError(f"no audio or video stream in: {p}")
        origin = _origin(container)
        duration = container.duration / av.time_base if container.duration else 0.0
        info = MediaInfo(
            path=str(p), duration=0.0, fps=0.0, width=0, height=0,
            has_audio=bool(astreams), has_video=bool(vstreams), audio_streams=len(astreams),
            container=container.format.name,
        )
        if astreams:
            a = astreams[chosen]
            info.audio_stream = chosen
            info.audio_codec = a.codec_context.name
            info.sample_rate = a.codec_context.sample_rate
            info.channels = a.codec_context.channels
            if a.duration and a.time_base:
                a_end = float(a.duration * a.time_base) + float((a.start_time or 0) * a.time_base) - origin
                duration = duration or a_end
        if vstreams:
            v = vstreams[0]
            rate = v.average_rate or v.guessed_rate or v.base_rate
            info.fps = float(rate) if rate else 0.0
            info.video_codec = v.codec_context.name
            info.frame_count = v.frames or None
            if v.base_rate and v.average_rate:
                # Interlaced streams report the field rate as base rate: an integer multiple.
                ratio = float(v.base_rate) / float(v.average_rate)
                info.variable_frame_rate = abs(ratio - round(ratio)) > 0.01
            try:
                first = next(container.decode(v))
            except StopIteration:
                raise InputError(f"video stream has no decodable frame: {p}") from None
            except av.error.FFmpegError as exc:
                raise InputError(f"cannot decode video in {p}: {_reason(exc)}") from None
            info.rotation = int(first.rotation or 0) % 360
            w, h = first.width, first.height
            info.width, info.height = (h, w) if info.rotation in (90, 270) else (w, h)
        info.duration = round(duration, 6)
        return info


def require(info: MediaInfo, *, video: bool = False, audio: bool = False) -> MediaInfo:
    """Refuse, up front and in one line, media that lacks what a job needs."""
    if video and not info.has_video:
        raise InputError(f"no video track in {info.path}: there is nothing to draw subtitles on")
    if audio and not info.has_audio:
        raise InputError(f"no audio track in {info.path}: there is no speech to subtitle")
    if video and (info.frame_count or round(info.duration * info.fps)) < 2:
        raise InputError(f"{info.path} holds a single video frame: there is nothing to subtitle")
    return info


GAP = 0.01  # s: timestamps further on than the samples before them by more than this are lost sound, filled


def sample_index(t: float, rate: int = SAMPLE_RATE) -> int:
    """The index of the sample at `t` s from the container's start in what iter_audio gives: round(t * rate).

    Why one rule: the whole decode places its stream's first sample and fills its gaps by it (_filled),
    a span read (read_audio_span, soundtrack.Soundtrack.read, soundtrack.Spans.read) cuts its bounds by it,
    so a span and the same times of the whole decode are the same samples."""
    return round(t * rate)


def _silence(like: av.AudioFrame, n: int, pts: int | None) -> Iterator[av.AudioFrame]:
    """`n` samples of silence in `like`'s format, layout and rate from `pts`, a second a frame at most."""
    rate = like.sample_rate
    for k in range(0, n, rate):
        m = min(rate, n - k)
        out = av.AudioFrame(format=like.format.name, layout=like.layout, samples=m, align=1)
        for plane in out.planes:
            plane.update(bytes(plane.buffer_size))
        out.sample_rate, out.time_base = rate, like.time_base
        if pts is not None and like.time_base:
            out.pts = pts + round(k / rate / like.time_base)
        yield out


def _filled(frames: Iterator[av.AudioFrame], t0: float | None = None) -> Iterator[av.AudioFrame]:
    """`frames` with silence frames before one whose time is over GAP past where the count has got (lost,
    skipped or damaged packets), so it is back on its time; a step under GAP (a remux's wobble, a splice) is
    counted through, as a player plays it. The count starts at the first frame, at its sample_index from `t0`
    s (default: its own time, so 0); a seek passes the stream's first frame's time.

    Why before the resampler: the silence goes in where the sound was missing, so the sound after a gap sits
    on its timestamp. Zeros added to the output instead went after the resampler's held samples (16, 1 ms,
    at 48 -> 16 kHz), so that sound came 1 ms late. The whole decode and a span from a seek both run their
    frames through this, so both fill a gap alike."""
    n = None  # samples counted, from t0
    for frame in frames:
        if frame.time is not None:
            if t0 is None:
                t0 = frame.time
            at = sample_index(frame.time - t0, frame.sample_rate)
            lost = 0 if n is None else at - n
            if n is None:
                n = at
            if lost > GAP * frame.sample_rate:
                step = frame.time_base and round(1 / frame.sample_rate / frame.time_base)
                yield from _silence(frame, lost, frame.pts - lost * step if step and frame.pts is not None else None)
                n += lost
        yield frame
        if n is not None:
            n += frame.samples


def iter_audio(
    path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, chunk_seconds: float = 30.0,
    stream: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield mono float32 chunks at `sample_rate`, the first sample at container time 0.

    `stream` is the audio stream to read (default: `audio_stream`'s choice). The stream's first
    sample goes where its time says (sample_index: silence before it, or its samples before time 0
    dropped); from there samples are counted, a gap over GAP filled on time (_filled). Packets that do not
    decode are skipped with a DamageWarning, and the time they covered is filled so later samples keep
    their times.
    """
    index = audio_stream(path, stream)
    with _open(path) as container:
        if not container.streams.audio:
            raise InputError(f"no audio track in: {path}")
        src = container.streams.audio[index]
        src.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        origin = _origin(container)
        chunk = max(1, int(chunk_seconds * sample_rate))
        pending: list[np.ndarray] = []
        have = 0  # samples pending
        sent = 0  # samples yielded
        skip: int | None = None  # output samples still to drop (before time 0); None before the first frame
        damaged: list[float] = []

        def add(samples: np.ndarray) -> Iterator[np.ndarray]:
            nonlocal pending, have, sent
            pending.append(samples)
            have += len(samples)
            while have >= chunk:
                block = np.concatenate(pending)
                yield block[:chunk]
                sent += chunk
                pending, have = [block[chunk:]], len(block) - chunk

        def decoded() -> Iterator[av.AudioFrame]:
            for packet in container.demux(src):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    if packet.pts is not None:
                        t = float(packet.pts * packet.time_base) - origin
                        damaged.extend((t, t + float((packet.duration or 0) * packet.time_base)))
                    continue
                yield from frames

        def resampled(frame: av.AudioFrame | None) -> Iterator[np.ndarray]:
            nonlocal skip
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1)
                if skip:
                    samples, skip = samples[skip:], max(0, skip - len(samples))
                yield from add(samples)

        try:
            for frame in _filled(decoded()):  # a gap after skipped or missing packets: silence, on time
                if skip is None:  # where the stream starts on the container's clock
                    lead = sample_index(frame.time - origin, sample_rate) if frame.time is not None else 0
                    if lead > 0:  # audio starts late: pad so sample 0 is time 0
                        yield from add(np.zeros(lead, np.float32))
                    skip = max(0, -lead)
                yield from resampled(frame)
            yield from resampled(None)
        except av.error.FFmpegError as exc:
            if skip is None:
                raise InputError(f"corrupt audio in {path}: {_reason(exc)}") from None
            t = (sent + have) / sample_rate
            damaged += [t, t]  # unreadable from here on: what was read is kept
        if skip is None and damaged:
            raise InputError(f"corrupt audio in {path}: no audio packet decodes")
        if damaged:
            _damage("audio", path, min(damaged), max(damaged))
        if have:
            yield np.concatenate(pending).astype(np.float32, copy=False)


PROBE_FRAMES = 48  # decoded frames whose timestamps tell whether a stream's count samples exactly (~1 s)


def _exact(src: av.audio.stream.AudioStream, first: list[av.AudioFrame]) -> bool:
    """Whether the stream's timestamps count samples: time base 1/rate (as MP4, WAV, FLAC, Ogg write) and its
    first frames each starting where the last ended. Not where they were remuxed from a millisecond time
    base: those wobble by up to half a millisecond and are not gaps."""
    rate = src.codec_context.sample_rate
    if not rate or src.time_base != Fraction(1, rate) or any(f.pts is None for f in first):
        return False
    return all(b.pts == a.pts + a.samples for a, b in pairwise(first))


def _cut(frame: av.AudioFrame, drop: int) -> av.AudioFrame:
    """`frame` without its first `drop` samples, its pts moved on by as many."""
    if drop <= 0:
        return frame
    data = frame.to_ndarray()
    data = data[:, drop:] if frame.format.is_planar else data[:, drop * len(frame.layout.channels):]
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=frame.format.name, layout=frame.layout.name)
    out.sample_rate, out.time_base = frame.sample_rate, frame.time_base
    out.pts = frame.pts + round(drop / frame.sample_rate / frame.time_base) if frame.time_base else None
    return out


def read_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE, stream: int | None = None) -> np.ndarray:
    """The whole soundtrack as mono float32 in [-1, 1] (16 kHz: ~230 MB per hour)."""
    chunks = list(iter_audio(path, sample_rate, stream=stream))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


PREROLL = 0.5  # s decoded and dropped after a seek (codec state: AAC's overlap, MP3's reservoir, Opus' pre-skip)


class _NoSeek(Exception):
    """The stream cannot be read from a seek exactly like the whole decode: decode from the start instead."""


def read_audio_span(path: str | os.PathLike, start: float, end: float | None, sample_rate: int = SAMPLE_RATE,
                    stream: int | None = None) -> np.ndarray:
    """Samples `sample_index(start)` to `sample_index(end)` (`end` None: to the end) of what `read_audio`
    gives, decoded from a seek near `start` instead of from the file's start.

    Why: a task that needs one window of a long input (an ASR window on a Ray node) decodes only
    that window. The resampler's phase follows its first input sample, so it is started on an input
    sample where the whole decode's output grid falls (a multiple of rate / gcd(rate, 16000) after
    the stream's first sample, the first decoded frame cut there), PREROLL s before `start` so the
    codec and the resampler have settled, and the whole decode's leading pad or trim is applied by
    the same rule (sample_index); from there samples are counted, and a gap filled, by the whole
    decode's rule (_filled). So the samples are the whole decode's: bit for bit where the codec's
    output depends only on the packets decoded (PCM, FLAC, MP3, Opus, AAC without noise substitution),
    within PNS noise on FFmpeg's AAC (its noise generator runs through the whole stream, so a decoder
    started at a seek draws other noise in the noise bands). Decoded from the start instead where
    timestamps do not count samples (a remux from a millisecond time base), the stream's index shows a
    step before the seek (a splice: the whole decode's count is off the timestamps after it) or a gap
    (on them again after it, but the check does not follow the count), a step under GAP lies where the
    seek starts (a gap there is filled as the whole decode fills it), the seek lands late or a packet
    does not decode. A stream without a full index of fixed-size frames (WAV, FLAC) is taken as counting
    samples up to the seek.
    """
    got = seek_audio_span(path, start, end, sample_rate, stream)
    if got is not None:
        return got
    a = max(0, sample_index(start, sample_rate))
    return _prefix_span(path, a, None if end is None else max(a, sample_index(end, sample_rate)), sample_rate, stream)


def seek_audio_span(path: str | os.PathLike, start: float, end: float | None, sample_rate: int = SAMPLE_RATE,
                    stream: int | None = None) -> np.ndarray | None:
    """read_audio_span's samples where a seek (or, for a span in the first second, a decode from the start
    to its end) gives them; None where it would decode from the start to a later span instead."""
    a = max(0, sample_index(start, sample_rate))
    b = None if end is None else max(a, sample_index(end, sample_rate))
    if a <= 2 * PREROLL * sample_rate:
        return _prefix_span(path, a, b, sample_rate, stream)
    try:
        return _seeked_span(path, a, b, sample_rate, audio_stream(path, stream))
    except _NoSeek:
        return None


def _prefix_span(path: str | os.PathLike, a: int, b: int | None, sample_rate: int, stream: int | None
                 ) -> np.ndarray:
    """Samples a to b of the whole decode, decoded from the start and stopped at b."""
    parts, at = [], 0
    for chunk in iter_audio(path, sample_rate, stream=stream):
        lo, hi = max(a - at, 0), len(chunk) if b is None else min(len(chunk), b - at)
        if hi > lo:
            parts.append(chunk[lo:hi])
        at += len(chunk)
        if b is not None and at >= b:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def _start(container: av.container.InputContainer, src: av.audio.stream.AudioStream) -> int:
    """The pts of the stream's first decoded frame (where the whole decode's resampler starts), when its
    timestamps count samples (_exact); else _NoSeek."""
    first: list[av.AudioFrame] = []
    try:
        for packet in container.demux(src):
            first += packet.decode()
            if len(first) >= PROBE_FRAMES:
                break
    except av.error.FFmpegError:
        raise _NoSeek from None
    if not first or not _exact(src, first[:PROBE_FRAMES]):
        raise _NoSeek
    return first[0].pts


def _check_counted(src: av.audio.stream.AudioStream, until: int) -> None:
    """_NoSeek where the stream's index shows a packet before `until` (pts) that does not start one frame on
    from the last: a step the whole decode counted through, which a seek past it cannot see, or a gap (after
    which the whole decode is on the timestamps again: not followed here, so decoded from the start too).
    A stream without a full index of fixed-size frames (WAV, FLAC) is taken as counting samples, as its first
    frames do (_exact)."""
    size, entries = src.codec_context.frame_size, src.index_entries
    if not size or not src.frames or len(entries) != src.frames:
        return
    ts = np.fromiter((e.timestamp for e in entries), np.int64, len(entries))
    ts = ts[:np.searchsorted(ts, until, side="right") + 1]
    if len(ts) > 1 and (np.diff(ts) != size).any():
        raise _NoSeek


def _seeked_span(path: str | os.PathLike, a: int, b: int | None, sample_rate: int, index: int) -> np.ndarray:
    with _open(path) as container:
        src = container.streams.audio[index]
        rate = src.codec_context.sample_rate
        origin = _origin(container)
        p0 = _start(container, src)  # _NoSeek unless the whole decode's grid can be found by number
        lead = sample_index(float(p0 * src.time_base) - origin, sample_rate)  # what iter_audio pads (+) or trims (-)
        period = rate // math.gcd(rate, sample_rate)  # input samples that make a whole number of output samples
        settle = round(PREROLL * rate)
        feed = ((a - lead) * rate // sample_rate - settle) // period * period  # first input sample resampled
        if feed <= settle:
            raise _NoSeek
        at = lead + feed // period * (sample_rate // math.gcd(rate, sample_rate))  # its output's whole-decode index
        _check_counted(src, p0 + feed - settle)
        container.seek(p0 + feed - settle, stream=src, backward=True)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        parts: list[np.ndarray] = []
        have, started = 0, False

        def decoded() -> Iterator[av.AudioFrame]:
            for packet in container.demux(src):
                yield from packet.decode()  # a packet that does not decode: the whole decode's care (_NoSeek)

        expect, steady = None, True
        try:
            for frame in _filled(decoded(), float(p0 * src.time_base)):  # a gap filled as the whole decode fills it
                if frame.pts is None or frame.sample_rate != rate:
                    raise _NoSeek
                # From the settling frames to the one after the first fed, a step under GAP would put the
                # start off the grid; after that the count goes on as the whole decode's does.
                if expect is not None and frame.pts != expect and steady:
                    raise _NoSeek
                expect = frame.pts + frame.samples
                steady = steady and frame.pts - p0 <= feed
                if not started and frame.pts - p0 > feed - settle // 2:
                    raise _NoSeek  # the seek landed too late for the codec to settle
                if frame.pts - p0 + frame.samples <= feed:
                    started = True
                    continue  # the codec settling
                started = True
                for out in resampler.resample(_cut(frame, feed - (frame.pts - p0))):  # the first one cut at `feed`
                    parts.append(out.to_ndarray().reshape(-1))
                    have += len(parts[-1])
                if b is not None and at + have >= b:
                    break
            else:
                parts += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
        except av.error.FFmpegError:
            raise _NoSeek from None
    got = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return got[a - at:None if b is None else b - at].astype(np.float32, copy=False)


# 8-bit YUV layouts whose first plane is the full-size luma.
_YUV8 = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv440p", "yuvj440p", "yuv444p", "yuvj444p",
                   "nv12", "nv21"})
_TV_TO_PC = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)  # 16..235 -> 0..255
_RANGE_JPEG = 2  # AVCOL_RANGE_JPEG: full-range samples


def _grey(frame: av.VideoFrame, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Full-range 8-bit luma of a decoded frame (of its (x0, y0, x1, y1) `region` only, when given).

    For 8-bit YUV this is the Y plane as decoded (range-expanded when limited),
    which skips the whole-frame colour conversion that costs more than the decode
    itself; it equals swscale's own grey conversion. Other layouts go through swscale.
    """
    name = frame.format.name
    if name not in _YUV8:
        grey = frame.to_ndarray(format="gray")
        return grey if region is None else grey[region[1] : region[3], region[0] : region[2]]
    plane = frame.planes[0]
    luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
    if region is not None:
        luma = luma[region[1] : region[3], region[0] : region[2]]
    if name.startswith("yuvj") or frame.color_range == _RANGE_JPEG:
        return luma.copy()
    import cv2

    return cv2.LUT(luma, _TV_TO_PC)


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    # FFmpeg's display-matrix angle is counter-clockwise.
    k = {90: 1, 180: 2, 270: 3}.get(rotation % 360, 0)
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def iter_frames(
    path: str | os.PathLike,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    start: float = 0.0,
    end: float | None = None,
    grey: bool = False,
    raw: bool = False,
    keep_source: bool = False,
) -> Iterator[Frame]:
    """Yield display-oriented BGR frames one at a time (full-range grey ones with `grey`).

    With `raw` (no `size`), `Frame.image` is the decoded `av.VideoFrame` itself, unconverted and
    not yet rotated (`frame.rotation`): the renderer draws in its YUV planes and hands frames
    without text to the encoder as they are.

    With `fps`, frames are resampled by time (frame k is the source frame on
    screen at start + k/fps), which also evens out variable frame rates;
    without it every decoded frame is yielded with its own timestamp. `size`
    is (width, height) after rotation; scaling happens in swscale, before
    the frame reaches Python. `keep_source`: each Frame also holds its decoded frame (Frame.luma).
    """
    with _open(path) as container:
        if not container.streams.video:
            raise InputError(f"no video track in: {path}")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = _origin(container)
        if start > 0:
            container.seek(int((start + origin) * av.time_base), backward=True, any_frame=False)
        step = 1.0 / fps if fps else None
        src_dt = 1.0 / float(stream.average_rate) if stream.average_rate else 0.04
        out_index = 0
        # In resampling mode the last decoded frame is held (undecoded to BGR until
        # needed) and repeated for every output tick before the next frame's time.
        held: av.VideoFrame | None = None
        held_t = 0.0
        held_image: np.ndarray | None = None

        # One swscale context for the whole decode: frame.reformat makes one per frame, and setting it
        # up cost more than the scaling (1280x720 -> 640x360 BGR: 2.8 -> 1.1 CPU-ms a frame, same pixels).
        sws = av.video.reformatter.VideoReformatter()

        def convert(frame: av.VideoFrame) -> np.ndarray:
            if raw:
                return frame
            rot = int(frame.rotation or 0) % 360
            if size is None:
                return _rotate(_grey(frame) if grey else sws.reformat(frame, format="bgr24").to_ndarray(), rot)
            w, h = (size[1], size[0]) if rot in (90, 270) else size
            return _rotate(sws.reformat(frame, width=w, height=h, format="gray" if grey else "bgr24").to_ndarray(), rot)

        def emit_held(until: float) -> Iterator[Frame]:
            nonlocal out_index, held_image
            while start + out_index * step < until - _EPS:
                if held_image is None:
                    held_image = convert(held)
                yield Frame(out_index, round(start + out_index * step, 6), held_image, held if keep_source else None)
                out_index += 1

        damaged: list[float] = []
        last_t = start

        def decoded() -> Iterator[av.VideoFrame]:
            """Frames in order; a packet that does not decode is skipped and its time noted."""
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    if packet.pts is not None:
                        damaged.append(float(packet.pts * packet.time_base) - origin)
                    continue
                yield from frames

        try:
            for frame in decoded():
                if frame.time is None:
                    continue
                t = last_t = frame.time - origin
                if end is not None and t >= end - _EPS:
                    break
                if step is None:
                    if t >= start - _EPS:
                        yield Frame(out_index, t, convert(frame), frame if keep_source else None)
                        out_index += 1
                    continue
                if held is not None:
                    yield from emit_held(t)
                held, held_t, held_image = frame, t, None
        except av.error.FFmpegError as exc:
            if out_index == 0 and held is None:
                raise InputError(f"corrupt video in {path}: {_reason(exc)}") from None
            damaged.append(last_t)  # unreadable from here on: what was read is kept
        if step is not None and held is not None:
            stop = held_t + src_dt if end is None else min(held_t + src_dt, end)
            yield from emit_held(stop)
        if out_index == 0 and damaged:
            raise InputError(f"corrupt video in {path}: no frame decodes")
        if damaged:
            _damage("video", path, min(damaged), max(damaged) + src_dt)


@dataclass(frozen=True)
class Encoder:
    """An FFmpeg video encoder and its options, e.g. Encoder("libx264", (("crf", "20"), ("preset", "veryfast")))."""

    codec: str
    options: tuple[tuple[str, str], ...] = ()


_PICT_NONE = av.video.frame.PictureType.NONE


@functools.lru_cache(maxsize=16)
def encoder_opens(codec: str, width: int = 256, height: int = 144) -> bool:
    """Whether FFmpeg can open `codec` here (NVENC needs an NVIDIA driver and a free session, not only the build)."""
    if codec not in av.codecs_available:
        return False
    try:
        ctx = av.CodecContext.create(codec, "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = width, height, "yuv420p", Fraction(1, 25)
        ctx.open()
    except (av.error.FFmpegError, ValueError):
        return False
    return True


class VideoWriter:
    """Write H.264/yuv420p MP4 frame by frame, muxing the source's audio alongside.

    The file appears at `path` only when the writer closes without error. Audio
    packets are copied when MP4 can carry the codec, else re-encoded to AAC; they
    are interleaved as video advances so memory stays flat.

    `encoders`, in order of preference, are tried until one opens (h264_nvenc before libx264, say);
    `self.encoder` is the one used. Without them: libx264 with `crf` and `preset`. Frames come as BGR
    arrays (`write`), YUV 4:2:0 arrays (`write_yuv`) or decoded `av.VideoFrame`s (`write_frame`, which
    FFmpeg converts only when the layout differs, in libswscale).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        width: int,
        height: int,
        audio_from: str | os.PathLike | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        encoders: tuple[Encoder, ...] | list[Encoder] = (),
    ) -> None:
        self.path = check_output_path(path, *([audio_from] if audio_from else []))
        self.width, self.height = width - width % 2, height - height % 2
        choices = list(encoders) or [Encoder("libx264", (("crf", str(crf)), ("preset", preset)))]
        # The last choice is used untried: its failure to open is an error worth seeing.
        self.encoder = next((e for e in choices[:-1] if encoder_opens(e.codec, self.width, self.height)), choices[-1])
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self._out = av.open(str(self._tmp), mode="w", format="mp4")
        self.rate = Fraction(fps).limit_denominator(1001)  # 29.97 -> 30000/1001, not a drifting float
        self._video = self._out.add_stream(self.encoder.codec, rate=self.rate)
        self._video.width, self._video.height = self.width, self.height
        self._video.pix_fmt = "yuv420p"
        # The muxer may change the stream's time base when it writes the header; frames
        # are stamped in the codec's own 1/fps units, and packets are rescaled on mux.
        self._tb = 1 / self.rate
        self._video.codec_context.time_base = self._tb
        self._video.codec_context.options = dict(self.encoder.options)
        self._video.thread_type = "AUTO"
        self._frames = 0
        self._audio = _AudioCopier(audio_from, self._out) if audio_from else None
        self._more = [_AudioCopier(audio_from, self._out, k) for k in range(1, _audio_count(audio_from))] \
            if audio_from else []

    def colors_like(self, frame: av.VideoFrame) -> None:
        """Tag the output with the source's colour description (matrix, range, primaries, transfer), when it has one.

        Call before the first frame. Untagged sources stay untagged, as players then guess the same for both.
        """
        ctx = self._video.codec_context
        for name in ("colorspace", "color_primaries", "color_trc"):
            value = int(getattr(frame, name, 2) or 2)
            if value != 2:  # 2: unspecified
                setattr(ctx, name, value)
        if frame.format.name == "yuv420p" and int(frame.color_range or 0):
            ctx.color_range = int(frame.color_range)

    def write(self, image: np.ndarray) -> None:
        """One BGR frame (H x W x 3 uint8; cropped to even size)."""
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = image[: self.height, : self.width]
        self.write_frame(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24"))

    def write_yuv(self, planes: np.ndarray) -> None:
        """One yuv420p frame as (H * 3/2, W) uint8: the Y rows, then U and V (PyAV's yuv420p array layout)."""
        self.write_frame(av.VideoFrame.from_ndarray(planes, format="yuv420p"))

    def write_frame(self, frame: av.VideoFrame) -> None:
        """One picture as it is (a decoded frame may be written again: it is re-stamped each time)."""
        frame.pts = self._frames
        frame.time_base = self._tb
        frame.pict_type = _PICT_NONE  # a decoded frame's I/P/B type would force the encoder's choice
        self._frames += 1
        for packet in self._video.encode(frame):
            self._out.mux(packet)
        for audio in self._copiers():
            audio.mux_until(float(self._frames / self.rate) + 0.5)

    def _copiers(self) -> list[_AudioCopier]:
        return [self._audio, *self._more] if self._audio else []

    def close(self) -> None:
        for packet in self._video.encode(None):
            self._out.mux(packet)
        for audio in self._copiers():
            audio.mux_until(None)
            audio.close()
        self._out.close()
        self._atomic.__exit__(None, None, None)

    def abort(self, exc: BaseException | None = None) -> None:
        for audio in self._copiers():
            audio.close()
        with contextlib.suppress(av.error.FFmpegError):
            self._out.close()
        self._atomic.__exit__(type(exc) if exc else RuntimeError, exc, None)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc or exc_type())


def _audio_count(path: str | os.PathLike) -> int:
    with _open(path) as container:
        return len(container.streams.audio)


# The layout FFmpeg names for N channels in no stated order (a WAV without a channel mask: "1 channels"),
# which the AAC encoder refuses; more channels than these are mixed down to stereo.
_NAMED_LAYOUT = {1: "mono", 2: "stereo", 3: "3.0", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def _aac_layout(layout: av.AudioLayout | None) -> str:
    """The AAC stream's layout for a source layout: its own when its channels are named, else by count."""
    if layout is None or not layout.nb_channels:
        return "stereo"
    if any(c.name == "NONE" for c in layout.channels):
        return _NAMED_LAYOUT.get(layout.nb_channels, "stereo")
    return layout.name


class _AudioCopier:
    """Moves one audio stream of a source file into an output container, by time.

    The writer makes one per source audio stream, in the source's order, so a
    file with a commentary or a second language keeps it; each keeps its
    language, title and default/commentary flags.
    """

    def __init__(self, source: str | os.PathLike, out: av.container.OutputContainer, index: int = 0) -> None:
        self._src = _open(source)
        if len(self._src.streams.audio) <= index:
            self._src.close()
            self._src = None
            return
        origin = _origin(self._src)
        self._in = self._src.streams.audio[index]
        self._copy = self._in.codec_context.name in _MP4_AUDIO
        if self._copy:
            self._stream = out.add_stream_from_template(self._in)
            self._shift = round(origin / self._in.time_base)
        else:
            rate = self._in.codec_context.sample_rate or 48000
            if rate not in av.codec.Codec("aac", "w").audio_rates:
                rate = 48000  # the resampler converts; AAC has a fixed set of rates
            self._stream = out.add_stream("aac", rate=rate)
            self._stream.layout = _aac_layout(self._in.codec_context.layout)
            self._resampler = av.AudioResampler(format="fltp", layout=self._stream.layout, rate=rate)
            self._origin = origin
            self._samples = None
        for key in ("language", "title"):
            if self._in.metadata.get(key):
                self._stream.metadata[key] = self._in.metadata[key]
        with contextlib.suppress(AttributeError, TypeError, ValueError):
            self._stream.disposition = self._in.disposition
        self._packets = self._src.demux(self._in)
        self._done = False

    def mux_until(self, until: float | None) -> None:
        if self._src is None or self._done:
            return
        out = self._stream.container
        for packet in self._packets:
            if packet.dts is None and packet.size == 0:
                continue  # demuxer's flush packet
            if self._copy:
                packet.stream = self._stream
                if packet.pts is not None:
                    packet.pts -= self._shift
                if packet.dts is not None:
                    packet.dts -= self._shift
                if packet.pts is not None and packet.pts < 0:
                    continue
                out.mux(packet)
            else:
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue  # a damaged packet: iter_audio reports it
                for frame in frames:
                    self._encode(frame, out)
            if until is not None and packet.pts is not None and float(packet.pts * packet.time_base) > until:
                return
        if not self._copy:
            self._encode(None, out)
        self._done = True

    def _encode(self, frame, out) -> None:
        if frame is not None and self._samples is None and frame.time is not None:
            self._samples = max(0, round((frame.time - self._origin) * self._stream.rate))
        for res in self._resampler.resample(frame):
            res.pts = self._samples or 0
            res.time_base = Fraction(1, self._stream.rate)
            self._samples = (self._samples or 0) + res.samples
            for packet in self._stream.encode(res):
                out.mux(packet)
        if frame is None:
            for packet in self._stream.encode(None):
                out.mux(packet)

    def close(self) -> None:
        if self._src is not None:
            self._src.close()
            self._src = None
