"""The records diarization hands on (speaker turns, the CAM++ frame features it kept), and the
one-speaker-per-instant view of turns.

Apart from speech/diarize.py so that the stages that only read turns (assembling a scene from
cached ASR and diarization, metrics, phrases) never load the diarization models' runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SpeakerTurn:
    start: float
    end: float
    speaker: str


def exclusive(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    """One speaker per instant, from overlap-aware turns: where turns overlap, the one that began
    first holds the floor until it ends (a back-channel inside it gives way; at a hand-over the
    newcomer starts where the previous speaker stops). Used to give words their speaker."""
    out: list[SpeakerTurn] = []
    for t in sorted(turns, key=lambda t: (t.start, -t.end)):
        start = max(t.start, out[-1].end) if out else t.start
        if t.end - start <= 1e-6:
            continue
        if out and out[-1].speaker == t.speaker and start - out[-1].end <= 1e-6:
            out[-1] = SpeakerTurn(out[-1].start, t.end, t.speaker)
        else:
            out.append(SpeakerTurn(round(start, 3), t.end, t.speaker))
    return out


@dataclass
class VoiceFrames:
    """The CAM++ frame-level features of the soundtrack as diarization computed them, kept so that a
    later stage (the audio-visual attribution) pools embeddings of its own spans from them instead of
    running CAM++ over the audio a second time."""

    times: np.ndarray  # (n,) s: each frame's centre
    features: np.ndarray  # (n, 512) float16: half the memory of float32
