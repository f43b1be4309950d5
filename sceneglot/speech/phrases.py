"""Words -> speakers -> readable phrases.

Each word takes the speaker whose turn covers most of it (where turns overlap,
the larger share wins, ties keep the previous word's speaker); Whisper's
segments are then dissolved and words are re-joined into phrases that break at
every speaker change (word level), language changes, long pauses and sentence
ends, so a subtitle never mixes two voices.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..scene import Segment, Word
from .asr import join_words

if TYPE_CHECKING:
    from .turns import SpeakerTurn

SENTENCE_END = (".", "?", "!", "…", "。", "？", "！")


@dataclass
class PhraseRules:
    max_pause: float = 1.0  # a longer silence always starts a new phrase
    sentence_pause: float = 0.2  # after ".?!" a pause this long starts a new phrase
    max_duration: float = 7.0  # split longer phrases at the widest pause
    min_sentence_words: int = 3  # shorter "sentences" ("Yes.") stay with what follows if no pause


def attribute(words: list[Word], turns: list[SpeakerTurn]) -> None:
    """Set `word.speaker` in place from diarization turns (overlap-aware, continuity on ties); a word no
    turn overlaps takes the nearest turn's speaker. Each word weighs only the turns it can overlap, found by
    bisection: a scan of every turn per word made a long input's words quadratic in its turns."""
    order = sorted(range(len(turns)), key=lambda i: turns[i].start)
    starts = [turns[i].start for i in order]
    reach = list(itertools.accumulate((turns[i].end for i in order), max))  # the latest end up to each turn
    prev: str | None = None
    for w in words:
        share: dict[str, float] = {}
        # turns in their given order, as the ties' first pick depends on it
        for i in sorted(order[bisect.bisect_right(reach, w.start):bisect.bisect_left(starts, w.end)]):
            ov = min(w.end, turns[i].end) - max(w.start, turns[i].start)
            if ov > 0:
                share[turns[i].speaker] = share.get(turns[i].speaker, 0.0) + ov
        if share:
            best = max(share.values())
            tied = [s for s, v in share.items() if v >= best - 1e-3]
            w.speaker = prev if prev in tied else tied[0]
        elif turns:
            mid = (w.start + w.end) / 2
            w.speaker = min(turns, key=lambda t: max(t.start - mid, mid - t.end)).speaker
        prev = w.speaker


def rejoin(segments: list[Segment], rules: PhraseRules | None = None,
           same: Callable[[Word, Word], bool] | None = None) -> list[Segment]:
    """New segments (ids from 0), one speaker and one language each, cut at readable places.

    `same(previous_word, word)`, when given, must also hold for two neighbouring words to share
    a phrase (the audio-visual stage uses it so that no phrase spans two faces).
    """
    rules = rules or PhraseRules()
    tagged = [(w, s.language) for s in segments for w in s.words]
    tagged.sort(key=lambda x: x[0].start)
    groups: list[list[tuple[Word, str | None]]] = []
    for w, lang in tagged:
        if groups and not _breaks(groups[-1], w, lang, rules) and (same is None or same(groups[-1][-1][0], w)):
            groups[-1].append((w, lang))
        else:
            groups.append([(w, lang)])
    out: list[Segment] = []
    for g in groups:
        for part in _split_long(g, rules.max_duration):
            words = [w for w, _ in part]
            lang = part[0][1]
            out.append(Segment(id=len(out), start=words[0].start, end=max(w.end for w in words),
                               text=join_words(words, lang), speaker=words[0].speaker, language=lang, words=words))
    return out


def _breaks(group: list[tuple[Word, str | None]], w: Word, lang: str | None, rules: PhraseRules) -> bool:
    last, last_lang = group[-1]
    pause = w.start - last.end
    if w.speaker != last.speaker or lang != last_lang or pause > rules.max_pause:
        return True
    return (last.text.endswith(SENTENCE_END) and len(group) >= rules.min_sentence_words
            and pause >= rules.sentence_pause)


def _split_long(group: list, max_duration: float) -> list[list]:
    words = [w for w, _ in group]
    if len(words) < 4 or words[-1].end - words[0].start <= max_duration:
        return [group]
    # Prefer a sentence end or comma, then the widest pause, away from the edges.
    def score(i: int) -> float:
        gap = words[i].start - words[i - 1].end
        punct = 0.5 if words[i - 1].text.endswith(SENTENCE_END) else 0.25 if words[i - 1].text.endswith(",") else 0.0
        return gap + punct
    cut = max(range(2, len(words) - 1), key=score)
    return _split_long(group[:cut], max_duration) + _split_long(group[cut:], max_duration)
