"""Segmentation-3.0 and CAM++ exported to ONNX compute what the torch networks compute, on real speech."""

import numpy as np
import pytest
import torch

from sceneglot.media import read_audio
from sceneglot.speech import campplus, campplus_net, export, fbank, pyannet, segmentation
from tests.media_fixtures import DIAR_WAV, EVAL

AMI = EVAL / "diarization" / "ami" / "trn01.wav"


def test_exports_are_named_by_checkpoint_digest_and_version():
    paths = export.onnx_paths()
    assert set(paths) == {"segmentation", "campplus-frames", "campplus-dense"}
    version = f"-v{export.VERSION}-"
    assert paths["segmentation"].name == f"pyannote-segmentation-3.0-da85c29829d4002d{version}segmentation.onnx"
    assert paths["campplus-frames"].name.startswith("campplus-92f29b94e6948786-")
    assert all(p.is_file() for p in paths.values())


@pytest.mark.slow
@pytest.mark.parametrize("wav", [DIAR_WAV, AMI], ids=["sample", "ami-trn01"])
def test_segmentation_onnx_equals_torch(wav):
    audio = read_audio(wav)
    starts = [0, 48_000, len(audio) - segmentation.WINDOW, len(audio) - segmentation.WINDOW // 2]  # last: padded
    onnx = segmentation.probabilities(audio, starts)
    chunk = np.zeros((len(starts), 1, segmentation.WINDOW), np.float32)
    for j, s in enumerate(starts):
        piece = audio[s:s + segmentation.WINDOW]
        chunk[j, 0, :len(piece)] = piece
    with torch.inference_mode():
        ref = pyannet.load()(torch.from_numpy(chunk)).exp().numpy()
    assert onnx.shape == ref.shape == (len(starts), 589, 7)
    assert np.abs(onnx - ref).max() < 1e-4
    assert (onnx.argmax(-1) == ref.argmax(-1)).mean() > 0.999  # the hard labels diarization reads


@pytest.mark.slow
@pytest.mark.parametrize("frames", [20, 99, 100, 101, 777, 2001])  # the masks' 100-frame segments cut anywhere
def test_campplus_onnx_equals_torch_at_any_length(frames):
    audio = read_audio(DIAR_WAV)[int(6.5 * 16000):]
    fb = fbank.fbank(audio[:fbank.SHIFT * (frames - 1) + fbank.FRAME])
    assert len(fb) == frames
    net = campplus_net.load()
    with torch.inference_mode():
        ref = campplus_net.FrameFeatures(net)(torch.from_numpy(fb)[None])[0].numpy()
        emb = net(torch.from_numpy(fb)[None])[0].numpy()
    got = campplus.frame_features(fb)
    assert got.shape == ref.shape == ((frames + 1) // 2, 512)
    assert np.abs(got - ref).max() < 1e-4 * max(1.0, float(np.abs(ref).max()))
    emb /= np.linalg.norm(emb)
    assert np.abs(campplus.embed([fb])[0] - emb).max() < 1e-5
    assert np.abs(campplus.pool(got, [(0, len(got))])[0] - emb).max() < 1e-5
