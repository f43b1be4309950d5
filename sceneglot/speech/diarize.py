"""Who speaks when: VAD regions -> CAM++ embeddings on sliding windows -> clustering -> turns.

Windows of `window` s every `step` s inside each speech region give local
speaker evidence; each 10 ms speech frame takes the label most windows covering
it voted for, so speaker changes land within about a step of the truth.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from . import campplus, cluster, fbank, vad

RES = 0.01  # seconds per decision frame
HOP = 0.02  # seconds per CAM++ frame-level output
VAD_THRESHOLD = 0.35  # lower than ASR: a missed short reply costs more DER than a breath


@dataclass
class SpeakerTurn:
    start: float
    end: float
    speaker: str


def windows(
    regions: list[tuple[float, float]], window: float, step: float, min_len: float
) -> list[tuple[float, float]]:
    """Sliding windows covering every region; a region shorter than `window` is one window."""
    out = []
    for start, end in regions:
        if end - start < min_len:
            continue
        if end - start <= window:
            out.append((start, end))
            continue
        t = start
        while t + window < end:
            out.append((t, t + window))
            t += step
        out.append((end - window, end))
    return out


def diarize(
    audio: np.ndarray, sample_rate: int = 16000, *, num_speakers: int | None = None,
    min_speakers: int | None = None, max_speakers: int | None = None,
    regions: list[tuple[float, float]] | None = None,
    window: float = 1.5, step: float = 0.5, min_turn: float = 0.25, refine: bool = True,
) -> list[SpeakerTurn]:
    """Speaker turns (S0, S1, ... in order of first speech); [] when there is no speech."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    if regions is None:
        regions = vad.speech_regions(audio, sample_rate, threshold=VAD_THRESHOLD)
    wins = windows(regions, window, step, min_len=0.4)
    if not wins:
        return []
    emb = campplus.embed([fbank.fbank(audio[int(s * sample_rate):int(e * sample_rate)]) for s, e in wins])
    labels = cluster.cluster(emb, num_speakers, min_speakers, max_speakers)
    k = int(labels.max()) + 1
    total = int(np.ceil(max(e for _, e in regions) / RES)) + 1
    votes = np.zeros((total, k), np.float32)
    for (s, e), lab in zip(wins, labels, strict=True):
        i0, i1 = int(s / RES), int(e / RES)
        # Weight the window centre more: its embedding describes the middle best.
        votes[i0:i1, lab] += np.hanning(i1 - i0 + 2)[1:-1].astype(np.float32)
    speech = np.zeros(total, bool)
    for s, e in regions:
        speech[int(s / RES):int(e / RES)] = True
    voted = votes.sum(1) > 0
    frame_lab = votes.argmax(1)
    # Speech too short to embed (a quick "yes") takes the speaker of the nearest voted frame.
    nearest = np.maximum.accumulate(np.where(voted, np.arange(total), 0))
    later = np.minimum.accumulate(np.where(voted, np.arange(total), total - 1)[::-1])[::-1]
    pick = np.where(~voted[nearest] | ((later - np.arange(total) < np.arange(total) - nearest) & voted[later]),
                    later, nearest)
    frame_lab = np.where(speech, np.where(voted, frame_lab, frame_lab[pick]), -1)
    turns = _runs(frame_lab)
    turns = _absorb_short(turns, min_turn)
    if refine:
        _refine_changes(audio, sample_rate, turns, emb, labels)
    return _name(turns)


def _refine_changes(audio, sample_rate, turns: list[list], emb: np.ndarray, labels: np.ndarray,
                    reach: float = 0.6) -> None:
    """Move each speaker change (between touching turns) to the split point whose left and right
    parts best match the two speakers' centroids; window voting alone only places it within a step."""
    cents = {int(k): _unit(emb[labels == k].mean(0)) for k in np.unique(labels)}
    for a, b in itertools.pairwise(turns):
        if b[0] - a[1] > 1e-6:
            continue
        lo, hi = max(a[0], a[1] - reach), min(b[1], b[0] + reach)
        if hi - lo < 0.8:
            continue
        feats = fbank.fbank(audio[int(lo * sample_rate):int(hi * sample_rate)])
        frames = campplus.frame_features(feats)
        n = len(frames)
        cands = np.arange(int(0.3 / HOP), n - int(0.3 / HOP) + 1)
        if len(cands) == 0:
            continue
        left = campplus.pool(frames, [(0, c) for c in cands])
        right = campplus.pool(frames, [(c, n) for c in cands])
        score = left @ cents[a[2]] + right @ cents[b[2]]
        t = round(float(lo + HOP * cands[int(np.argmax(score))] + 0.0125), 3)
        a[1] = b[0] = min(max(t, a[0] + 0.05), b[1] - 0.05)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-8)


def _runs(frame_lab: np.ndarray) -> list[list]:
    out: list[list] = []
    for i, lab in enumerate(frame_lab):
        if lab < 0:
            continue
        if out and out[-1][2] == lab and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1, int(lab)])
    return [[s * RES, e * RES, lab] for s, e, lab in out]


def _absorb_short(turns: list[list], min_turn: float) -> list[list]:
    """A turn shorter than `min_turn` between same-speaker neighbours (gap < 0.5 s) is their speech."""
    out = [t[:] for t in turns]
    changed = True
    while changed:
        changed = False
        for i in range(1, len(out) - 1):
            a, b, c = out[i - 1], out[i], out[i + 1]
            if b[1] - b[0] < min_turn and a[2] == c[2] != b[2] and b[0] - a[1] < 0.5 and c[0] - b[1] < 0.5:
                b[2] = a[2]
                changed = True
        merged: list[list] = []
        for t in out:
            if merged and merged[-1][2] == t[2] and t[0] - merged[-1][1] < 1e-6:
                merged[-1][1] = t[1]
            else:
                merged.append(t)
        out = merged
    return out


def _name(turns: list[list]) -> list[SpeakerTurn]:
    names: dict[int, str] = {}
    return [SpeakerTurn(round(float(s), 3), round(float(e), 3), names.setdefault(lab, f"S{len(names)}"))
            for s, e, lab in turns]
