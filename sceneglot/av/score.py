"""Scoring a scene against the shared truth format (`../shared/eval/README.md`, `scenes/*.json`).

Truth: `turns` of `{start, end, speaker, on_screen}`, each on-screen entry a
person label, a pixel `box` and `speaking`. Labels are arbitrary, so predicted
persons are mapped to truth persons by optimal matching of face positions and
predicted speakers to truth speakers by optimal matching of speech time (both
one to one). Everything is counted on the 25-fps grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..scene import Scene, Segment

FPS = 25


@dataclass
class Score:
    right_face: float  # share of truth speech frames under a phrase with the right `person` (None: off screen)
    speaker: float  # share of truth speech frames under a phrase whose speaker maps to the truth speaker
    asd_raw: float | None  # frame accuracy of the network's score (> 0 <=> speaking) on visible faces
    asd_fused: float | None  # the same for tracks[].speaking (after fusion)
    voice_over: float | None  # share of off-screen speech frames whose phrase has no person (None: no such speech)
    people_found: int  # persons in the scene
    people_present: int  # persons seen on screen in the truth
    spanning: int  # phrases whose words belong to more than one truth speaker
    phrases: int
    covered: float  # share of truth speech frames under some phrase


def turn_at(truth: dict, t: float) -> dict | None:
    return next((u for u in truth["turns"] if u["start"] <= t < u["end"]), None)


def truth_face(truth: dict, t: float, box: list[float]) -> dict | None:
    """The truth on-screen entry whose box holds the centre of `box` at time t."""
    turn = turn_at(truth, t)
    if turn is None:
        return None
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return next((o for o in turn["on_screen"]
                 if o["box"][0] <= cx < o["box"][2] and o["box"][1] <= cy < o["box"][3]), None)


def _match(counts: dict[tuple[str, str], int]) -> dict[str, str]:
    preds = sorted({a for a, _ in counts})
    labels = sorted({b for _, b in counts})
    m = np.zeros((len(preds), len(labels)))
    for (a, b), n in counts.items():
        m[preds.index(a), labels.index(b)] = n
    rows, cols = linear_sum_assignment(-m) if m.size else ([], [])
    return {preds[i]: labels[j] for i, j in zip(rows, cols, strict=True) if m[i, j] > 0}


def person_map(scene: Scene, truth: dict) -> dict[str, str]:
    """Predicted person -> truth label: one to one, maximising frames where a face sits in that label's box."""
    counts: dict[tuple[str, str], int] = {}
    for tr in scene.tracks:
        if tr.person is None:
            continue
        for row in tr.boxes:
            who = truth_face(truth, row[0], row[1:])
            if who:
                key = (tr.person, who["person"])
                counts[key] = counts.get(key, 0) + 1
    return _match(counts)


def _phrase_at(segments: list[Segment], t: float) -> Segment | None:
    return next((s for s in segments if s.start <= t < s.end), None)


def speaker_map(scene: Scene, truth: dict) -> dict[str, str]:
    """Predicted speaker -> truth speaker: one to one, maximising shared speech frames."""
    counts: dict[tuple[str, str], int] = {}
    for k in range(round(truth_end(truth) * FPS)):
        t = k / FPS
        turn, seg = turn_at(truth, t), _phrase_at(scene.segments, t)
        if turn is not None and seg is not None and seg.speaker is not None:
            key = (seg.speaker, turn["speaker"])
            counts[key] = counts.get(key, 0) + 1
    return _match(counts)


def truth_end(truth: dict) -> float:
    return float(truth.get("duration") or max(u["end"] for u in truth["turns"]))


def asd_accuracy(scene: Scene, truth: dict, field: str = "speaking") -> float | None:
    """Frame accuracy of per-track scores (`speaking` or `asd`) on faces inside a truth box."""
    good = n = 0
    for tr in scene.tracks:
        boxes = {round(r[0] * FPS): r[1:] for r in tr.boxes}
        for t, s in getattr(tr, field) or []:
            box = boxes.get(round(t * FPS))
            who = truth_face(truth, t, box) if box else None
            if who is not None:
                n += 1
                good += (s > 0) == who["speaking"]
    return good / n if n else None


def word_speaker(truth: dict, start: float, end: float) -> str | None:
    """The truth speaker of a word: the turn holding more than half of it (its midpoint for a zero-length
    word). None when no turn does: a word that straddles an edit point exactly is nobody's for certain."""
    if end - start <= 1e-6:
        turn = turn_at(truth, start)
        return turn["speaker"] if turn else None
    for u in truth["turns"]:
        if min(end, u["end"]) - max(start, u["start"]) > (end - start) / 2 + 1e-9:
            return u["speaker"]
    return None


def spanning_phrases(scene: Scene, truth: dict) -> int:
    """Phrases whose words belong to more than one truth speaker."""
    count = 0
    for seg in scene.segments:
        words = seg.words or [seg]
        heard = {who for w in words if (who := word_speaker(truth, w.start, w.end))}
        count += len(heard) > 1
    return count


def score(scene: Scene, truth: dict) -> Score:
    persons, speakers = person_map(scene, truth), speaker_map(scene, truth)
    right = spoken = covered = total = vo_good = vo_n = 0
    for k in range(round(truth_end(truth) * FPS)):
        t = k / FPS
        turn = turn_at(truth, t)
        if turn is None:
            continue
        total += 1
        seg = _phrase_at(scene.segments, t)
        if seg is None:
            continue
        covered += 1
        speaking = {o["person"] for o in turn["on_screen"] if o["speaking"]}
        want = turn["speaker"] if turn["speaker"] in speaking else None
        got = persons.get(seg.person) if seg.person else None
        right += got == want
        spoken += seg.speaker is not None and speakers.get(seg.speaker) == turn["speaker"]
        if not speaking:
            vo_n += 1
            vo_good += seg.person is None
    present = {o["person"] for u in truth["turns"] for o in u["on_screen"]}
    return Score(
        right_face=right / max(covered, 1), speaker=spoken / max(covered, 1),
        asd_raw=asd_accuracy(scene, truth, "asd"), asd_fused=asd_accuracy(scene, truth, "speaking"),
        voice_over=vo_good / vo_n if vo_n else None,
        people_found=len([p for p in scene.persons if p.tracks]), people_present=len(present),
        spanning=spanning_phrases(scene, truth), phrases=len(scene.segments), covered=covered / max(total, 1))
