"""Text exports of a scene: SRT and WebVTT subtitles, RTTM speaker turns.

Pure functions return strings (easy to test and to serve from the web app);
`save_*` helpers write them atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ..files import write_text_atomic
from ..scene import Segment


class Turn(Protocol):
    start: float
    end: float
    speaker: str


def _clock(t: float, sep: str) -> str:
    ms = max(0, round(t * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _text(seg: Segment, use_translation: bool) -> str:
    text = seg.translation if use_translation and seg.translation else seg.text
    return " ".join(text.split())  # a cue line never carries stray newlines or blank lines


def _cues(segments: Iterable[Segment], use_translation: bool) -> list[tuple[Segment, str]]:
    out = [(s, _text(s, use_translation)) for s in sorted(segments, key=lambda s: (s.start, s.end))]
    return [(s, t) for s, t in out if t]


def _timing(seg: Segment, sep: str) -> str:
    """The "start --> end" line; a zero-length cue is stretched to 1 ms so players keep it."""
    return f"{_clock(seg.start, sep)} --> {_clock(max(seg.end, seg.start + 0.001), sep)}"


def to_srt(segments: Iterable[Segment], use_translation: bool = False, label_speakers: bool = True) -> str:
    """SubRip: numbered cues, comma milliseconds; speaker as a "S0: " prefix."""
    blocks = []
    for i, (seg, text) in enumerate(_cues(segments, use_translation), 1):
        if label_speakers and seg.speaker:
            text = f"{seg.speaker}: {text}"
        blocks.append(f"{i}\n{_timing(seg, ',')}\n{text}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(segments: Iterable[Segment], use_translation: bool = False, label_speakers: bool = True) -> str:
    """WebVTT: speaker in a <v> voice span, which players can style per speaker."""
    blocks = ["WEBVTT\n"]
    for seg, text in _cues(segments, use_translation):
        body = _vtt_escape(text)
        if label_speakers and seg.speaker:
            body = f"<v {_vtt_escape(seg.speaker)}>{body}"
        blocks.append(f"{_timing(seg, '.')}\n{body}\n")
    return "\n".join(blocks)


def to_rttm(turns: Iterable[Turn], uri: str) -> str:
    """NIST RTTM SPEAKER lines (channel 1); spaces in the URI would break the format, so they become '_'."""
    uri = "_".join(str(uri).split()) or "audio"
    lines = [
        f"SPEAKER {uri} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>"
        for t in sorted(turns, key=lambda t: (t.start, t.end))
        if t.end > t.start
    ]
    return "".join(line + "\n" for line in lines)


def save_srt(path: str | os.PathLike, segments: Iterable[Segment], **kw) -> Path:
    return write_text_atomic(path, to_srt(segments, **kw))


def save_vtt(path: str | os.PathLike, segments: Iterable[Segment], **kw) -> Path:
    return write_text_atomic(path, to_vtt(segments, **kw))


def save_rttm(path: str | os.PathLike, turns: Iterable[Turn], uri: str) -> Path:
    return write_text_atomic(path, to_rttm(turns, uri))
