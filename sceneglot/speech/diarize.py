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
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..errors import InputError
from ..spool import RowSpool
from . import campplus, cluster, fbank, segmentation, vad
from .turns import SpeakerTurn, VoiceFrames, exclusive  # noqa: F401 (exclusive: callers still reach it as diarize.exclusive)

RES = 0.01  # seconds per decision frame
HOP = 0.02  # seconds per CAM++ frame-level output
VAD_THRESHOLD = 0.35  # lower than ASR: a missed short reply costs more DER than a breath

# Settings of the overlap-aware method, chosen on sample.wav and the AMI excerpts trn00/02/04/06/08
# (trn01/03/05/07/09 held out; benchmarks/diarization.py prints both halves).
SEG_STEP = 0.5  # s between 10 s segmentation chunks: each instant is judged by 20 chunks
SPEECH_THRESHOLD = 0.35  # mean P(anyone speaks) over the chunks covering a frame
OVERLAP_THRESHOLD = 0.4  # mean P(two speak at once)
SEG_THRESHOLD = 0.3  # average-linkage cosine distance at which two speakers stay apart
MIN_CLEAN = 1.0  # s of solo speech a local speaker needs to help find the speakers
MIN_SPEAKER = 1.0  # s of solo speech a speaker needs in all (less: folded into the nearest)
MIN_TOGETHER = 0.5  # s each of n local speakers talk in one chunk to prove n speakers (tune: flat 0.3-0.75)
MIN_FRAMES = 5  # CAM++ frames (20 ms) a local speaker needs for any embedding
MAX_TRAIN = 2000  # local speakers clustered at most (evenly spread); the rest are assigned
BLOCK = 30.0  # s of chunk starts per streaming block (bounds memory on long inputs)


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
    method: str = "segmentation", seg_step: float = SEG_STEP,
    regions: list[tuple[float, float]] | None = None,
    window: float = 1.5, step: float = 0.5, min_turn: float = 0.25, refine: bool = True,
) -> list[SpeakerTurn]:
    """Speaker turns (S0, S1, ... in order of first speech; they overlap where two people talk at once);
    [] when there is no speech. `regions`, `window`, `step`, `min_turn`, `refine` tune method="embedding"."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    if sample_rate != segmentation.SAMPLE_RATE:
        raise InputError(f"diarization needs 16 kHz audio, got {sample_rate} Hz")
    if method == "segmentation":
        return _diarize_segmentation(audio, num_speakers, min_speakers, max_speakers, seg_step)[0]
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



def diarize_with_voices(audio: np.ndarray, sample_rate: int = 16000, *, num_speakers: int | None = None,
                        min_speakers: int | None = None, max_speakers: int | None = None,
                        seg_step: float = SEG_STEP) -> tuple[list[SpeakerTurn], VoiceFrames | None]:
    """diarize() by the segmentation method, and the CAM++ frame features it computed on the way (None
    when the audio is shorter than one segmentation frame and none were)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    if sample_rate != segmentation.SAMPLE_RATE:
        raise InputError(f"diarization needs 16 kHz audio, got {sample_rate} Hz")
    return _diarize_segmentation(audio, num_speakers, min_speakers, max_speakers, seg_step, keep_voices=True)


def diarize_track(track, *, num_speakers: int | None = None, min_speakers: int | None = None,
                  max_speakers: int | None = None) -> tuple[list[SpeakerTurn], VoiceFrames | None]:
    """diarize_with_voices() of a soundtrack read span by span, never whole: `track` is anything with
    a length in samples (16 kHz) that slices like a 1-D float32 array (a soundtrack.Soundtrack).
    `analyse` streams it in BLOCK-s blocks and the speakers are clustered once from every block's
    embeddings, so the turns equal those of the whole array."""
    return _diarize_segmentation(track, num_speakers, min_speakers, max_speakers, SEG_STEP, keep_voices=True)


@dataclass
class LocalSpeaker:
    """One of the (up to 3) voices the segmentation network hears in one chunk."""

    chunk: int
    index: int
    clean: float  # s of solo speech (nobody else in the chunk talking)
    embedding: np.ndarray | None  # CAM++ from the solo frames (all its frames when solo is short)
    active: float = 0.0  # s it talks in the chunk, alone or not


