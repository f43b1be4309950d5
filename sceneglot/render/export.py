"""Text exports of a scene: SRT and WebVTT subtitles, RTTM speaker turns.

The subtitle files are written from the layout's cues (`layout.make_cues`),
the same lines and times the burn-in and the ASS file show: one set of line
breaking and timing rules for every writer. Pure functions return strings
(easy to test and to serve from the web app); `save_*` helpers write them
atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ..files import write_text_atomic
from ..scene import Scene
from .layout import Cue, make_cues, speaker_label


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


def _cues(source: Scene | Iterable[Cue], use_translation: bool) -> list[tuple[Cue, list[str]]]:
    """(cue, its lines) in time order; the translation falls back to the source where a cue has none."""
    cues = make_cues(source) if isinstance(source, Scene) else list(source)
    out = []
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        lines = cue.target_lines if use_translation and cue.target_lines else cue.lines
        lines = [" ".join(s.split()) for s in lines]  # a cue never carries stray newlines or blank lines
        if any(lines):
            out.append((cue, [s for s in lines if s]))
    return out


def _timing(cue: Cue, sep: str) -> str:
    return f"{_clock(cue.start, sep)} --> {_clock(cue.end, sep)}"


def to_srt(source: Scene | Iterable[Cue], use_translation: bool = False, label_speakers: bool = True) -> str:
    """SubRip: numbered cues, comma milliseconds; speaker as a "S0: " prefix (the layout keeps room for it)."""
    blocks = []
    for i, (cue, lines) in enumerate(_cues(source, use_translation), 1):
        if label_speakers:
            lines = [speaker_label(cue.name or cue.speaker) + lines[0], *lines[1:]]  # the person's name if set
        body = "\n".join(lines)
        blocks.append(f"{i}\n{_timing(cue, ',')}\n{body}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(source: Scene | Iterable[Cue], use_translation: bool = False, label_speakers: bool = True) -> str:
    """WebVTT: the speaker's name (else id) in a <v> voice span, which players can style per speaker.

    The voice is not drawn as text, so a name of any length costs no line width.
    """
    blocks = ["WEBVTT\n"]
    for cue, lines in _cues(source, use_translation):
        body = "\n".join(_vtt_escape(s) for s in lines)
        if label_speakers and cue.speaker:
            body = f"<v {_vtt_escape(cue.name or cue.speaker)}>{body}"
        blocks.append(f"{_timing(cue, '.')}\n{body}\n")
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


def save_srt(path: str | os.PathLike, source: Scene | Iterable[Cue], **kw) -> Path:
    return write_text_atomic(path, to_srt(source, **kw))


def save_vtt(path: str | os.PathLike, source: Scene | Iterable[Cue], **kw) -> Path:
    return write_text_atomic(path, to_vtt(source, **kw))


def save_rttm(path: str | os.PathLike, turns: Iterable[Turn], uri: str) -> Path:
    return write_text_atomic(path, to_rttm(turns, uri))
