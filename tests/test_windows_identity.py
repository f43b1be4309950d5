"""Person clustering over a whole long input: the incremental merge equals the plain n x n recomputation."""

from __future__ import annotations

import numpy as np

from sceneglot.vision.identity import cluster


def _reference(embeddings, spans, threshold):
    """The textbook loop: recompute every cluster-pair average after each merge (O(n^2) per merge)."""
    E = np.stack(embeddings).astype(np.float64)
    n = len(E)
    total, size = E @ E.T, np.ones(n)
    start, end = np.array([a for a, _ in spans], float), np.array([b for _, b in spans], float)
    blocked = (start[:, None] <= end[None, :]) & (start[None, :] <= end[:, None])
    alive = np.ones(n, bool)
    members = [[i] for i in range(n)]
    while True:
        avg = total / np.outer(size, size)
        avg[blocked | ~alive[:, None] | ~alive[None, :]] = -np.inf
        np.fill_diagonal(avg, -np.inf)
        i, j = np.unravel_index(int(np.argmax(avg)), avg.shape)
        if avg[i, j] < threshold:
            break
        total[i, :] += total[j, :]
        total[:, i] += total[:, j]
        size[i] += size[j]
        blocked[i, :] |= blocked[j, :]
        blocked[:, i] |= blocked[:, j]
        alive[j] = False
        members[i] += members[j]
    return sorted(sorted(members[k]) for k in range(n) if alive[k])


def _groups(labels):
    out: dict[int, list[int]] = {}
    for i, lab in enumerate(labels):
        out.setdefault(lab, []).append(i)
    return sorted(out.values())


def _tracks(rng, people, count, dim=128, noise=0.9):
    """Unit embeddings around `people` identities; tracks of 2-20 s laid one after another with overlaps."""
    centres = rng.normal(size=(people, dim))
    who = rng.integers(0, people, count)
    emb = centres[who] + noise * rng.normal(size=(count, dim)) * np.linalg.norm(centres, axis=1).mean() / dim**0.5
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    t0 = np.cumsum(rng.uniform(0, 8, count))
    return list(emb), [(float(a), float(a + rng.uniform(2, 20))) for a in t0]


def test_incremental_merge_equals_reference():
    rng = np.random.default_rng(7)
    for people, count in ((3, 12), (8, 60), (20, 250)):
        emb, spans = _tracks(rng, people, count)
        got = _groups(cluster(emb, spans, 0.363))
        assert got == _reference(emb, spans, 0.363)
        assert 1 < len(got) < count  # the case merges some tracks and keeps people apart

