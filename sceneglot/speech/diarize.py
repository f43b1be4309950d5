"""Who speaks when. Two methods share the CAM++ embeddings and the clustering:

"segmentation" (default, overlap-aware; the pyannote 3.x recipe): the
segmentation-3.0 network labels up to 3 local speakers per 16.875 ms frame in 10 s
chunks every `seg_step` s; each (chunk, local speaker) is embedded from the frames
where it speaks alone; the embeddings are clustered across chunks; each chunk's
local activity is mapped onto the global speakers and averaged over overlapping
chunks, and every frame keeps as many speakers as the chunks say talk at once
(so overlapped speech yields overlapping turns).

"embedding" (the earlier method; one speaker per moment): VAD regions -> windows of
`window` s every `step` s -> clustering; each 10 ms speech frame takes the label
most windows covering it voted for, so changes land within about a step of the truth.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from . import campplus, cluster, fbank, segmentation, vad

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
    method: str = "segmentation", seg_step: float = 1.0,
    regions: list[tuple[float, float]] | None = None,
    window: float = 1.5, step: float = 0.5, min_turn: float = 0.25, refine: bool = True,
) -> list[SpeakerTurn]:
    """Speaker turns (S0, S1, ... in order of first speech; they overlap where two people talk at once);
    [] when there is no speech. `regions`, `window`, `step`, `min_turn`, `refine` tune method="embedding"."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    if sample_rate != segmentation.SAMPLE_RATE:
        raise InputError(f"diarization needs 16 kHz audio, got {sample_rate} Hz")
    if method == "segmentation":
        with _one_thread():
            return _diarize_segmentation(audio, num_speakers, min_speakers, max_speakers, seg_step)
    if method != "embedding":
        raise InputError(f"unknown diarization method {method!r} (segmentation or embedding)")
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


# Cosine distance cut for embeddings pooled over whole solo turns: these are steadier than 1.5 s
# windows, so speakers sit closer to their centroids and the cut is lower than cluster.THRESHOLD.
SEG_THRESHOLD = 0.38
MIN_ALONE = 0.5  # s of solo speech a local speaker needs for its own embedding
EMB_BLOCK = 30.0  # s of audio per CAM++ frame-feature pass (bounds memory on long inputs)


