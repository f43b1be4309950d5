"""Face boxes and five landmarks with YuNet (cv2.FaceDetectorYN, weights from the model store).

Detection runs on the reduced frame the caller already decoded; results are in
that frame's pixels, and `Detection.scaled` maps them to source pixels. The
raw YuNet row is kept because SFace's `alignCrop` wants exactly that layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .. import models
from ..errors import ModelError


@dataclass
class Detection:
    box: np.ndarray  # x0, y0, x1, y1 (float)
    landmarks: np.ndarray  # 10 values: right eye, left eye, nose, right mouth, left mouth (x, y)
    score: float
    row: np.ndarray  # YuNet's 15 values, in the detection frame's pixels

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    def resized(self, f: float) -> Detection:
        """The same face in a frame `f` times larger (YuNet row included)."""
        row = self.row.copy()
        row[:14] *= f
        return Detection(box=self.box * f, landmarks=self.landmarks * f, score=self.score, row=row)

    def scaled(self, sx: float, sy: float) -> tuple[np.ndarray, np.ndarray]:
        box = self.box * np.array([sx, sy, sx, sy])
        lm = self.landmarks * np.tile([sx, sy], 5)
        return box, lm


class FaceDetector:
    """YuNet on frames of one fixed size (YuNet wants its input size set up front)."""

    def __init__(self, size: tuple[int, int], score_threshold: float = 0.7, nms_threshold: float = 0.3,
                 top_k: int = 50) -> None:
        path = models.file("yunet")
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", size, score_threshold, nms_threshold, top_k,
                                                  *models.opencv_dnn(models.opencv_cuda_devices()))
        except cv2.error as exc:
            raise ModelError(f"cannot load YuNet from {path}: {str(exc).strip().splitlines()[-1]}") from None
        self.size = size

    def detect(self, image: np.ndarray) -> list[Detection]:
        h, w = image.shape[:2]
        if (w, h) != self.size:
            self._net.setInputSize((w, h))
            self.size = (w, h)
        _, rows = self._net.detect(image)
        if rows is None:
            return []
        out = []
        for r in rows:
            x, y, bw, bh = (float(v) for v in r[:4])
            box = np.array([max(0.0, x), max(0.0, y), min(float(w), x + bw), min(float(h), y + bh)])
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            out.append(Detection(box=box, landmarks=r[4:14].astype(np.float64), score=float(r[14]),
                                 row=r.copy()))
        return out


class AdaptiveDetector:
    """YuNet at the decode size, or at half of it while every face on screen is big enough.

    A half-size round costs about a third of a full one. A full round still runs
    on a shot's first frame, after an empty round, when any face is small, and at
    least every `full_every` rounds, so new small faces are not missed for long.
    """

    def __init__(self, size: tuple[int, int], score_threshold: float = 0.7, min_small: float = 48.0,
                 full_every: int = 5) -> None:
        self.full = FaceDetector(size, score_threshold)
        half = (max(2, size[0] // 2), max(2, size[1] // 2))
        self.half = FaceDetector(half, score_threshold) if min(half) >= 32 else None
        self.min_small = min_small
        self.full_every = full_every
        self._since_full = 0
        self._small_ok = False

    def reset(self) -> None:
        """A new shot: look at full size first."""
        self._small_ok = False

    def detect(self, image: np.ndarray) -> list[Detection]:
        use_half = self.half is not None and self._small_ok and self._since_full < self.full_every
        if use_half:
            small = cv2.resize(image, self.half.size, interpolation=cv2.INTER_AREA)
            f = image.shape[1] / self.half.size[0]
            dets = [d.resized(f) for d in self.half.detect(small)]
            self._since_full += 1
        else:
            dets = self.full.detect(image)
            self._since_full = 0
        self._small_ok = bool(dets) and min(d.width for d in dets) >= self.min_small
        return dets