@dataclass
class Segmented:
    """What one streaming pass over the audio keeps: per chunk only compact speaker probabilities."""

    starts: list[int]
    activity: np.ndarray  # (chunks, 589, 3) bool: the local speakers of the most likely powerset class
    speech: np.ndarray  # (frames,) mean P(anyone speaks) over the chunks covering each global frame
    overlap: np.ndarray  # (frames,) mean P(two speak at once)
    local: list[LocalSpeaker]
    n_samples: int
    voices: VoiceFrames | None = None  # the CAM++ frame features, when analyse was asked to keep them


def _diarize_segmentation(audio: np.ndarray, num_speakers, min_speakers, max_speakers, seg_step: float,
                          keep_voices: bool = False) -> tuple[list[SpeakerTurn], VoiceFrames | None]:
    if len(audio) < segmentation.FRAME_SPAN:
        return [], None
    seg = analyse(audio, seg_step, keep_voices)
    return speaker_turns(seg, num_speakers, min_speakers, max_speakers), seg.voices


def speaker_turns(seg: Segmented, num_speakers=None, min_speakers=None, max_speakers=None) -> list[SpeakerTurn]:
    """Turns from one analysis pass: name the local speakers, aggregate, cut into turns."""
    assign, k = assign_speakers(seg.local, num_speakers, min_speakers, max_speakers)
    if not k:
        return []
    return activity_turns(aggregate(seg, assign, k), seg.n_samples)


def speaker_count(seg: Segmented) -> np.ndarray:
    """How many people talk in each global frame (0, 1 or 2): the chunks' mean P(speech) against
    SPEECH_THRESHOLD, plus one where their mean P(two at once) passes OVERLAP_THRESHOLD."""
    return (seg.speech > SPEECH_THRESHOLD).astype(int) * (1 + (seg.overlap > OVERLAP_THRESHOLD))


