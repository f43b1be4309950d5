"""Subtitle cuts are not sentence ends: join a speaker's segments into sentences, split translations back.

ASR cuts speech into segments by pauses and length, so "I didn't know | you
were there." would otherwise be translated as two fragments with broken
grammar. We join consecutive segments of one speaker (and language) until a
sentence-final mark or a long pause, translate the whole, then cut the
translation at word boundaries in proportion to each segment's share of the
source text, preferring cuts right after punctuation.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..scene import Segment
from .base import norm_lang

_FINAL = re.compile(r"""[.!?…。！？]["'”’)\]»]*$""")
_PUNCT_END = re.compile(r"""[,;:.!?…、，。！？]["'”’)\]»]*$""")
# Scripts written without spaces between words: split by characters there.
_NO_SPACES = {"zh", "ja", "th", "lo", "km", "my", "bo"}
MAX_GAP = 1.5  # seconds of silence after which a sentence is taken as ended even without a full stop


@dataclass(frozen=True)
class Sentence:
    """Consecutive segments (by index into the scene's segment list) read as one sentence."""

    indices: tuple[int, ...]
    parts: tuple[str, ...]  # each segment's source text
    speaker: str | None
    language: str
    start: float
    end: float

    @property
    def text(self) -> str:
        return " ".join(p for p in self.parts if p)


def ends_sentence(text: str) -> bool:
    return bool(_FINAL.search(text.strip()))


def join(segments: Sequence[Segment], default_language: str = "", max_gap: float = MAX_GAP) -> list[Sentence]:
    """Group segments into sentences; segments with no text are left out."""
    out: list[Sentence] = []
    current: list[int] = []

    def flush() -> None:
        if current:
            segs = [segments[i] for i in current]
            out.append(Sentence(
                indices=tuple(current), parts=tuple(s.text.strip() for s in segs), speaker=segs[0].speaker,
                language=norm_lang(segs[0].language or default_language), start=segs[0].start, end=segs[-1].end))
            current.clear()

    for i, seg in enumerate(segments):
        if not seg.text.strip():
            continue
        if current:
            prev = segments[current[-1]]
            same = (prev.speaker == seg.speaker
                    and norm_lang(prev.language or default_language) == norm_lang(seg.language or default_language))
            if not same or ends_sentence(prev.text) or seg.start - prev.end > max_gap:
                flush()
        current.append(i)
    flush()
    return out


def _tokens(text: str, language: str) -> tuple[list[str], str]:
    if norm_lang(language) in _NO_SPACES:
        return list(text.replace(" ", "")), ""
    return text.split(), " "


def split(translation: str, weights: Sequence[float], language: str = "") -> list[str]:
    """Cut `translation` into len(weights) pieces whose lengths follow `weights`, at word boundaries.

    Each cut goes to the word boundary closest to its proportional position,
    with a bonus for boundaries just after punctuation; every piece gets at
    least one word while words remain.
    """
    n = len(weights)
    if n == 0:
        return []
    if n == 1:
        return [translation.strip()]
    tokens, sep = _tokens(translation.strip(), language)
    if not tokens:
        return [""] * n
    if len(tokens) < n:
        # Fewer words than pieces: one word each to the heaviest pieces, in order.
        order = sorted(range(n), key=lambda i: -weights[i])[:len(tokens)]
        chosen = sorted(order)
        pieces = [""] * n
        for tok, i in zip(tokens, chosen, strict=True):
            pieces[i] = tok
        return pieces
    total_w = sum(max(w, 0.0) for w in weights) or float(n)
    w = [max(x, 0.0) for x in weights]
    # ends[j] = length of the text made of tokens[:j] (j tokens), separators included.
    ends = [0]
    for j, tok in enumerate(tokens):
        ends.append(ends[-1] + len(tok) + (len(sep) if j else 0))
    total = ends[-1]
    cuts = [0]
    acc = 0.0
    for k in range(1, n):
        acc += w[k - 1]
        ideal = total * acc / total_w
        lo, hi = cuts[-1] + 1, len(tokens) - (n - k)
        best, best_cost = lo, float("inf")
        for j in range(lo, hi + 1):
            cost = abs(ends[j] - ideal) / max(total, 1)
            if _PUNCT_END.search(tokens[j - 1]):
                cost -= 0.08
            if cost < best_cost:
                best, best_cost = j, cost
        cuts.append(best)
    cuts.append(len(tokens))
    return [sep.join(tokens[a:b]) for a, b in itertools.pairwise(cuts)]


def spread(sentence: Sentence, translation: str, target: str) -> list[str]:
    """The translation of `sentence`, one piece per original segment."""
    return split(translation, [len(p) for p in sentence.parts], target)
