"""Agglomerative clustering of speaker embeddings with an automatic speaker count.

Average linkage on cosine distance, cut at a distance threshold (tuned on the
sample conversation, not per file) unless the count is fixed; bounds clamp the
automatic count. Clusters with too little support are folded into the nearest
real one: a 1.5 s window of laughter should not become a speaker.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

THRESHOLD = 0.62  # cosine distance at which two clusters stay apart


def cluster(
    emb: np.ndarray, num_speakers: int | None = None, min_speakers: int | None = None,
    max_speakers: int | None = None, threshold: float = THRESHOLD, min_share: float = 0.08,
    min_count: int = 2,
) -> np.ndarray:
    """Labels 0..k-1 per embedding row, numbered by first appearance.

    An automatic cluster with fewer than max(`min_count`, `min_share` x rows) members is folded into
    the nearest other; `min_count=1` suits few embeddings that each stand for a whole turn."""
    n = len(emb)
    if n == 0:
        return np.zeros(0, int)
    if n == 1:
        return np.zeros(1, int)
    tree = linkage(pdist(emb, metric="cosine").clip(0, 2), method="average")
    if num_speakers:
        labels = fcluster(tree, t=min(num_speakers, n), criterion="maxclust")
    else:
        labels = fcluster(tree, t=threshold, criterion="distance")
        labels = _fold_small(emb, labels, max(min_count, round(min_share * n)), keep=min_speakers or 1)
        k = len(set(labels))
        lo, hi = min_speakers or 1, max_speakers or n
        if not lo <= k <= hi:
            labels = fcluster(tree, t=min(max(k, lo), hi, n), criterion="maxclust")
    return _renumber(labels)


def _fold_small(emb: np.ndarray, labels: np.ndarray, min_size: int, keep: int) -> np.ndarray:
    labels = labels.copy()
    while True:
        ids, counts = np.unique(labels, return_counts=True)
        if len(ids) <= keep or counts.min() >= min_size:
            return labels
        small = ids[counts.argmin()]
        big = [i for i in ids if i != small]
        cents = np.stack([_centroid(emb[labels == i]) for i in big])
        for row in np.flatnonzero(labels == small):
            labels[row] = big[int(np.argmax(cents @ emb[row]))]


def _centroid(x: np.ndarray) -> np.ndarray:
    c = x.mean(0)
    return c / max(float(np.linalg.norm(c)), 1e-8)


def _renumber(labels: np.ndarray) -> np.ndarray:
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(v), len(order)) for v in labels], int)


def cluster_weighted(
    emb: np.ndarray, weights: np.ndarray, num_speakers: int | None = None, min_speakers: int | None = None,
    max_speakers: int | None = None, threshold: float = THRESHOLD, min_weight: float = 1.0,
) -> np.ndarray:
    """Labels 0..k-1 (first appearance) for embeddings that each stand for `weights` seconds of speech.

    Average linkage on cosine distance cut at `threshold`; an automatic cluster holding under
    `min_weight` seconds is folded into the nearest other (a speaker needs that much solo speech to
    count); a fixed count cuts the tree there, bounds clamp the automatic count."""
    n = len(emb)
    if n < 2:
        return np.zeros(n, int)
    tree = linkage(pdist(emb, metric="cosine").clip(0, 2), method="average")
    if num_speakers:
        return _renumber(fcluster(tree, t=min(num_speakers, n), criterion="maxclust"))
    labels = fcluster(tree, t=threshold, criterion="distance")
    keep = min_speakers or 1
    while len(set(labels)) > keep:
        ids = np.unique(labels)
        held = np.array([weights[labels == i].sum() for i in ids])
        if held.min() >= min_weight:
            break
        small = ids[held.argmin()]
        cents = np.stack([_centroid(emb[labels == i]) for i in ids if i != small])
        big = ids[ids != small]
        rows = np.flatnonzero(labels == small)
        labels[rows] = big[(emb[rows] @ cents.T).argmax(1)]
    k = len(set(labels))
    lo, hi = min_speakers or 1, max_speakers or n
    if not lo <= k <= hi:
        labels = fcluster(tree, t=min(max(k, lo), hi, n), criterion="maxclust")
    return _renumber(labels)
