"""The speech stages in order: media file -> Scene with words, speakers and phrases (no vision).

`transcribe_with_turns` runs ASR and diarization on one decoded soundtrack and joins
them (`assemble`). The job pipeline (sceneglot/pipeline.py) calls the same pieces
with each stage's result cached in the job folder.
"""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from .. import media
from ..scene import MediaInfo, Scene, Segment, Speaker
from . import asr, phrases
from .turns import SpeakerTurn, exclusive


def transcribe_scene(
    path: str | os.PathLike, *, language: str | None = None, num_speakers: int | None = None,
    min_speakers: int | None = None, max_speakers: int | None = None,
) -> Scene:
    """Scene with media, segments (words + speakers S0, S1, ...), speakers and source_language.

    Audio without speech (silence, noise, no audio track) gives a valid scene with no segments.
    """
    return transcribe_with_turns(path, language=language, num_speakers=num_speakers, min_speakers=min_speakers,
                                 max_speakers=max_speakers)[0]


def transcribe_with_turns(
    path: str | os.PathLike, *, language: str | None = None, num_speakers: int | None = None,
    min_speakers: int | None = None, max_speakers: int | None = None,
    asr_options: asr.AsrOptions | None = None, progress=None,
    info: MediaInfo | None = None, audio: np.ndarray | None = None,
) -> tuple[Scene, list[SpeakerTurn]]:
    """transcribe_scene plus the diarization turns (for RTTM export).

    `info` and `audio` (16 kHz mono float32): the probe and soundtrack when the caller has them.
    """
    info = info or media.probe(path)
    if not info.has_audio:
        return Scene(media=info), []
    audio = media.read_audio(path) if audio is None else audio
    language = None if language in ("auto", "") else language
    segments = asr.transcribe(audio, language=language, options=asr_options or asr.AsrOptions(), progress=progress)
    from .diarize import diarize  # its models' runtime only where diarization runs

    turns = diarize(audio, num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers)
    return assemble(info, segments, turns, language)


def assemble(info: MediaInfo, segments: list[Segment], turns: list[SpeakerTurn],
             language: str | None = None) -> tuple[Scene, list[SpeakerTurn]]:
    """Words get the speaker active at their time; segments are cut at speaker changes and re-joined.

    Returns the scene and the turns actually used (one voice when diarization found none).
    """
    scene = Scene(media=info)
    words = [w for s in segments for w in s.words]
    if words and not turns:  # speech too short or too quiet for diarization: one voice
        turns = [SpeakerTurn(words[0].start, words[-1].end, "S0")]
    phrases.attribute(words, exclusive(turns))  # one speaker per instant: overlap never splits a word
    scene.segments = phrases.rejoin(segments)
    ids = sorted({t.speaker for t in turns}, key=lambda s: int(s[1:]))
    scene.speakers = [Speaker(id=s) for s in ids]
    spoken: Counter[str] = Counter()
    for s in scene.segments:
        if s.language:
            spoken[s.language] += s.end - s.start
    scene.source_language = spoken.most_common(1)[0][0] if spoken else language
    return scene, turns


__all__ = ["assemble", "transcribe_scene", "transcribe_with_turns"]
