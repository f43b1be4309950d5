"""transcribe_scene: media file -> Scene with words, speakers and phrases (no vision)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict

from .. import media
from ..scene import Scene, Segment, Speaker, Word
from . import asr, phrases
from .diarize import SpeakerTurn, diarize, exclusive


def _enc_segments(segs: list[Segment]) -> list[dict]:
    return [asdict(s) for s in segs]


def _dec_segments(data: list[dict]) -> list[Segment]:
    return [Segment(**{**d, "words": [Word(**w) for w in d["words"]]}) for d in data]


def transcribe_scene(
    path: str | os.PathLike, *, language: str | None = None, num_speakers: int | None = None,
    min_speakers: int | None = None, max_speakers: int | None = None, artifacts=None,
) -> Scene:
    """Scene with media, segments (words + speakers S0, S1, ...), speakers and source_language.

    Audio without speech (silence, noise, no audio track) gives a valid scene with no segments.
    """
    return transcribe_with_turns(path, language=language, num_speakers=num_speakers, min_speakers=min_speakers,
                                 max_speakers=max_speakers, artifacts=artifacts)[0]


def transcribe_with_turns(
    path: str | os.PathLike, *, language: str | None = None, num_speakers: int | None = None,
    min_speakers: int | None = None, max_speakers: int | None = None, artifacts=None,
    asr_options: asr.AsrOptions | None = None, progress=None,
) -> tuple[Scene, list[SpeakerTurn]]:
    """transcribe_scene plus the diarization turns (for RTTM export)."""
    info = media.probe(path)
    scene = Scene(media=info)
    if not info.has_audio:
        return scene, []
    audio = media.read_audio(path)
    if language in ("auto", ""):
        language = None
    opts = asr_options or asr.AsrOptions()

    def run_asr() -> list[Segment]:
        return asr.transcribe(audio, language=language, options=opts, progress=progress)

    def run_diarize() -> list[SpeakerTurn]:
        return diarize(audio, num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers)

    if artifacts is not None:
        segments = artifacts.cached("asr", {"language": language, **asdict(opts)}, run_asr,
                                    _enc_segments, _dec_segments)
        turns = artifacts.cached(
            "diarization", {"num": num_speakers, "min": min_speakers, "max": max_speakers, "method": "segmentation"},
            run_diarize,
            lambda ts: [asdict(t) for t in ts], lambda data: [SpeakerTurn(**d) for d in data])
    else:
        segments, turns = run_asr(), run_diarize()
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


__all__ = ["transcribe_scene", "transcribe_with_turns"]
