"""Shot boundaries (hard cuts and fades through black) from tiny thumbnails, online.

Each frame is reduced to a 64x36 HSV thumbnail; the score of a frame is the
mean absolute HSV difference to the previous thumbnail. A cut is a score that
stands out from the recent past (a multiple of the running median) and from an
absolute floor, so talking-head motion does not trigger it but a change of
camera does. A fade is a run of near-black frames between lit ones; the new
shot starts at the first lit frame after it. Only a few numbers per frame are
kept, never the frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from ..scene import Shot

THUMB = (64, 36)


@dataclass(frozen=True)
class ShotSettings:
    min_score: float = 12.0  # absolute floor for a cut (mean |dHSV|, 0..255)
    ratio: float = 4.0  # a cut scores this many times the recent median ...
    margin: float = 4.0  # ... plus this much
    window: int = 25  # frames of history for the median
    min_shot: float = 0.4  # seconds: no second boundary sooner than this
    dark: float = 16.0  # mean V below this is "black" for fades


def thumbnail(image: np.ndarray) -> np.ndarray:
    small = cv2.resize(image, THUMB, interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2HSV).astype(np.int16)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |dH|, |dS|, |dV|, with hue on its circle (OpenCV hue runs 0..179)."""
    d = np.abs(a - b)
    d[..., 0] = np.minimum(d[..., 0], 180 - d[..., 0])
    return float(d.mean())


class ShotDetector:
    """Feed frames in order; `update` says whether a new shot starts at that frame."""

    def __init__(self, settings: ShotSettings | None = None) -> None:
        self.s = settings or ShotSettings()
        self._prev: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=self.s.window)
        self._last_cut = -1e9
        self._dark_run = False
        self._lit_seen = False

    def update(self, image: np.ndarray, time: float) -> bool:
        hsv = thumbnail(image)
        v_mean = float(hsv[..., 2].mean())
        score = 0.0 if self._prev is None else _distance(hsv, self._prev)
        self._prev = hsv
        cut = False
        if v_mean < self.s.dark:
            self._dark_run = self._lit_seen  # a fade only counts after something was shown
        else:
            if self._dark_run:
                cut = True  # first lit frame after a fade through black
            elif self._recent:
                base = float(np.median(self._recent))
                cut = score > max(self.s.min_score, self.s.ratio * base + self.s.margin)
            self._dark_run = False
            self._lit_seen = True
        if cut and time - self._last_cut < self.s.min_shot:
            cut = False
        if cut:
            self._last_cut = time
            self._recent.clear()
        else:
            self._recent.append(score)
        return cut


def shots_from_starts(starts: list[float], end: float) -> list[Shot]:
    """Contiguous shots from the start times of every shot after the first."""
    edges = [0.0, *[s for s in starts if 0.0 < s < end], end]
    return [Shot(start=round(a, 6), end=round(b, 6)) for a, b in pairwise(edges) if b > a]
