"""A scene.json edited by hand, made consistent before it is rendered again.

What a person may change: a phrase's text or translation, a speaker's name, a
phrase's speaker or person, a speaker's person. Words keep the timing cue cuts
snap to, so changed text gets new words spread over its phrase; a speaker moved
to another face takes its phrases along; a face's speaking score is fused again
from the network's own score (`tracks[].asd`) with the voices now tied to faces.
"""

from __future__ import annotations

from .scene import Scene, Segment, Word


def _squash(text: str) -> str:
    return "".join(text.split())


def stale(seg: Segment) -> bool:
    """The phrase's words no longer spell its text."""
    return _squash("".join(w.text for w in seg.words)) != _squash(seg.text)


def retime(seg: Segment) -> None:
    """Words for the phrase's current text: same count keeps each word's time, else spread by length."""
    tokens = seg.text.split()
    if not tokens:
        seg.words = []
        return
    lead = " " if seg.words and seg.words[0].text.startswith(" ") else ""
    if len(tokens) == len(seg.words):
        for w, tok in zip(seg.words, tokens, strict=True):
            w.text = lead + tok
        return
    weights = [len(t) + 1 for t in tokens]  # speech time grows roughly with the letters said
    span, total = seg.end - seg.start, sum(weights)
    words, at = [], 0
    for tok, weight in zip(tokens, weights, strict=True):
        start = seg.start + span * at / total
        at += weight
        end = seg.start + span * (at - 1) / total  # a letter's worth of gap before the next word
        words.append(Word(round(start, 3), round(max(start, end), 3), lead + tok, 1.0, seg.speaker))
    seg.words = words


def apply(scene: Scene, analysed: Scene | None = None) -> list[str]:
    """Make an edited scene consistent in place; returns what was changed, one line each.

    `analysed`: the scene as analysis produced it (the job's cache), to tell which
    speaker was moved to another person.
    """
    changes: list[str] = []
    for seg in scene.segments:
        if stale(seg):
            retime(seg)
            changes.append(f"segment {seg.id}: words re-timed to the edited text")
        for w in seg.words:
            w.speaker = seg.speaker
    before = {s.id: s.person for s in analysed.speakers} if analysed else {}
    moved = {s.id: s.person for s in scene.speakers if s.id in before and s.person != before[s.id]}
    if analysed:
        old_seg = {s.id: s for s in analysed.segments}
        for seg in scene.segments:
            was = old_seg.get(seg.id)
            if seg.speaker in moved and was is not None and seg.person == was.person:  # not moved by itself
                seg.person = moved[seg.speaker]
                changes.append(f"segment {seg.id}: follows speaker {seg.speaker} to person {seg.person}")
    if moved or _persons_changed(scene, analysed):
        refuse(scene)
    return changes


def _persons_changed(scene: Scene, analysed: Scene | None) -> bool:
    if analysed is None:
        return False
    old = {s.id: (s.speaker, s.person) for s in analysed.segments}
    return any(old.get(s.id, (s.speaker, s.person)) != (s.speaker, s.person) for s in scene.segments)


def refuse(scene: Scene) -> None:
    """tracks[].speaking again from tracks[].asd and the phrases' persons now in the scene."""
    from .av.attribute import fuse_phrases

    if not any(t.asd for t in scene.tracks):
        return  # a scene from an older version: only the fused score was kept
    fuse_phrases(scene.tracks, scene.segments)
