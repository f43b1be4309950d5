"""Word error rate and diarization error rate, written out so benchmarks and tests share one definition."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .turns import SpeakerTurn


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


def read_rttm(path, uri: str | None = None) -> list[SpeakerTurn]:
    """SPEAKER rows of an RTTM file (only those of recording `uri` when given)."""
    with open(path, encoding="utf-8") as fh:
        rows = [line.split() for line in fh if line.startswith("SPEAKER")]
    return [SpeakerTurn(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows if uri is None or r[1] == uri]


def read_uem(path, uri: str) -> list[tuple[float, float]]:
    """Scored (start, end) spans of recording `uri` from a UEM file (`uri channel start end` rows)."""
    with open(path, encoding="utf-8") as fh:
        rows = [line.split() for line in fh if line.strip() and not line.startswith(";")]
    return [(float(r[2]), float(r[3])) for r in rows if r[0] == uri]


@dataclass
class DerParts:
    """Seconds of each error kind over `total` seconds of reference speaker time (overlap counts twice)."""

    miss: float
    false_alarm: float
    confusion: float
    total: float

    @property
    def der(self) -> float:
        errors = self.miss + self.false_alarm + self.confusion
        return errors / self.total if self.total else (float("inf") if errors else 0.0)

    def __add__(self, other: DerParts) -> DerParts:
        return DerParts(self.miss + other.miss, self.false_alarm + other.false_alarm,
                        self.confusion + other.confusion, self.total + other.total)


def der_parts(reference: Iterable[SpeakerTurn], hypothesis: Iterable[SpeakerTurn],
              uem: list[tuple[float, float]] | None = None) -> DerParts:
    """NIST diarization error: no forgiveness collar, overlapped speech scored, only inside `uem`
    (default: from 0 to the last turn's end). Exact in time: the timeline is cut at every turn and
    UEM boundary, and in each piece with R reference and H hypothesis speakers the error is
    max(0, R - H) missed, max(0, H - R) false alarm and min(R, H) minus the correctly mapped speakers
    confused; speakers are mapped one-to-one to maximise the time they agree (Hungarian)."""
    ref, hyp = list(reference), list(hypothesis)
    if uem is None:
        uem = [(0.0, max([t.end for t in ref + hyp] + [0.0]))]
    rnames = sorted({t.speaker for t in ref})
    hnames = sorted({t.speaker for t in hyp})
    cuts = sorted({x for t in ref + hyp for x in (t.start, t.end)} | {x for span in uem for x in span})
    bounds = np.array(cuts, np.float64)
    if len(bounds) < 2:
        return DerParts(0.0, 0.0, 0.0, 0.0)
    mids = (bounds[:-1] + bounds[1:]) / 2
    dur = np.diff(bounds) * np.any([(mids > a) & (mids < b) for a, b in uem], axis=0)

    def active(turns: list[SpeakerTurn], names: list[str]) -> np.ndarray:
        m = np.zeros((len(mids), max(1, len(names))), bool)
        for t in turns:
            m[(mids > t.start) & (mids < t.end), names.index(t.speaker)] = True  # a speaker's own overlaps merge
        return m

    r, h = active(ref, rnames), active(hyp, hnames)
    agree = (r * dur[:, None]).T @ h
    ri, ci = linear_sum_assignment(-agree)
    nr, nh = r.sum(1), h.sum(1)
    return DerParts(float((np.maximum(nr - nh, 0) * dur).sum()), float((np.maximum(nh - nr, 0) * dur).sum()),
                    max(0.0, float((np.minimum(nr, nh) * dur).sum() - agree[ri, ci].sum())), float((nr * dur).sum()))


def der(reference: Iterable[SpeakerTurn], hypothesis: Iterable[SpeakerTurn],
        uem: list[tuple[float, float]] | None = None) -> float:
    """NIST DER (no collar, overlap scored): (miss + false alarm + confusion) / reference speaker time."""
    return der_parts(reference, hypothesis, uem).der
