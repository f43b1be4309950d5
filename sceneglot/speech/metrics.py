"""Word error rate and diarization error rate, written out so benchmarks and tests share one definition."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
from scipy.optimize import linear_sum_assignment

from .diarize import SpeakerTurn


def normalise(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def wer(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on lower-cased, punctuation-free words."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    d = np.arange(len(hyp) + 1)
    for i, rw in enumerate(ref, 1):
        prev = d.copy()
        d[0] = i
        for j, hw in enumerate(hyp, 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (rw != hw))
    return float(d[len(hyp)]) / max(1, len(ref))


def read_rttm(path) -> list[SpeakerTurn]:
    with open(path, encoding="utf-8") as fh:
        rows = [line.split() for line in fh if line.startswith("SPEAKER")]
    return [SpeakerTurn(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows]


def der(reference: Iterable[SpeakerTurn], hypothesis: Iterable[SpeakerTurn], step: float = 0.01) -> float:
    """NIST DER with no forgiveness collar and overlapped speech scored: (miss + false alarm + confusion)
    / reference speaker time, on a `step` grid, speakers mapped one-to-one to maximise agreement."""
    ref, hyp = list(reference), list(hypothesis)
    end = max([t.end for t in ref + hyp] + [0.0])
    n = int(np.ceil(end / step)) + 1

    def grid(turns: list[SpeakerTurn]) -> np.ndarray:
        names = sorted({t.speaker for t in turns})
        m = np.zeros((n, max(1, len(names))), bool)
        for t in turns:
            m[round(t.start / step):round(t.end / step), names.index(t.speaker)] = True
        return m

    r, h = grid(ref), grid(hyp)
    agree = r.T.astype(np.int64) @ h.astype(np.int64)
    ri, ci = linear_sum_assignment(-agree)
    nr, nh = r.sum(1), h.sum(1)
    miss_fa = np.abs(nr - nh).sum()  # speakers missing (or extra) in each frame
    confusion = np.minimum(nr, nh).sum() - agree[ri, ci].sum()
    return float(miss_fa + confusion) / max(1, int(nr.sum()))
