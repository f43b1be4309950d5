"""Person clustering over a whole long input: the incremental merge gives average linkage's clusters.

The expectation comes from elsewhere: SciPy's average linkage (UPGMA) on cosine distances, with a distance no
merge below the cut can reach between overlapping tracks (an average over a pair of clusters that holds one
such pair of tracks stays far above the cut), cut at 1 - threshold; and the definition's own properties,
computed from the embeddings: no person holds two tracks seen at once, and no two persons that could be joined
are similar enough on average to be.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from sceneglot.vision.identity import cluster

APART = 1e12  # a cosine distance is at most 2: averaged over at most n^2 pairs, this stays far above any cut


def _overlap(spans):
    start, end = np.array([a for a, _ in spans], float), np.array([b for _, b in spans], float)
    return (start[:, None] <= end[None, :]) & (start[None, :] <= end[:, None])


def _scipy_groups(embeddings, spans, threshold):
    E = np.stack(embeddings).astype(np.float64)
    distance = 1.0 - E @ E.T
    distance[_overlap(spans)] = APART
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return _groups(fcluster(tree, t=1.0 - threshold, criterion="distance"))


def _groups(labels):
    out: dict[int, list[int]] = {}
    for i, lab in enumerate(labels):
        out.setdefault(int(lab), []).append(i)
    return sorted(out.values())


def _tracks(rng, people, count, dim=128, noise=0.9):
    """Unit embeddings around `people` identities; tracks of 2-20 s laid one after another with overlaps."""
    centres = rng.normal(size=(people, dim))
    who = rng.integers(0, people, count)
    emb = centres[who] + noise * rng.normal(size=(count, dim)) * np.linalg.norm(centres, axis=1).mean() / dim**0.5
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    t0 = np.cumsum(rng.uniform(0, 8, count))
    return list(emb), [(float(a), float(a + rng.uniform(2, 20))) for a in t0]


def test_incremental_merge_gives_average_linkage_with_cannot_link():
    rng = np.random.default_rng(7)
    threshold = 0.363
    for people, count in ((3, 12), (8, 60), (20, 250), (4, 150)):
        emb, spans = _tracks(rng, people, count)
        got = _groups(cluster(emb, spans, threshold))
        assert got == _scipy_groups(emb, spans, threshold)
        assert 1 < len(got) < count  # the case merges some tracks and keeps people apart
        E, seen_at_once = np.stack(emb), _overlap(spans)
        for g in got:
            assert not seen_at_once[np.ix_(g, g)][~np.eye(len(g), dtype=bool)].any()
        for a, g in enumerate(got):
            for h in got[a + 1:]:
                if not seen_at_once[np.ix_(g, h)].any():
                    assert (E[g] @ E[h].T).mean() < threshold  # else the two would have been joined
