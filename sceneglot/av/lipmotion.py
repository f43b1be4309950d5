"""FALLBACK active-speaker scores used only when the Light-ASD weights are missing: lip motion x voice activity.

Not a learned model. Per track and 25-fps frame it measures how much the
mouth region changes (mean absolute difference of a small grey patch around
the mouth corners, or the lower face when no landmarks) and correlates that,
over a sliding second, with the loudness of the soundtrack. A face whose mouth
moves when there is voice and rests when there is none gets a positive score.
Lips that move to someone else's voice fool it far more easily than Light-ASD.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from .. import media
from ..jobs import step
from ..scene import Track
from . import features
from .asd import smooth

NAME = "lip-motion fallback (no Light-ASD weights)"
WINDOW = 12  # frames either side for the running correlation
GAIN = 6.0  # correlation -> logit-like score
_PATCH = (32, 16)


def voice_activity(audio: np.ndarray, frames: int) -> np.ndarray:
    """Per 25-fps frame loudness in 0..1: dB of the frame's RMS between the clip's 10th and 95th percentiles."""
    hop = features.SAMPLE_RATE // features.FPS
    out = np.zeros(frames)
    n = min(frames, len(audio) // hop)
    if n == 0:
        return out
    db = np.empty(n)
    step = 60 * features.FPS  # a minute of frames at a time: `audio` may be a soundtrack.Soundtrack
    for f0 in range(0, n, step):
        f1 = min(n, f0 + step)
        blocks = np.asarray(audio[f0 * hop:f1 * hop], np.float64).reshape(f1 - f0, hop)
        db[f0:f1] = 10 * np.log10(np.mean(blocks**2, axis=1) + 1e-10)
    lo, hi = np.percentile(db, 10), np.percentile(db, 95)
    out[:n] = np.clip((db - lo) / max(hi - lo, 1e-6), 0, 1)
    return out


def _mouth_box(box: np.ndarray, marks: np.ndarray | None) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if marks is not None:
        rx, ry, lx, ly = marks[6:10]
        cx, cy = (rx + lx) / 2, (ry + ly) / 2
        half = max(abs(lx - rx), 0.2 * w) * 0.75
        return int(cx - half), int(cy - half / 2), int(cx + half), int(cy + half)
    return int(x0 + 0.25 * w), int(y0 + 0.65 * h), int(x0 + 0.75 * w), int(y0 + 0.98 * h)


def _patch(image: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray | None:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(rect[0], 0), max(rect[1], 0), min(rect[2], w), min(rect[3], h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = cv2.resize(image[y0:y1, x0:x1], _PATCH, interpolation=cv2.INTER_AREA).astype(np.float32)
    return (patch - patch.mean()) / (patch.std() + 1.0)


def correlate(motion: np.ndarray, voice: np.ndarray) -> np.ndarray:
    """Running Pearson correlation (±WINDOW frames) of mouth motion with loudness, scaled to a score."""
    n = len(motion)
    out = np.zeros(n)
    for i in range(n):
        lo, hi = max(0, i - WINDOW), min(n, i + WINDOW + 1)
        m, v = motion[lo:hi], voice[lo:hi]
        if m.std() < 1e-6:  # a still mouth is not speaking, whatever is heard
            out[i] = -0.25 * GAIN
            continue
        if v.std() < 1e-6:  # steady sound: a moving mouth under a loud voice is weak evidence for
            out[i] = 0.25 * GAIN * (1.0 if v.mean() > 0.5 and m.mean() > 0.1 else -1.0)
            continue
        out[i] = GAIN * float(np.corrcoef(m, v)[0, 1])
    return out


def score_tracks(path, tracks: Iterable[Track], audio: np.ndarray) -> dict[str, list[list[float]]]:
    """Same contract as asd.score_tracks: `{track_id: [[t, score], ...]}` at 25 fps, > 0 speaking."""
    tracks = list(tracks)
    plans = {}
    for tr in tracks:
        times = features.frame_times(tr.start, tr.end)
        if not len(times):
            continue
        rows = np.asarray(tr.boxes, np.float64).reshape(-1, 5)
        boxes = np.stack([np.interp(times, rows[:, 0], rows[:, k]) for k in range(1, 5)], axis=1)
        marks = None
        if tr.landmarks:
            lm = np.asarray(tr.landmarks, np.float64)
            marks = np.stack([np.interp(times, lm[:, 0], lm[:, k]) for k in range(1, 11)], axis=1)
        plans[tr.id] = (round(times[0] * features.FPS), times, boxes, marks, [], [None])
    if not plans:
        return {tr.id: [] for tr in tracks}
    last = max(p[0] + len(p[1]) for p in plans.values())
    # Decoded from the first track's frame (a seek to the keyframe before it), not from the file's start, as
    # asd.score_tracks does: a task of late tracks (pipeline._asd_tasks) decodes its own span.
    origin = min(p[0] for p in plans.values())
    for frame in media.iter_frames(path, fps=features.FPS, start=origin / features.FPS,
                                   end=(last + 0.5) / features.FPS, grey=True):
        k = origin + frame.index
        step(k, last + 1, "frames")  # progress; a cancelled job stops here
        for first, times, boxes, marks, motion, prev in plans.values():
            i = k - first
            if 0 <= i < len(times):
                patch = _patch(frame.image, _mouth_box(boxes[i], None if marks is None else marks[i]))
                moved = 0.0 if patch is None or prev[0] is None else float(np.mean(np.abs(patch - prev[0])))
                motion.append(moved)
                prev[0] = patch
    voice = voice_activity(audio, last + 1)
    out: dict[str, list[list[float]]] = {tr.id: [] for tr in tracks}
    for tid, (first, times, _, _, motion, _) in plans.items():
        m = np.asarray(motion)
        scores = smooth(correlate(m, voice[first:first + len(m)]))
        out[tid] = [[round(float(t), 3), round(float(s), 3)] for t, s in zip(times, scores, strict=False)]
    return out
