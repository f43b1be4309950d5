"""Long inputs' memory: what a stage holds must not grow faster than the input where it need not."""

from __future__ import annotations

import tracemalloc

import numpy as np

from sceneglot.av import attribute as att
from sceneglot.av.attribute import AttributionSettings
from sceneglot.av.turns import Turn

S = AttributionSettings()


def _turns(n: int, seed: int, people: int = 7) -> list[Turn]:
    """Voices around a few speakers' centres, some seen speaking, some silent, one in ten without a voice."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 64))
    out = []
    for k in range(n):
        p = int(rng.integers(people))
        v = np.round(centres[p] + rng.normal(size=64))  # rounded: equal voices, so ties between pairs
        faces = {f"P{q}": float(rng.normal(2.5 if q == p else -1.0, 1.5))
                 for q in rng.choice(people, size=int(rng.integers(0, 3)), replace=False)}
        out.append(Turn(k, k + 1, f"S{p}", None if rng.random() < 0.1 else v / np.linalg.norm(v), faces))
    return out


def test_voice_clustering_holds_one_n_by_n_matrix_and_blocks_do_not_change_it(monkeypatch):
    # An hour has ~2500 voiced turns; the kept similarity matrix beside the sums and the whole-matrix
    # recomputation per phase made it 168 MiB there (3 x 8 n^2 bytes), 61 MiB with one.
    items = _turns(1200, 5)
    n = sum(t.voice is not None for t in items)
    monkeypatch.setattr(att, "BLOCK_ROWS", 32)  # the rows made at once: a few, beside the n x n sums
    tracemalloc.start()
    try:
        labels = att.cluster_turns(items, S)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.4 * 8 * n * n  # the float64 sums, the bool barred pairs and a block of rows
    assert 1 < max(labels) + 1 < n
    for rows in (7, 4096):  # rows a few or all at a time: the same choices
        monkeypatch.setattr(att, "BLOCK_ROWS", rows)
        assert att.cluster_turns(items, S) == labels
