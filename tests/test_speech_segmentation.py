"""pyannote segmentation-3.0 (PyanNet) written out: strict load, safe checkpoint reading, overlap found."""

import io
import itertools
import pickle

import numpy as np
import pytest
import torch

from sceneglot import models
from sceneglot.media import read_audio
from sceneglot.speech import pyannet, segmentation
from sceneglot.speech.diarize import diarize
from sceneglot.speech.metrics import read_rttm
from tests.media_fixtures import DIAR_WAV, TWOSHOT


def test_powerset_maps_to_local_speakers():
    logp = np.log(np.eye(7, dtype=np.float32) + 1e-6)
    assert segmentation.powerset_to_speakers(logp).tolist() == [
        [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]]


def test_chunk_starts_cover_the_audio():
    assert segmentation.chunk_starts(50_000, 16_000) == [0]
    starts = segmentation.chunk_starts(16_000 * 25 + 5, 16_000)
    assert starts[0] == 0 and starts[-1] + segmentation.WINDOW == 16_000 * 25 + 5
    assert all(b - a <= 16_000 for a, b in itertools.pairwise(starts))


def test_checkpoint_unpickler_never_runs_foreign_code():
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    blob = pickle.dumps({"state_dict": {}, "x": Evil()})
    out = pyannet._Unpickler(io.BytesIO(blob)).load()  # print is replaced by an inert stand-in
    assert isinstance(out["x"], pyannet._Inert)


@pytest.mark.slow
def test_pyannet_loads_strictly_with_documented_shapes():
    net = pyannet.load()
    state = pyannet.read_state_dict(models.path("pyannote-segmentation-3.0") / "pytorch_model.bin")
    assert set(state) == set(net.state_dict())
    assert 1_400_000 < sum(p.numel() for p in net.parameters()) < 1_600_000
    with torch.inference_mode():
        out = net(torch.randn(2, 1, segmentation.WINDOW) * 0.05)
    assert out.shape == (2, 589, 7)
    assert torch.allclose(out.exp().sum(-1), torch.ones(2, 589), atol=1e-4)


@pytest.mark.slow
def test_segmentation_finds_overlap_in_sample():
    audio = read_audio(DIAR_WAV)
    starts, act = segmentation.segment(audio, step=1.0)
    assert act.shape[1:] == (589, 3)
    times = segmentation.frame_times(589)
    grid = np.arange(0, 30, 0.05)
    total, cover = np.zeros(len(grid)), np.zeros(len(grid))
    for s0, a in zip(starts, act, strict=True):
        idx = np.clip(np.rint((grid - s0 / 16000 - times[0]) / (270 / 16000)).astype(int), 0, 588)
        inside = (grid >= s0 / 16000) & (grid < s0 / 16000 + 10)
        total[inside] += a[idx[inside]].sum(1)
        cover[inside] += 1
    speakers = total / np.maximum(cover, 1)
    overlap = grid[speakers >= 1.5]
    assert ((overlap > 10.5) & (overlap < 11.1)).sum() >= 5  # reference overlap 10.57-11.03 s
    solo = (grid > 22.5) & (grid < 27.5)  # one speaker alone in sample.rttm
    assert (speakers[solo] >= 1.5).mean() < 0.05 and (speakers[solo] >= 0.5).mean() > 0.8
    silent = grid < 6.0  # nobody speaks before 6.69 s
    assert (speakers[silent] >= 0.5).mean() < 0.05


@pytest.mark.slow
def test_diarization_turns_overlap_where_two_people_talk():
    turns = diarize(read_audio(DIAR_WAV))
    at = {t.speaker for t in turns if t.start <= 10.8 <= t.end}
    assert len(at) == 2
    ref = read_rttm(DIAR_WAV.with_suffix(".rttm"))
    assert sum(t.end - t.start for t in turns) > sum(t.end - t.start for t in ref) - 1.0


@pytest.mark.slow
def test_short_clip_one_chunk_two_voices():
    """8 s, one segmentation chunk, one embedding per voice: both voices stay apart (truth: change at 4.5 s)."""
    turns = diarize(read_audio(TWOSHOT))
    assert [t.speaker for t in turns][-1] == "S1" and {t.speaker for t in turns} == {"S0", "S1"}
    change = min(t.start for t in turns if t.speaker == "S1")
    assert 4.0 < change < 4.8 and max(t.end for t in turns if t.speaker == "S0") < 4.8


AMI = DIAR_WAV.parent / "ami"


@pytest.fixture(scope="module")
def ami_results():
    """(reference turns, hypothesis turns, UEM) of the ten AMI excerpts, diarized once for the module."""
    from sceneglot.speech.metrics import read_uem

    out = {}
    for i in range(10):
        uri = f"trn0{i}"
        out[uri] = (read_rttm(AMI / "ami_train.rttm", uri), diarize(read_audio(AMI / f"{uri}.wav")),
                    read_uem(AMI / "ami_train.uem", uri))
    return out


@pytest.mark.slow
def test_ami_every_excerpt_with_speech_gets_speech(ami_results):
    for uri, (ref, hyp, _) in ami_results.items():
        assert ref and hyp, uri  # trn01 and trn02 (a few short utterances) used to come out empty


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured 25.9 % pooled DER (miss 18.0, false alarm 2.6, confusion 5.2) "
                   "and the speaker count right on 5 of 10; segmentation-3.0's per-frame speaker count alone leaves "
                   "19.7 % miss + false alarm with every speaker named perfectly (2.9 % where 3+ talk), and naming "
                   "each chunk's local speakers from the reference reaches 23.8 % and 7 of 10 counts "
                   "(benchmarks/diarization.py: floor and named columns)")
def test_ami_meets_the_target(ami_results):
    from sceneglot.speech.metrics import der_parts

    pooled = None
    right = 0
    for ref, hyp, uem in ami_results.values():
        parts = der_parts(ref, hyp, uem)
        pooled = parts if pooled is None else pooled + parts
        right += len({t.speaker for t in ref}) == len({t.speaker for t in hyp})
    assert pooled.der <= 0.18 and right >= 8
