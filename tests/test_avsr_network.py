"""LRW TCN models: checkpoint layout, ONNX ensemble export and parity of PyTorch, onnxruntime and OpenCV dnn.

Without checkpoints (they are non-commercial and not shipped) the networks get
deterministic random weights and batch-norm statistics; with SCENEGLOT_LRW
naming a checkpoint folder the same parity runs on the real ensemble too.
"""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from sceneglot import media
from sceneglot.avsr import lrw, network, roi
from sceneglot.errors import InputError
from tests.media_fixtures import GRID

pytestmark = pytest.mark.slow


def _random_pair(act: str):
    return network.randomised(network.VideoModel(act), 1), network.randomised(network.AudioModel(act), 2)


def test_parameter_names_and_shapes_are_the_published_ones():
    video, audio = _random_pair("prelu")
    v, a = video.state_dict(), audio.state_dict()
    assert v["frontend3D.0.weight"].shape == (64, 1, 5, 7, 7)
    assert v["frontend3D.2.weight"].shape == (64,)  # PReLU of the first release
    assert v["trunk.layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert v["trunk.layer4.1.relu2.weight"].shape == (512,)
    assert v["tcn.mb_ms_tcn.network.0.cbcr0_2.conv.weight"].shape == (256, 512, 7)
    assert v["tcn.mb_ms_tcn.network.3.cbcr1_0.batchnorm.running_var"].shape == (256,)
    assert v["tcn.mb_ms_tcn.network.3.downsample.weight"].shape == (768, 768, 1)
    assert v["tcn.mb_ms_tcn.network.1.relu_final.weight"].shape == (768,)
    assert v["tcn.tcn_output.weight"].shape == (500, 768)
    assert a["trunk.conv1.weight"].shape == (64, 1, 80)
    assert a["trunk.relu.weight"].shape == (64,)
    # 36.4 M parameters: the published ResNet-18 + MS-TCN visual model's size.
    assert sum(p.numel() for p in video.parameters()) == pytest.approx(36.36e6, rel=0.005)
    swish = network.VideoModel("swish").state_dict()
    assert network.activation_of(swish) == "swish" and network.activation_of(v) == "prelu"
    assert not any("relu" in k or "non_lin" in k for k in swish)  # Swish has no parameters


def test_audio_trunk_gives_one_feature_per_640_samples():
    _, audio = _random_pair("swish")
    with torch.no_grad():
        assert audio.trunk(torch.randn(1, 1, 29 * 640)).shape == (1, 512, 29)


@pytest.fixture(scope="module")
def grid_inputs():
    """29 frames of real mouth crops and their 1.16 s of sound from a GRID clip (frames 20-48)."""
    tracker, mouths = roi.MouthTracker(), []
    for fr in media.iter_frames(GRID[0], end=2.0):
        mouths += tracker.push(fr.index, fr.image)
    mouths += tracker.flush()
    crops = np.stack([m.crop for m in mouths[20:49]])
    audio = media.read_audio(GRID[0])[int(0.8 * 16000):int(0.8 * 16000) + 29 * 640]
    return roi.network_input(crops), lrw.audio_input(audio)


def _checkpoint_folder(tmp: Path, act: str) -> Path:
    video, audio = _random_pair(act)
    torch.save({"model_state_dict": video.state_dict(), "epoch": 1}, tmp / "lrw_resnet18_mstcn_video.pth.tar")
    torch.save({"model_state_dict": audio.state_dict()}, tmp / "lrw_resnet18_mstcn_audio.pth.tar")
    (tmp / "500WordsSortedList.txt").write_text("".join(f"WORD{i:03d}\n" for i in range(500)))
    return tmp


def _cases():
    cases = ["prelu", "swish"]
    return [*cases, "real"] if os.environ.get("SCENEGLOT_LRW") else cases


@pytest.mark.parametrize("case", _cases())
def test_parity_torch_onnxruntime_opencv(case, grid_inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path / "home"))
    if case == "swish":  # the model straight to ONNX; the PReLU case goes through a checkpoint folder
        ensemble = network.Ensemble(*_random_pair(case), lrw.VIDEO_WEIGHT).eval()
        path = lrw.export(ensemble, tmp_path / "swish.onnx")
    else:
        folder = Path(os.environ["SCENEGLOT_LRW"]) if case == "real" else _checkpoint_folder(tmp_path, case)
        ckpt = lrw.find(folder)
        assert len(ckpt.labels) == 500
        path = lrw.onnx_path(ckpt)
        assert path.is_file() and ckpt.digest[:16] in path.name
        assert lrw.onnx_path(ckpt).stat().st_mtime_ns == path.stat().st_mtime_ns  # cached, not re-exported
        ensemble = network.Ensemble(network.build(lrw.load_state(ckpt.video)),
                                    network.build(lrw.load_state(ckpt.audio)), lrw.VIDEO_WEIGHT).eval()
    video, audio = grid_inputs
    with torch.no_grad():
        ref = ensemble(torch.from_numpy(video), torch.from_numpy(audio)).numpy().reshape(-1)
    assert ref.shape == (500,) and ref.std() > 0.1, ref.std()  # scores that differ: the comparison means something
    assert np.exp(ref).sum() <= 1.0 + 1e-4  # a weighted sum of log-probabilities
    diffs = {kind: float(np.abs(lrw.Runner(path, kind)(video, audio) - ref).max()) for kind in lrw.ENGINES}
    print(case, diffs)
    assert max(diffs.values()) < 1e-3, diffs
    # OpenCV with its default layer fusion: the PReLU graph fails, the Swish one computes something else
    # (NaN on some runs, scores off by more than 10 on others).
    try:
        diff = np.abs(lrw.Runner(path, "opencv", fusion=True)(video, audio) - ref)
        fused = float(diff.max()) if np.isfinite(diff).all() else float("inf")
    except Exception:
        fused = float("inf")
    assert fused > 1e-3, fused


def test_checkpoint_folder_problems_are_one_line(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        lrw.find(tmp_path / "nope")
    with pytest.raises(InputError, match="500-word label list"):
        lrw.find(tmp_path)
    (tmp_path / "words.txt").write_text("A\n" * 500)
    with pytest.raises(InputError, match="no video or audio checkpoint"):
        lrw.find(tmp_path)