def _global_index(s0: int, n_frames: int, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """(local frames inside the audio, their global frame numbers) of a chunk starting at sample s0."""
    centres = segmentation.frame_times(n_frames) * segmentation.SAMPLE_RATE
    local = np.flatnonzero(s0 + centres < n_samples)  # zero padding past the end is not evidence
    return local, round(s0 / segmentation.FRAME_STEP) + local


def analyse(audio: np.ndarray, step: float = SEG_STEP, keep_voices: bool = False) -> Segmented:
    """Segmentation chunks every `step` s and one CAM++ embedding per local speaker, streamed in
    `BLOCK`-s blocks: the CAM++ frame features of a block (plus one chunk length) are computed once
    and pooled for every chunk starting in it, so memory does not grow with the input's length
    beyond the compact per-chunk records. `keep_voices`: also keep those frame features (float16;
    each block's own `BLOCK` s, the last block's to the end) as `Segmented.voices`."""
    sr = segmentation.SAMPLE_RATE
    n = len(audio)
    starts = segmentation.chunk_starts(n, max(1, int(step * sr)))
    total = int(np.ceil(n / segmentation.FRAME_STEP))
    speech, overlap, cover = (np.zeros(total, np.float32) for _ in range(3))
    activity = np.zeros((len(starts), 589, 3), bool)
    local: list[LocalSpeaker] = []
    kept_times: list[np.ndarray] = []
    spool = RowSpool(512) if keep_voices else None  # the frame features go to disk as they come (float16)
    block = int(BLOCK * sr)
    chunk_ids = np.arange(len(starts))
    for b0 in range(0, max(starts) + 1, block):
        ids = chunk_ids[(np.array(starts) >= b0) & (np.array(starts) < b0 + block)]
        if not len(ids):
            continue
        prob = segmentation.probabilities(audio, [starts[c] for c in ids])
        span = audio[b0:starts[ids[-1]] + segmentation.WINDOW]
        fb = fbank.fbank(span)
        frames = campplus.frame_features(fb) if len(fb) >= 20 else np.zeros((0, 512), np.float32)
        ftimes = b0 / sr + HOP * np.arange(len(frames)) + 0.0125
        if keep_voices:
            own = ftimes < (b0 + block) / sr if b0 + block <= max(starts) else np.ones(len(ftimes), bool)
            kept_times.append(ftimes[own])
            spool.write(frames[own])
        for c, pr in zip(ids, prob, strict=True):
            li, gi = _global_index(starts[c], pr.shape[0], n)
            keep = gi < total
            li, gi = li[keep], gi[keep]
            speech[gi] += 1 - pr[li, 0]
            overlap[gi] += pr[li, 4:].sum(1)
            cover[gi] += 1
            activity[c] = segmentation.powerset_to_speakers(pr) > 0
            local += _local_speakers(int(c), starts[c] / sr, activity[c], frames, ftimes)
    seen = cover > 0
    speech[seen] /= cover[seen]
    overlap[seen] /= cover[seen]
    voices = None
    if keep_voices:
        voices = VoiceFrames(np.concatenate(kept_times) if kept_times else np.zeros(0), spool.rows())
    return Segmented(starts, activity, speech, overlap, local, n, voices)


def _local_speakers(c: int, t0: float, act: np.ndarray, frames: np.ndarray, ftimes: np.ndarray
                    ) -> list[LocalSpeaker]:
    """Embed each local speaker of chunk `c` (hard activity `act`, (589, 3)) from its solo frames
    (all its frames when it has under MIN_CLEAN s alone), overlap masked out as pyannote 3.x does."""
    out = []
    sel = np.flatnonzero((ftimes >= t0) & (ftimes < t0 + segmentation.WINDOW / segmentation.SAMPLE_RATE))
    n_frames = act.shape[0]
    fi = np.clip(np.rint((ftimes[sel] - t0 - segmentation.frame_times(1)[0])
                         / (segmentation.FRAME_STEP / segmentation.SAMPLE_RATE)).astype(int), 0, n_frames - 1)
    at = act[fi]  # (sel, 3): segmentation activity at each CAM++ frame
    alone = at * (at.sum(1, keepdims=True) == 1)
    stats, rows = [], []
    for j in range(act.shape[1]):
        if not act[:, j].any():
            continue
        clean = float(alone[:, j].sum()) * HOP
        w = alone[:, j] if clean >= MIN_CLEAN else at[:, j]
        if w.sum() < MIN_FRAMES:
            w = at[:, j]
        rows.append(LocalSpeaker(c, j, clean, None, float(act[:, j].sum()) * segmentation.FRAME_STEP
                                 / segmentation.SAMPLE_RATE))
        if w.sum() >= MIN_FRAMES:
            x = frames[sel][w > 0]
            stats.append(np.concatenate([x.mean(0), x.std(0, ddof=1)]))
            rows[-1].embedding = len(stats) - 1
    emb = campplus.embed_stats(np.stack(stats)) if stats else None
    for r in rows:
        if r.embedding is not None:
            r.embedding = emb[r.embedding]
        out.append(r)
    return out


def assign_speakers(local: list[LocalSpeaker], num_speakers=None, min_speakers=None, max_speakers=None
                    ) -> tuple[dict[tuple[int, int], int], int]:
    """Global speaker of every embedded local speaker, and how many there are.

    The speakers are found by clustering the local speakers with at least MIN_CLEAN s of solo
    speech (all embedded ones when none has); then every local speaker takes its nearest centroid,
    two voices of one chunk never the same one (Hungarian assignment per chunk), so short turns
    and back-channels get a speaker without having had a say in how many there are. Unless the count
    is fixed, the clustering is cut into at least as many speakers as the segmentation hears at once
    (`heard_at_once`): a voice heard only over another's has too little solo speech to be clustered,
    but the network telling it apart in the same chunk is evidence that it is somebody else. (Letting
    such voices into the clustering instead over-split: their embeddings carry the other voice; AMI
    tune half 34 % against 32 %.)"""
    embedded = [x for x in local if x.embedding is not None]
    if not embedded:
        return {}, 0
    if not num_speakers:
        at_once = heard_at_once(local)
        min_speakers = max(min_speakers or 1, min(at_once, max_speakers or at_once))
    train = [x for x in embedded if x.clean >= MIN_CLEAN] or embedded
    if len(train) > MAX_TRAIN:
        train = [train[i] for i in np.linspace(0, len(train) - 1, MAX_TRAIN).astype(int)]
    emb = np.stack([x.embedding for x in train])
    labels = cluster.cluster_weighted(emb, np.array([max(x.clean, HOP) for x in train]), num_speakers,
                                      min_speakers, max_speakers, threshold=SEG_THRESHOLD,
                                      min_weight=MIN_SPEAKER)
    k = int(labels.max()) + 1
    cents = np.stack([_unit(emb[labels == g].mean(0)) for g in range(k)])
    by_chunk: dict[int, list[LocalSpeaker]] = {}
    for x in embedded:
        by_chunk.setdefault(x.chunk, []).append(x)
    assign = {}
    for c, xs in by_chunk.items():
        sim = np.stack([x.embedding for x in xs]) @ cents.T
        if len(xs) <= k:
            rows, cols = linear_sum_assignment(-sim)
        else:  # more voices than speakers (a fixed count): each takes its nearest
            rows, cols = np.arange(len(xs)), sim.argmax(1)
        for r, g in zip(rows, cols, strict=True):
            assign[(c, xs[r].index)] = int(g)
    return assign, k


def heard_at_once(local: list[LocalSpeaker], min_chunks: int = 2) -> int:
    """The most local speakers that talk, each for at least MIN_TOGETHER s, in one chunk, in at least
    `min_chunks` chunks (one chunk's glitch proves nothing; a real exchange spans many chunks)."""
    per_chunk: dict[int, int] = {}
    for x in local:
        if x.active >= MIN_TOGETHER:
            per_chunk[x.chunk] = per_chunk.get(x.chunk, 0) + 1
    counts = sorted(per_chunk.values(), reverse=True)
    return max(1, counts[min_chunks - 1] if len(counts) >= min_chunks else 1)


def aggregate(seg: Segmented, assign: dict[tuple[int, int], int], k: int) -> np.ndarray:
    """Global (frames, k) speaker activity, frame i at i x FRAME_STEP samples.

    Each chunk's local speaker activity maps onto the global speakers (union where two map to one)
    and is averaged over the chunks covering a frame (on the tuning half this beat averaging the
    network's soft per-speaker probabilities); the frame speaks if the chunks' mean
    P(speech) passes SPEECH_THRESHOLD, with two speakers if their mean P(overlap) passes
    OVERLAP_THRESHOLD, and keeps that many best-scoring speakers: so overlapped speech yields
    overlapping turns and every stretch the network hears goes to somebody."""
    total = len(seg.speech)
    score = np.zeros((total, k), np.float32)
    cover = np.zeros(total, np.float32)
    for c, s0 in enumerate(seg.starts):
        li, gi = _global_index(s0, seg.activity.shape[1], seg.n_samples)
        keep = gi < total
        li, gi = li[keep], gi[keep]
        cover[gi] += 1
        m = seg.activity[c][li].astype(np.float32)
        chunk = np.zeros((len(gi), k), np.float32)
        for j in range(m.shape[1]):
            g = assign.get((c, j))
            if g is not None:
                chunk[:, g] = np.maximum(chunk[:, g], m[:, j])
        score[gi] += chunk
    score /= np.maximum(cover, 1)[:, None]
    count = speaker_count(seg)
    order = np.argsort(-score, axis=1, kind="stable")
    active = np.zeros_like(score, bool)
    for n in range(1, min(2, k) + 1):
        rows = np.flatnonzero(count >= n)
        best = order[rows, n - 1]
        keep = score[rows, best] > 0  # a count with no speaker behind it adds nobody
        active[rows[keep], best[keep]] = True
    return active


def activity_turns(active: np.ndarray, n_samples: int) -> list[SpeakerTurn]:
    """Turns from global frame activity (frames, k); speakers named S0.. in order of first speech."""
    dur = n_samples / segmentation.SAMPLE_RATE
    turns = [[min(_edge(i0), dur), min(_edge(i1), dur), g]
             for g in range(active.shape[1]) for i0, i1 in _true_runs(active[:, g])]
    turns.sort(key=lambda t: (t[0], t[1]))
    return _name(turns)


def _edge(i: int) -> float:
    """Time (s) between global frames i-1 and i: frame i's centre minus half a step, 0 for i = 0."""
    return max(0.0, (i * segmentation.FRAME_STEP + (segmentation.FRAME_SPAN - segmentation.FRAME_STEP) / 2)
               / segmentation.SAMPLE_RATE) if i else 0.0


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


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
