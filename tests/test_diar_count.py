"""The speaker-count lower bound from voices the segmentation hears at once (no models needed)."""

import numpy as np

from sceneglot.speech import cluster
from sceneglot.speech.diarize import LocalSpeaker, assign_speakers, heard_at_once


def _voice(chunk, index, clean, active, direction):
    return LocalSpeaker(chunk, index, clean, np.asarray(direction, np.float32), active)


def test_heard_at_once_needs_two_chunks_each_voice_long_enough():
    one = [_voice(0, 0, 2.0, 3.0, [1, 0]), _voice(0, 1, 0.0, 1.0, [0, 1])]
    assert heard_at_once(one) == 1  # one chunk's pair may be a glitch
    two = [*one, _voice(1, 0, 2.0, 3.0, [1, 0]), _voice(1, 1, 0.0, 1.0, [0, 1])]
    assert heard_at_once(two) == 2
    short = [_voice(c, j, 1.0, 0.2 if j else 3.0, [1, 0]) for c in range(3) for j in range(2)]
    assert heard_at_once(short) == 1  # 0.2 s beside another voice proves nobody


def test_voice_heard_over_another_is_not_folded_into_it():
    """Only the main voice has solo speech, and alone it clusters into one speaker; heard beside it in
    many chunks, the second voice proves a second speaker, and within each chunk the two get different
    ones (the Hungarian assignment), instead of both going to the one centroid."""
    rng = np.random.default_rng(0)
    main, other = rng.normal(size=16), rng.normal(size=16)
    local = []
    for c in range(10):
        local.append(_voice(c, 0, 5.0, 6.0, main + 0.05 * rng.normal(size=16)))
        local.append(_voice(c, 1, 0.0, 2.0, other + 0.05 * rng.normal(size=16)))
    weights = np.full(10, 5.0)
    assert cluster.cluster_weighted(np.stack([x.embedding for x in local[::2]]), weights).max() == 0
    assign, k = assign_speakers(local)
    assert k == 2
    assert all(assign[(c, 0)] != assign[(c, 1)] for c in range(10))
    assert assign_speakers(local, max_speakers=1)[1] == 1  # an explicit bound still wins
    assert assign_speakers(local[::2])[1] == 1  # the main voice alone stays one speaker