@contextmanager
def _one_thread():
    """Run torch single-threaded: measured on the 2-core box under other jobs' load, the CAM++ frame
    pass and the segmentation net often took 3-10x longer with 2 threads than with 1 (likely the
    worker thread stalling: flush-to-zero is set per thread), and were at best about 1.5x faster
    with 2 threads; one steady thread keeps diarization well inside the real-time budget."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _diarize_segmentation(audio: np.ndarray, num_speakers, min_speakers, max_speakers,
                          seg_step: float, threshold: float = SEG_THRESHOLD) -> list[SpeakerTurn]:
    if len(audio) < segmentation.FRAME_SPAN:
        return []
    starts, act = segmentation.segment(audio, step=seg_step)
    emb, keys = _local_embeddings(audio, starts, act)
    if not keys:
        return []
    # min_count=1: on a short input each of a handful of embeddings is a whole solo turn, not a 1.5 s
    # window, so a speaker heard in one chunk only is still a speaker.
    labels = cluster.cluster(emb, num_speakers, min_speakers, max_speakers, threshold=threshold, min_count=1)
    # Local speakers too short to embed stay unassigned but still count in the per-frame speaker count.
    assign = {key: int(lab) for key, lab in zip(keys, labels, strict=True)}
    active = reconstruct(starts, act, assign, int(labels.max()) + 1, len(audio))
    dur = len(audio) / segmentation.SAMPLE_RATE
    turns = [[min(_edge(i0), dur), min(_edge(i1), dur), g]
             for g in range(active.shape[1]) for i0, i1 in _true_runs(active[:, g])]
    turns.sort(key=lambda t: (t[0], t[1]))
    return _name(turns)


def reconstruct(starts: list[int], act: np.ndarray, assign: dict[tuple[int, int], int], k: int,
                n_samples: int) -> np.ndarray:
    """Global (frames, k) speaker activity from per-chunk local activity (chunks, frames, 3).

    Each chunk's local speakers map onto their global speaker (max where two map to one); scores
    and speaker counts are averaged over the chunks covering a frame, and each frame keeps its
    rounded count of highest-scoring speakers: that is how overlapped speech survives clustering.
    Frame i of the result is frame i of a chunk starting at sample 0 (FRAME_STEP apart)."""
    n_frames = act.shape[1]
    total = int(np.ceil(n_samples / segmentation.FRAME_STEP))
    score = np.zeros((total, k), np.float32)
    count = np.zeros(total, np.float32)
    cover = np.zeros(total, np.float32)
    centres = segmentation.frame_times(n_frames) * segmentation.SAMPLE_RATE
    for c, s0 in enumerate(starts):
        # frames past the audio's end (zero padding of a short input) are not evidence
        local_idx = np.flatnonzero(s0 + centres < n_samples)
        idx = round(s0 / segmentation.FRAME_STEP) + local_idx
        keep = idx < total
        idx, local = idx[keep], act[c][local_idx[keep]]
        cover[idx] += 1
        count[idx] += local.sum(1)
        chunk = np.zeros((len(idx), k), np.float32)
        for j in range(local.shape[1]):
            g = assign.get((c, j))
            if g is not None:
                chunk[:, g] = np.maximum(chunk[:, g], local[:, j])
        score[idx] += chunk
    seen = cover > 0
    score[seen] /= cover[seen, None]
    speakers = np.rint(np.where(seen, count / np.maximum(cover, 1), 0)).astype(int).clip(0, k)
    order = np.argsort(-score, axis=1, kind="stable")
    active = np.zeros_like(score, bool)
    for n in range(1, int(speakers.max(initial=0)) + 1):
        rows = np.flatnonzero(speakers >= n)
        best = order[rows, n - 1]
        keep = score[rows, best] > 0  # a count with no speaker behind it (two locals merged) adds nobody
        active[rows[keep], best[keep]] = True
    return active


def _edge(i: int) -> float:
    """Time (s) between global frames i-1 and i: frame i's centre minus half a step, 0 for i = 0."""
    return max(0.0, (i * segmentation.FRAME_STEP + (segmentation.FRAME_SPAN - segmentation.FRAME_STEP) / 2)
               / segmentation.SAMPLE_RATE) if i else 0.0


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _local_embeddings(audio: np.ndarray, starts: list[int], act: np.ndarray
                      ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One CAM++ embedding per (chunk, local speaker) with enough speech, pooled over that speaker's
    solo frames (overlap masked out; all its frames when solo speech is too short).

    Frame-level CAM++ features are computed once over the audio (in `EMB_BLOCK` blocks), not per
    chunk: chunks overlap ten-fold, so this costs a tenth of embedding each chunk."""
    sr = segmentation.SAMPLE_RATE
    feats, times = [], []
    block = int(EMB_BLOCK * sr)
    for b0 in range(0, len(audio), block):
        piece = audio[b0:b0 + block + 240]
        fb = fbank.fbank(piece)
        if len(fb) < 20:
            continue
        fr = campplus.frame_features(fb)
        t = b0 / sr + 0.02 * np.arange(len(fr)) + 0.0125
        keep = t < (b0 + block) / sr
        feats.append(fr[keep])
        times.append(t[keep])
    if not feats:
        return np.zeros((0, 192), np.float32), []
    frames, ftimes = np.concatenate(feats), np.concatenate(times)
    n_frames = act.shape[1]
    centres = segmentation.frame_times(n_frames)
    step_s = segmentation.FRAME_STEP / sr
    stats, keys = [], []
    for c, s0 in enumerate(starts):
        t0 = s0 / sr
        sel = np.flatnonzero((ftimes >= t0) & (ftimes < t0 + segmentation.WINDOW / sr))
        if len(sel) == 0:
            continue
        fi = np.clip(np.rint((ftimes[sel] - t0 - centres[0]) / step_s).astype(int), 0, n_frames - 1)
        local = act[c][fi]  # (sel, 3) segmentation activity at each CAM++ frame
        alone = local * (local.sum(1, keepdims=True) == 1)
        for j in range(local.shape[1]):
            w = alone[:, j] if alone[:, j].sum() * 0.02 >= MIN_ALONE else local[:, j]
            if w.sum() * 0.02 < MIN_ALONE:
                continue
            x = frames[sel][w > 0]
            stats.append(np.concatenate([x.mean(0), x.std(0, ddof=1)]))
            keys.append((c, j))
    if not keys:
        return np.zeros((0, 192), np.float32), []
    return campplus.embed_stats(np.stack(stats)), keys


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
