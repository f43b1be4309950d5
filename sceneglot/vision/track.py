"""Face tracks inside one shot: Kalman prediction + IoU association, re-found after short occlusions.

Detection runs every k-th frame only; each track carries a constant-velocity
Kalman filter on (cx, cy, w, h) that predicts where the face should be at the
next detection round. Matching is Hungarian on IoU with the predictions, then
a looser centre-distance/scale match for faces that moved fast or came back
after an occlusion of up to `max_gap` seconds. A shot boundary closes every
track. `finish` turns a track's sparse hits into one smoothed box per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..scene import Track


@dataclass
class Hit:
    frame: int
    box: np.ndarray  # source pixels x0, y0, x1, y1
    landmarks: np.ndarray  # source pixels, 10 values
    score: float


class Kalman:
    """Constant-velocity filter on (cx, cy, w, h); time unit is one frame."""

    def __init__(self, box: np.ndarray, frame: int) -> None:
        self.x = np.zeros(8)
        self.x[:4] = _cxcywh(box)
        size = max(self.x[2], self.x[3])
        self.P = np.diag([size * 0.1] * 4 + [size * 0.05] * 4) ** 2
        self.frame = frame

    def _transition(self, dt: int) -> tuple[np.ndarray, np.ndarray]:
        F = np.eye(8)
        F[:4, 4:] = np.eye(4) * dt
        size = max(self.x[2], self.x[3], 1.0)
        q = (size * 0.01) ** 2 * max(dt, 1)
        Q = np.diag([q] * 4 + [q * 0.25] * 4)
        return F, Q

    def predict(self, frame: int) -> np.ndarray:
        """Box expected at `frame` (the state itself is advanced only by `update`)."""
        dt = frame - self.frame
        c = self.x[:4] + self.x[4:] * dt
        c[2:] = np.maximum(c[2:], 1.0)
        return _xyxy(c)

    def update(self, box: np.ndarray, frame: int) -> None:
        F, Q = self._transition(frame - self.frame)
        x = F @ self.x
        P = F @ self.P @ F.T + Q
        z = _cxcywh(box)
        r = (max(z[2], z[3]) * 0.05) ** 2
        H = np.hstack([np.eye(4), np.zeros((4, 4))])
        S = H @ P @ H.T + np.eye(4) * r
        K = P @ H.T @ np.linalg.inv(S)
        self.x = x + K @ (z - H @ x)
        self.P = (np.eye(8) - K @ H) @ P
        self.frame = frame


def _cxcywh(b: np.ndarray) -> np.ndarray:
    return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1]], dtype=np.float64)


def _xyxy(c: np.ndarray) -> np.ndarray:
    return np.array([c[0] - c[2] / 2, c[1] - c[3] / 2, c[0] + c[2] / 2, c[1] + c[3] / 2])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class RawTrack:
    key: int
    shot: int
    hits: list[Hit] = field(default_factory=list)
    kf: Kalman | None = None
    first_miss: int | None = None  # first detection round without a hit after the last hit
    end_frame: int = -1  # last frame the track covers, set when closed

    @property
    def last(self) -> int:
        return self.hits[-1].frame


@dataclass(frozen=True)
class TrackSettings:
    every: int = 5  # detect on every k-th frame
    max_gap: float = 1.0  # seconds a lost face may stay unseen and still be re-found
    iou_min: float = 0.25
    reid_distance: float = 0.6  # centre distance / face size for the loose match
    reid_scale: float = 1.6  # allowed size ratio for the loose match
    min_hits: int = 2
    sure_score: float = 0.9  # a one-hit track is kept only above this score
    smooth: float = 2.0  # Gaussian sigma in frames for the per-frame boxes


class Tracker:
    """Online association of detection rounds; closed tracks collect in `finished`."""

    def __init__(self, fps: float, settings: TrackSettings | None = None) -> None:
        self.s = settings or TrackSettings()
        self.max_gap = max(1, round(self.s.max_gap * fps))
        self.active: list[RawTrack] = []
        self.finished: list[RawTrack] = []
        self.shot = 0
        self._next = 0

    def step(self, frame: int, hits: list[Hit]) -> list[RawTrack | None]:
        """Associate one detection round; returns the track each hit went to."""
        preds = [t.kf.predict(frame) for t in self.active]
        owner: list[RawTrack | None] = [None] * len(hits)
        free_t, free_d = set(range(len(self.active))), set(range(len(hits)))
        if preds and hits:
            # scipy imported where used, not with this module: pipeline.analyze imports vision before its speech
            # thread starts, and scipy.optimize and scipy.ndimage were ~0.55 CPU-s of that (the speech thread's
            # diarization imports scipy.optimize itself).
            from scipy.optimize import linear_sum_assignment

            cost = np.array([[1.0 - iou(p, h.box) for h in hits] for p in preds])
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if 1.0 - cost[r, c] >= self.s.iou_min:
                    owner[c] = self.active[r]
                    free_t.discard(r)
                    free_d.discard(c)
        # Loose pass: fast motion, or a face coming back after an occlusion.
        pairs = []
        for r in free_t:
            p = _cxcywh(preds[r])
            size = float(np.sqrt(p[2] * p[3]))
            for c in free_d:
                q = _cxcywh(hits[c].box)
                dist = float(np.hypot(p[0] - q[0], p[1] - q[1])) / max(size, 1.0)
                ratio = float(np.sqrt(q[2] * q[3])) / max(size, 1.0)
                if dist < self.s.reid_distance and 1 / self.s.reid_scale < ratio < self.s.reid_scale:
                    pairs.append((dist, r, c))
        for _, r, c in sorted(pairs):
            if r in free_t and c in free_d:
                owner[c] = self.active[r]
                free_t.discard(r)
                free_d.discard(c)
        for c, t in enumerate(owner):
            if t is None:
                t = RawTrack(key=self._next, shot=self.shot, kf=Kalman(hits[c].box, frame))
                self._next += 1
                self.active.append(t)
                owner[c] = t
            else:
                t.kf.update(hits[c].box, frame)
            t.hits.append(hits[c])
            t.first_miss = None
        still = []
        for t in self.active:
            if t.last != frame:
                t.first_miss = t.first_miss if t.first_miss is not None else frame
                if frame - t.last > self.max_gap:
                    self._close(t, t.first_miss - 1)
                    continue
            still.append(t)
        self.active = still
        return owner

    def _close(self, t: RawTrack, limit: int) -> None:
        end = t.last + self.s.every - 1
        if t.first_miss is not None:
            end = min(end, t.first_miss - 1)
        t.end_frame = max(t.last, min(end, limit))
        t.kf = None
        self.finished.append(t)

    def cut(self, last_frame: int) -> None:
        """A shot ends at `last_frame`: no track may continue past it."""
        for t in self.active:
            self._close(t, last_frame)
        self.active = []
        self.shot += 1

    def keep(self, t: RawTrack) -> bool:
        return len(t.hits) >= self.s.min_hits or max(h.score for h in t.hits) >= self.s.sure_score


def finish(t: RawTrack, times: np.ndarray, track_id: str, smooth: float = 2.0) -> Track:
    """One box per frame from the first hit to `end_frame`: linear interpolation, then Gaussian smoothing."""
    frames = np.arange(t.hits[0].frame, t.end_frame + 1)
    at = np.array([h.frame for h in t.hits], dtype=np.float64)
    raw = np.array([h.box for h in t.hits])
    boxes = np.stack([np.interp(frames, at, raw[:, j]) for j in range(4)], axis=1)
    if smooth > 0 and len(frames) > 2:
        from scipy.ndimage import gaussian_filter1d  # where used, as linear_sum_assignment in Tracker.step

        boxes = gaussian_filter1d(boxes, smooth, axis=0, mode="nearest")
    ts = times[frames]
    rows = [[round(float(tt), 6), *(round(float(v), 1) for v in b)] for tt, b in zip(ts, boxes, strict=True)]
    landmarks = [[round(float(times[h.frame]), 6), *(round(float(v), 1) for v in h.landmarks)] for h in t.hits]
    return Track(id=track_id, start=rows[0][0], end=rows[-1][0], boxes=rows, landmarks=landmarks)
