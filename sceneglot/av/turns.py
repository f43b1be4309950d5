"""Short speech turns and the evidence about each: its voice, and how each visible face looks while it lasts.

The audio diarization's turns are cut further at shot changes, where the face
Light-ASD sees speaking changes, and into pieces of at most MAX_TURN seconds,
so that no turn holds two voices the audio clustering ran together. For every
turn we keep a CAM++ embedding (pooled from the frame-level features the
diarization computed, `speech.turns.VoiceFrames`, or from one pass of our own
when it kept none) and, per visible person, the mean raw Light-ASD logit over
the turn.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..scene import Shot, Track
from .features import FPS

if TYPE_CHECKING:
    from ..speech.turns import SpeakerTurn, VoiceFrames
    from .sync import Sync

# How well a track's lips follow the soundtrack over 25-fps frames [lo, hi): (track id, lo, hi) -> sync.Sync
# (a z against the same lips with the sound shifted 1-15 s) or None when the span is too short to tell.
SyncOf = Callable[[str, int, int], "Sync | None"]

SAMPLE_RATE = 16000
MAX_TURN = 2.0  # s: longer turns are cut into equal pieces, each long enough for a voice embedding
MIN_VOICE = 0.5  # s: shorter turns get no embedding of their own (too little speech to tell voices apart)
LEADER_RUN = 0.5  # s: a change of the face seen speaking must last this long to cut a turn
VISIBLE = 0.5  # share of a turn's frames a face must be on screen to count as visible during it
_HOP = 0.02  # s between CAM++ frame-level outputs
CEPSTRA = 19  # cepstral coefficients (c1..c19 of the 80 log-mel bands) that locate a change of speaker
_BLOCK = 30.0  # s of audio per CAM++ frame pass (bounds memory)


@dataclass
class Turn:
    start: float
    end: float
    audio_speaker: str  # the audio diarization's label (fallback when the turn is too short to embed)
    voice: np.ndarray | None = None  # L2-normalised CAM++ embedding
    faces: dict[str, float] = field(default_factory=dict)  # visible person -> mean raw Light-ASD logit
    sync: dict[str, float] = field(default_factory=dict)  # visible person -> z of its lips following the sound
    cut: str = "audio"  # why the turn starts here: "audio" (diarization), "shot", "face" or "length"
    views: dict[str, tuple[str, ...]] = field(default_factory=dict)  # visible person -> what its z rests on (Sync)

    @property
    def duration(self) -> float:
        return self.end - self.start


def _frames(start: float, end: float) -> np.ndarray:
    return np.arange(math.ceil(start * FPS - 1e-6), math.floor(end * FPS - 1e-6) + 1)


def frames_of(t: Turn) -> np.ndarray:
    """The 25-fps frames a turn covers."""
    return _frames(t.start, t.end)


def person_series(tracks: list[Track], series: dict[str, list[list[float]]]) -> dict[str, dict[int, float]]:
    """Per person, per 25-fps frame, a per-track series (`[[t, value], ...]` by track id) merged over tracks."""
    out: dict[str, dict[int, float]] = {}
    for tr in tracks:
        if tr.person is not None and tr.id in series:
            seen = out.setdefault(tr.person, {})
            for t, v in series[tr.id]:
                seen.setdefault(round(t * FPS), float(v))
    return out


def face_scores(tracks: list[Track]) -> dict[str, dict[int, float]]:
    """Per person, per 25-fps frame: the raw Light-ASD logit (max over the person's tracks at that frame)."""
    out: dict[str, dict[int, float]] = {}
    for tr in tracks:
        if tr.person is None:
            continue
        seen = out.setdefault(tr.person, {})
        rows = tr.asd or [[r[0], 0.0] for r in tr.boxes]  # no scores (no audio): presence only, undecided
        for t, s in rows:
            k = round(t * FPS)
            seen[k] = max(seen.get(k, -math.inf), float(s))
    return out


def _leaders(faces: dict[str, dict[int, float]], lo: int, hi: int, margin: float) -> list[str | None]:
    """Per frame in [lo, hi): the person clearly ahead of every other visible face (and > 0), else None."""
    out: list[str | None] = []
    for k in range(lo, hi):
        ranked = sorted(((s[k], p) for p, s in faces.items() if k in s), reverse=True)
        if len(ranked) >= 2 and ranked[0][0] > 0 and ranked[0][0] - ranked[1][0] >= margin:
            out.append(ranked[0][1])
        else:
            out.append(None)
    return out


def _smooth_runs(labels: list[str | None], min_run: int) -> list[str | None]:
    """Runs shorter than `min_run` frames take the label before them (or after, at the start)."""
    out = list(labels)
    i = 0
    runs = []
    while i < len(out):
        j = i
        while j < len(out) and out[j] == out[i]:
            j += 1
        runs.append([i, j, out[i]])
        i = j
    for n, run in enumerate(runs):
        if run[1] - run[0] < min_run and len(runs) > 1:
            run[2] = runs[n - 1][2] if n else runs[n + 1][2]
    return [lab for a, b, lab in runs for _ in range(a, b)]


def leader_changes(faces: dict[str, dict[int, float]], start: float, end: float, margin: float) -> list[float]:
    """Times in (start, end) where the face seen speaking changes from one person to another."""
    lo, hi = math.ceil(start * FPS), math.floor(end * FPS)
    if hi - lo < 2:
        return []
    labels = _smooth_runs(_leaders(faces, lo, hi, margin), round(LEADER_RUN * FPS))
    cuts, last = [], None
    for i, lab in enumerate(labels):
        if lab is not None:
            if last is not None and lab != last:
                cuts.append((lo + i) / FPS)
            last = lab
    return cuts


def _pieces(turns: list[SpeakerTurn]) -> list[tuple[float, float, str]]:
    """Non-overlapping spans of speech, each with the label of the longest turn covering it."""
    edges = sorted({t.start for t in turns} | {t.end for t in turns})
    # Turns by start, with the latest end so far: a span looks only at the turns that can cover it (a scan
    # of every turn per span made an hour's turns quadratic). Ties keep the turns' own order.
    order = sorted(range(len(turns)), key=lambda i: turns[i].start)
    starts = [turns[i].start for i in order]
    reach = np.maximum.accumulate([turns[i].end for i in order]) if turns else np.zeros(0)
    out: list[tuple[float, float, str]] = []
    for a, b in itertools.pairwise(edges):
        lo, hi = int(np.searchsorted(reach, a + 1e-6, side="right")), bisect.bisect_left(starts, b - 1e-6)
        covering = [t for t in (turns[i] for i in sorted(order[lo:hi])) if t.start < b - 1e-6 and t.end > a + 1e-6]
        if covering and b - a > 1e-3:
            label = max(covering, key=lambda t: t.end - t.start).speaker
            if out and out[-1][2] == label and abs(out[-1][1] - a) < 1e-6:
                out[-1] = (out[-1][0], b, label)
            else:
                out.append((a, b, label))
    return out


def short_turns(turns: list[SpeakerTurn], shots: list[Shot], faces: dict[str, dict[int, float]],
                margin: float) -> list[Turn]:
    """Audio turns cut at shot changes, speaking-face changes and every MAX_TURN seconds."""
    cuts_at = sorted(s.start for s in shots if s.start > 0)
    out: list[Turn] = []
    for a, b, label in _pieces(turns):
        inner = [c for c in cuts_at if a < c < b]
        bounds = [a, *inner, b]
        pieces = []
        for n, (x, y) in enumerate(itertools.pairwise(bounds)):
            sub = [x, *leader_changes(faces, x, y, margin), y]
            why = ["shot" if n else "audio"] + ["face"] * (len(sub) - 2)
            pieces += [(u, v, w) for u, v, w in zip(sub, sub[1:], why, strict=False)]
        for x, y, why in pieces:
            n = max(1, math.ceil((y - x) / MAX_TURN - 1e-9))
            for k in range(n):
                out.append(Turn(round(x + (y - x) * k / n, 3), round(x + (y - x) * (k + 1) / n, 3), label,
                                cut=why if k == 0 else "length"))
    return [t for t in out if t.duration > 1e-3]


def add_face_evidence(turns: list[Turn], faces: dict[str, dict[int, float]]) -> None:
    """Each turn's visible persons and their mean raw logit over the turn."""
    for t in turns:
        frames = _frames(t.start, t.end)
        if not len(frames):
            frames = np.array([round((t.start + t.end) / 2 * FPS)])
        for person, seen in faces.items():
            values = [seen[k] for k in frames if k in seen]
            if len(values) >= VISIBLE * len(frames):
                t.faces[person] = float(np.mean(values))


class _Spans:
    """One person's track spans (id, first frame, end frame) by start, with the latest end up to each: the spans
    a stretch of frames can overlap are found by bisection (a scan of all of them per turn made an hour's
    add_sync quadratic: a person's tracks grow with the input)."""

    def __init__(self, spans: list[tuple[str, int, int]]) -> None:
        self.spans = sorted(spans, key=lambda x: x[1])
        self.starts = [a for _, a, _ in self.spans]
        self.reach = np.maximum.accumulate([b for _, _, b in self.spans])

    def near(self, lo: int, hi: int) -> list[tuple[str, int, int]]:
        """Every span overlapping frames [lo, hi) (and perhaps some that do not)."""
        first = int(np.searchsorted(self.reach, lo, side="right"))  # those before it all end by lo
        return self.spans[first:bisect.bisect_left(self.starts, hi)]  # those after it start at hi or later


def add_sync(turns: list[Turn], tracks: list[Track], sync_of: SyncOf) -> None:
    """Each turn's visible persons' lip-sound sync z (sync.py), on the person's track that covers most of the
    turn; a person whose track covers too little of it for a z (under a second) gets none."""
    spans: dict[str, list[tuple[str, int, int]]] = {}
    for tr in tracks:
        rows = tr.asd or tr.boxes
        if tr.person is not None and rows:
            spans.setdefault(tr.person, []).append((tr.id, round(rows[0][0] * FPS), round(rows[-1][0] * FPS) + 1))
    by_person = {person: _Spans(mine) for person, mine in spans.items()}
    for t in turns:
        frames = _frames(t.start, t.end)
        if not len(frames):
            continue
        lo, hi = int(frames[0]), int(frames[-1]) + 1
        for person in t.faces:
            near = by_person[person].near(lo, hi) if person in by_person else []
            cover = [(min(hi, b) - max(lo, a), tid, max(lo, a), min(hi, b)) for tid, a, b in near]
            best = max(cover, default=None)
            if best is not None and best[0] > 0:
                found = sync_of(best[1], best[2], best[3])
                if found is not None and found.null:
                    t.sync[person] = float(found.z)
                    t.views[person] = found.views


def motion_sync_of(motion: dict[str, list[list[float]]], audio: np.ndarray) -> SyncOf:
    """A SyncOf from the mouth motion ASD measured on its crops (`{track: [[t, motion], ...]}`) against the
    speech-band energy of the soundtrack (sync.motion_sync): for scorers that keep no encoder features."""
    from . import sync

    energy = sync.speech_energy(audio)
    series: dict[str, tuple[int, np.ndarray]] = {}
    for tid, rows in motion.items():
        if rows:
            first = round(rows[0][0] * FPS)
            values = np.zeros(round(rows[-1][0] * FPS) - first + 1)
            for t, v in rows:
                values[round(t * FPS) - first] = v
            series[tid] = (first, values)

    def sync_of(track: str, lo: int, hi: int) -> Sync | None:
        if track not in series:
            return None
        first, values = series[track]
        lo = max(lo, first + 1)  # a track's first frame has no motion yet
        return sync.motion_sync(values[lo - first:hi - first], energy, lo) if hi > lo else None

    return sync_of


def pooled_sync_of(*sources: SyncOf | None) -> SyncOf | None:
    """One SyncOf from several measurements of the same lips (Light-ASD's encoder rows, the mouth's flow):
    their z's pooled by Stouffer (sync.combined), so each turn's z rests on two views of the lips, not one.
    None when no source is given."""
    from . import sync

    given = [f for f in sources if f is not None]
    if len(given) <= 1:
        return given[0] if given else None

    def sync_of(track: str, lo: int, hi: int) -> Sync | None:
        found = [x for f in given if (x := f(track, lo, hi)) is not None and x.null]
        z = sync.combined(*found)
        views = tuple(sorted({v for x in found for v in x.views}))
        return None if z is None else sync.Sync(0.0, 0, z, min(x.null for x in found), views)

    return sync_of


def voice_frames(audio: np.ndarray, start: float = 0.0, end: float | None = None) -> VoiceFrames:
    """CAM++ frame-level features of audio[start:end] in blocks, when the diarization kept none."""
    end = len(audio) / SAMPLE_RATE if end is None else end
    from ..speech import campplus, fbank
    from ..speech.turns import VoiceFrames

    feats, times = [], []
    block = int(_BLOCK * SAMPLE_RATE)
    first, last = int(max(0.0, start) * SAMPLE_RATE), min(len(audio), int(end * SAMPLE_RATE))
    for b0 in range(first, last, block):
        piece = audio[b0:min(b0 + block + 240, last)]
        fb = fbank.fbank(piece)
        if len(fb) < 20:
            continue
        fr = campplus.frame_features(fb)
        t = b0 / SAMPLE_RATE + _HOP * np.arange(len(fr)) + 0.0125
        keep = t < (b0 + block) / SAMPLE_RATE
        feats.append(fr[keep])
        times.append(t[keep])
    if not feats:
        return VoiceFrames(np.zeros(0), np.zeros((0, 512), np.float16))
    return VoiceFrames(np.concatenate(times), np.concatenate(feats).astype(np.float16))


def add_voices(turns: list[Turn], audio: np.ndarray, frames: VoiceFrames | None = None) -> None:
    """A CAM++ embedding for every turn of at least MIN_VOICE seconds, pooled from frame-level features
    (`frames`: the diarization's, else one pass of voice_frames over the turns)."""
    long = [t for t in turns if t.duration >= MIN_VOICE]
    if not long:
        return
    if frames is None:
        frames = voice_frames(audio, min(t.start for t in long) - 0.1, max(t.end for t in long) + 0.1)
    times, frames = frames.times, frames.features
    ordered = bool(np.all(times[1:] >= times[:-1]))  # as the diarization keeps them: each turn by bisection
    spans, owners = [], []
    for t in long:
        if ordered:
            lo, hi = int(np.searchsorted(times, t.start, "left")), int(np.searchsorted(times, t.end, "left"))
        else:  # a scan of every frame per turn
            idx = np.flatnonzero((times >= t.start) & (times < t.end))
            lo, hi = (int(idx[0]), int(idx[-1]) + 1) if len(idx) else (0, 0)
        if hi - lo >= 2:
            spans.append((lo, hi))
            owners.append(t)
    if spans:
        from ..speech import campplus

        for t, e in zip(owners, campplus.pool(frames, spans), strict=True):
            t.voice = e


def acoustic_change(audio: np.ndarray, lo: float, hi: float, speech: list[tuple[float, float]], at: list[float],
                    edge: float = 0.3, order: int = CEPSTRA) -> float | None:
    """The time among `at` (gaps between words) in (lo, hi) where one change of speaker fits the sound best:
    the speech frames (inside `speech` spans, so pauses do not count) on either side each modelled by one
    full-covariance Gaussian of the cepstrum, the split of greatest likelihood (BIC segmentation's statistic
    for one change in a window). CAM++'s frame features see about a second of context (its segment pooling),
    so they place a change only to a few tenths of a second; the cepstrum's statistics change at the frame
    where the voice (and the recording) does. None: no candidate leaves `edge` s of speech on each side."""
    from scipy.fft import dct

    from ..speech import fbank

    a0 = int(max(lo, 0.0) * SAMPLE_RATE)
    logmel = fbank.fbank(audio[a0:int(hi * SAMPLE_RATE)], cmn=False).astype(np.float64)
    if not len(logmel):
        return None
    ceps = dct(logmel, type=2, norm="ortho", axis=1)[:, 1:order + 1]  # c0 (loudness) left out
    t = a0 / SAMPLE_RATE + 0.0125 + 0.01 * np.arange(len(ceps))
    keep = np.zeros(len(t), bool)
    for s0, s1 in speech:
        keep |= (t >= s0) & (t < s1)
    ceps, t = ceps[keep], t[keep]
    need = max(round(edge / 0.01), order + 2)

    def cost(x: np.ndarray) -> float:
        return len(x) * np.linalg.slogdet(np.cov(x.T) + 1e-6 * np.eye(order))[1]

    best = None
    for c in at:
        n = int(np.searchsorted(t, c))
        if lo < c < hi and need <= n <= len(t) - need:
            score = cost(ceps[:n]) + cost(ceps[n:])
            if best is None or score < best[0]:
                best = (score, c)
    return None if best is None else round(float(best[1]), 3)


def refine_change(frames: VoiceFrames, lo: float, hi: float, left: np.ndarray,
                  right: np.ndarray, at: list[float] | None = None, edge: float = 0.3) -> float | None:
    """The time in (lo, hi) where speech changes from voice `left` to voice `right`: the split whose
    two sides' pooled CAM++ embeddings best match them, among the times `at` (the gaps between words,
    where a change of speaker falls) when any lie there, else among all frames. None: too short to tell."""
    times, feats = frames.times, frames.features
    idx = np.flatnonzero((times >= lo) & (times < hi))
    margin = round(edge / _HOP)
    if len(idx) < 2 * margin + 1:
        return None
    rows, local = feats[idx[0]:idx[-1] + 1], times[idx[0]:idx[-1] + 1]
    splits = [(int(c), float(local[c] - _HOP / 2)) for c in range(margin, len(rows) - margin + 1)]
    if at:
        gaps = [(int(np.searchsorted(local, t)), t) for t in at]
        gaps = [(c, t) for c, t in gaps if margin <= c <= len(rows) - margin]
        splits = gaps or splits
    from ..speech import campplus

    a = campplus.pool(rows, [(0, c) for c, _ in splits])
    b = campplus.pool(rows, [(c, len(rows)) for c, _ in splits])
    return round(splits[int(np.argmax(a @ left + b @ right))][1], 3)
