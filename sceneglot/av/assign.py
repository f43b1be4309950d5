"""Who is whom: diarized speakers -> on-screen persons, and each phrase -> the face seen saying it.

Evidence is counted on the 25-fps grid. For speaker S and person P it is the
share of S's speech time during which P's face is seen speaking (Light-ASD
probability); where a face has no ASD scores, the share of S's speech time
during which P is merely on screen counts instead, at a discount. Speakers and
persons are then matched one to one (Hungarian), and a speaker with too little
evidence for anyone stays off screen (voice-over, reverse shots).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..scene import Scene, Segment, Track
from .features import FPS

COOCCURRENCE_WEIGHT = 0.5  # a face merely on screen is weaker evidence than a face seen speaking
MIN_EVIDENCE = 0.2  # below this share of a speaker's time, the speaker is treated as off screen
MIN_VISIBLE = 0.25  # a phrase is attached to a face on screen for at least this share of it
MIN_SPEAKING = 0.3  # ... whose mean speaking probability there is at least this


@dataclass
class Match:
    speaker: str
    person: str | None
    confidence: float  # evidence for the chosen person, 0..1 (share of the speaker's time seen speaking)


def _frames(start: float, end: float) -> range:
    return range(int(np.ceil(start * FPS - 1e-6)), int(np.floor(end * FPS + 1e-6)) + 1)


def _prob(score: float) -> float:
    return float(1.0 / (1.0 + np.exp(-score)))


def face_evidence(tracks: list[Track]) -> dict[str, dict[int, float]]:
    """Per person, per 25-fps frame: speaking probability (ASD), or -1 when only presence is known."""
    out: dict[str, dict[int, float]] = defaultdict(dict)
    for tr in tracks:
        if tr.person is None:
            continue
        seen = out[tr.person]
        if tr.speaking:
            for t, score in tr.speaking:
                k = round(t * FPS)
                seen[k] = max(seen.get(k, 0.0), _prob(score))
        else:
            for row in tr.boxes:
                seen.setdefault(round(row[0] * FPS), -1.0)
    return dict(out)


def speech_frames(segments: list[Segment]) -> dict[str, set[int]]:
    """25-fps frames in which each diarized speaker is talking (their phrases' spans)."""
    out: dict[str, set[int]] = defaultdict(set)
    for seg in segments:
        if seg.speaker is not None:
            out[seg.speaker].update(_frames(seg.start, seg.end))
    return dict(out)


def _support(frames: set[int] | list[int], seen: dict[int, float]) -> float:
    """Share of `frames` in which the face is seen speaking (co-occurrence, discounted, where no ASD)."""
    if not frames:
        return 0.0
    total = 0.0
    for k in frames:
        p = seen.get(k)
        if p is None:
            continue
        total += COOCCURRENCE_WEIGHT if p < 0 else p
    return total / len(frames)


def evidence_matrix(segments: list[Segment], tracks: list[Track]) -> tuple[list[str], list[str], np.ndarray]:
    """(speakers, persons, E) with E[i, j] = support of speaker i's speech time for person j."""
    talk = speech_frames(segments)
    faces = face_evidence(tracks)
    speakers, persons = sorted(talk), sorted(faces)
    e = np.zeros((len(speakers), len(persons)))
    for i, s in enumerate(speakers):
        for j, p in enumerate(persons):
            e[i, j] = _support(talk[s], faces[p])
    return speakers, persons, e


def match_speakers(segments: list[Segment], tracks: list[Track], min_evidence: float = MIN_EVIDENCE) -> list[Match]:
    """One-to-one speaker -> person matching maximising total evidence; weak pairs stay unmatched."""
    speakers, persons, e = evidence_matrix(segments, tracks)
    chosen: dict[str, tuple[str, float]] = {}
    if e.size:
        rows, cols = linear_sum_assignment(-e)
        for i, j in zip(rows, cols, strict=True):
            if e[i, j] >= min_evidence:
                chosen[speakers[i]] = (persons[j], float(e[i, j]))
    out = []
    for i, s in enumerate(speakers):
        if s in chosen:
            out.append(Match(s, chosen[s][0], round(chosen[s][1], 3)))
        else:  # confidence that the speaker is off screen: 1 - best evidence for anyone
            best = float(e[i].max()) if e.shape[1] else 0.0
            out.append(Match(s, None, round(1.0 - best, 3)))
    return out


def phrase_person(seg: Segment, person: str | None, faces: dict[str, dict[int, float]]) -> tuple[str | None, float]:
    """The speaker's face if it is on screen and seen speaking during the phrase, else None; with a confidence."""
    frames = list(_frames(seg.start, seg.end))
    if person is None or not frames:
        return None, 0.0
    seen = faces.get(person, {})
    values = [seen[k] for k in frames if k in seen]
    visible = len(values) / len(frames)
    if visible < MIN_VISIBLE:
        return None, round(1.0 - visible, 3)
    probs = [COOCCURRENCE_WEIGHT if v < 0 else v for v in values]
    speaking = float(np.mean(probs))
    if speaking < MIN_SPEAKING:
        return None, round(1.0 - speaking, 3)
    return person, round(visible * speaking, 3)


def fuse_speaking(tracks: list[Track], segments: list[Segment], matches: list[Match]) -> None:
    """Turn a face's score negative while a voice that belongs to another on-screen person is heard.

    Light-ASD alone is fooled by lips that move to someone else's voice; once
    voices are tied to faces over the whole video, hearing S (matched to Q)
    is evidence that P != Q is not the one talking. Frames with no voice, or
    only unmatched voices, keep the network's score.
    """
    owner = {m.speaker: m.person for m in matches}
    voices: dict[int, set[str | None]] = defaultdict(set)
    for seg in segments:
        if seg.speaker is not None:
            for k in _frames(seg.start, seg.end):
                voices[round(k)].add(owner.get(seg.speaker))
    for tr in tracks:
        if tr.person is None:
            continue
        for row in tr.speaking:
            heard = voices.get(round(row[0] * FPS))
            if heard and None not in heard and tr.person not in heard:
                row[1] = -abs(row[1])


def assign(scene: Scene) -> list[Match]:
    """Fill speakers[].person/confidence, segments[].person/person_confidence and fuse tracks[].speaking."""
    matches = match_speakers(scene.segments, scene.tracks)
    by_speaker = {m.speaker: m for m in matches}
    for sp in scene.speakers:
        m = by_speaker.get(sp.id)
        sp.person, sp.confidence = (m.person, m.confidence) if m else (None, None)
    faces = face_evidence(scene.tracks)
    for seg in scene.segments:
        m = by_speaker.get(seg.speaker) if seg.speaker else None
        seg.person, seg.person_confidence = phrase_person(seg, m.person if m else None, faces)
    fuse_speaking(scene.tracks, scene.segments, matches)
    return matches
