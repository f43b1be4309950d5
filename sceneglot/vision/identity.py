"""Who is who: SFace embeddings of each track's best crops, then constrained clustering into persons.

Every detection offers a 112x112 crop aligned on YuNet's five landmarks; a
track keeps only its best few, ranked by face size, frontality (nose centred
between the eyes) and sharpness (variance of the Laplacian). A track's
embedding is the normalised mean of its crops' SFace features. Tracks are then
merged greedily by average-linkage cosine similarity, never merging clusters
whose tracks are on screen at the same time (two faces at once are two
people), and never below SFace's own verification threshold (cosine 0.363).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import cv2
import numpy as np

from .. import models
from ..errors import ModelError
from .faces import Detection

SFACE_COSINE = 0.363  # OpenCV Zoo's published same-person threshold for SFace


def quality(det: Detection, scale: float, crop: np.ndarray) -> float:
    """Higher is better: big, frontal, sharp."""
    width = det.width * scale
    size = min(width, 160.0) / 160.0
    lm = det.landmarks.reshape(5, 2)
    eyes = np.linalg.norm(lm[0] - lm[1])
    if eyes < 1e-3:
        return 0.0
    mid = (lm[0] + lm[1]) / 2
    offset = abs(float(np.dot(lm[2] - mid, (lm[1] - lm[0]) / eyes))) / eyes
    frontal = max(0.0, 1.0 - 2.0 * offset)
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    sharp = min(1.0, float(cv2.Laplacian(gray, cv2.CV_64F).var()) / 200.0)
    return size * (0.25 + frontal) * (0.25 + sharp) * det.score


@dataclass
class CropBank:
    """The best `keep` aligned crops per track key, and nothing else."""

    recognizer: cv2.FaceRecognizerSF
    keep: int = 3
    best: dict[int, list[tuple[float, int, np.ndarray]]] = field(default_factory=dict)
    _n: int = 0

    def offer(self, key: int, det: Detection, image: np.ndarray, scale: float) -> None:
        crop = self.recognizer.alignCrop(image, det.row)
        q = quality(det, scale, crop)
        heap = self.best.setdefault(key, [])
        self._n += 1
        item = (q, self._n, crop)
        if len(heap) < self.keep:
            heapq.heappush(heap, item)
        elif q > heap[0][0]:
            heapq.heapreplace(heap, item)

    def embedding(self, key: int) -> np.ndarray | None:
        crops = self.best.get(key)
        if not crops:
            return None
        feats = [self.recognizer.feature(c).reshape(-1).astype(np.float64) for _, _, c in crops]
        feats = [f / (np.linalg.norm(f) + 1e-9) for f in feats]
        mean = np.mean(feats, axis=0)
        return mean / (np.linalg.norm(mean) + 1e-9)


def load_recognizer() -> cv2.FaceRecognizerSF:
    path = models.file("sface")
    try:
        return cv2.FaceRecognizerSF.create(str(path), "", *models.opencv_dnn(models.opencv_cuda_devices()))
    except cv2.error as exc:
        raise ModelError(f"cannot load SFace from {path}: {str(exc).strip().splitlines()[-1]}") from None


def cluster(embeddings: list[np.ndarray], spans: list[tuple[float, float]],
            threshold: float = SFACE_COSINE) -> list[int]:
    """Label per track: average-linkage agglomeration with cannot-link between overlapping spans.

    Cluster-level similarity sums, sizes and cannot-link flags are kept as matrices and
    updated on each merge (two rows and columns), and each row keeps its best partner, so
    a merge rescans only the rows whose best partner was one of the two merged clusters:
    about O(n) work per merge instead of a new n x n average (an hour's thousands of tracks).
    """
    n = len(embeddings)
    if n == 0:
        return []
    E = np.stack(embeddings).astype(np.float64)
    total = E @ E.T  # sum of pairwise similarities between two clusters
    size = np.ones(n)
    start = np.array([a for a, _ in spans], dtype=np.float64)
    end = np.array([b for _, b in spans], dtype=np.float64)
    blocked = (start[:, None] <= end[None, :]) & (start[None, :] <= end[:, None])
    alive = np.ones(n, bool)
    members: list[list[int]] = [[i] for i in range(n)]
    avg = np.where(blocked, -np.inf, total)  # size 1 each: the average is the similarity
    np.fill_diagonal(avg, -np.inf)
    best = np.argmax(avg, axis=1)
    best_val = avg[np.arange(n), best]
    while True:
        i = int(np.argmax(best_val))
        j = int(best[i])
        if not best_val[i] >= threshold:
            break
        i, j = min(i, j), max(i, j)
        total[i, :] += total[j, :]
        total[:, i] += total[:, j]
        size[i] += size[j]
        blocked[i, :] |= blocked[j, :]
        blocked[:, i] |= blocked[:, j]
        alive[j] = False
        members[i] += members[j]
        row = total[i] / (size[i] * size)
        row[blocked[i] | ~alive] = -np.inf
        row[i] = -np.inf
        avg[i, :] = row
        avg[:, i] = row
        avg[j, :] = -np.inf
        avg[:, j] = -np.inf
        best_val[j] = -np.inf
        stale = np.flatnonzero(alive & ((best == i) | (best == j)))
        stale = stale[stale != i]
        for r in (i, *stale.tolist()):
            best[r] = int(np.argmax(avg[r]))
            best_val[r] = avg[r, best[r]]
        rest = np.flatnonzero(alive & (row > best_val))
        best[rest] = i
        best_val[rest] = row[rest]
    labels = [0] * n
    groups = sorted((members[k] for k in range(n) if alive[k]), key=min)
    for k, group in enumerate(groups):
        for m in group:
            labels[m] = k
    return labels
