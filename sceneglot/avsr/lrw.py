"""The user's LRW checkpoints, their ONNX ensemble (cached by the weights' sha256), and the runtimes.

The LRW TCN weights are licensed for non-commercial research and are fetched by
hand, so sceneglot ships none: `--lrw DIR` names a folder holding a visual and
an audio `lrw_resnet18_mstcn_*.pth.tar` and the 500-word list (one word a line,
as the authors' labels/500WordsSortedList.txt). torch is needed once, to export;
after that OpenCV's dnn module or onnxruntime run the cached graph alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import models
from ..errors import InputError, ModelError
from ..files import atomic_path

ENGINES = ("opencv", "onnxruntime")
OPSET = 17
VERSION = 1  # bump when the exported graph changes
VIDEO_WEIGHT = 0.5  # the ensemble's weight on the lips (1 - weight on the sound), fixed at export
CHECKPOINT_GLOB = "lrw_resnet18_mstcn_*.pth.tar"


@dataclass(frozen=True)
class Checkpoints:
    video: Path
    audio: Path
    labels: list[str]
    digest: str  # sha256 of the two weight files, in that order


def find(folder: str | os.PathLike) -> Checkpoints:
    """The visual and audio checkpoints and word list in `folder`; InputError naming what is missing."""
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"--lrw: not a folder: {d}")
    labels = _labels(d)
    found: dict[str, Path] = {}
    for path in sorted(d.glob(CHECKPOINT_GLOB)):
        kind = _modality(path)
        found.setdefault(kind, path)
    missing = [k for k in ("video", "audio") if k not in found]
    if missing:
        raise InputError(f"--lrw {d}: no {' or '.join(missing)} checkpoint ({CHECKPOINT_GLOB}) found")
    digest = hashlib.sha256((models.sha256(found["video"]) + models.sha256(found["audio"])).encode()).hexdigest()
    return Checkpoints(found["video"], found["audio"], labels, digest)


def _labels(d: Path) -> list[str]:
    for path in sorted(d.glob("*.txt")):
        words = [w.strip() for w in path.read_text(errors="replace").splitlines() if w.strip()]
        if len(words) == 500:
            return words
    raise InputError(f"--lrw {d}: no 500-word label list (a .txt file, one word a line, e.g. 500WordsSortedList.txt)")


def load_state(path: Path) -> dict:
    """A checkpoint's `model_state_dict` (or a bare state dict), tensors only."""
    import torch

    try:
        raw = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors alike: the file is not a usable checkpoint
        raise ModelError(f"cannot read LRW checkpoint {path}: {str(exc).splitlines()[0]}") from None
    state = raw.get("model_state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or "tcn.tcn_output.weight" not in state:
        raise ModelError(f"{path} is not an LRW TCN checkpoint (no model_state_dict with tcn.tcn_output)")
    return state


def _modality(path: Path) -> str:
    from .network import modality_of

    return modality_of(load_state(path))


def onnx_path(ckpt: Checkpoints | None, video_weight: float = VIDEO_WEIGHT) -> Path:
    """The cached ensemble graph for these weights (exported first when absent)."""
    if ckpt is None:
        raise ModelError("no LRW checkpoints: pass --lrw DIR")
    target = models.cache_dir("onnx") / f"lrw-ensemble-{ckpt.digest[:16]}-w{video_weight:g}-v{VERSION}.onnx"
    if not target.is_file():
        from .network import Ensemble, build

        with models.exporting():
            if not target.is_file():
                export(Ensemble(build(load_state(ckpt.video)), build(load_state(ckpt.audio)), video_weight),
                       target)
    return target


def export(ensemble, target: Path, frames: int = 29) -> Path:
    """Trace the ensemble at batch 1, `frames` frames: inputs video (1,1,T,88,88), audio (1,1,640T); output scores."""
    try:
        import torch
    except ImportError:
        raise ModelError("exporting the LRW models to ONNX needs torch once: pip install torch") from None
    from .network import SAMPLES_PER_FRAME

    ensemble.eval()
    video = torch.randn(1, 1, frames, 88, 88)
    audio = torch.randn(1, 1, frames * SAMPLES_PER_FRAME)
    with atomic_path(target) as tmp, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ensemble, (video, audio), str(tmp), input_names=["video", "audio"],
                          output_names=["scores"], opset_version=OPSET, dynamo=False)
    return target


def audio_input(samples: np.ndarray, frames: int = 29) -> np.ndarray:
    """16 kHz mono float samples -> (1, 1, 640 T): padded or cut to T frames, then the recipe's
    per-utterance normalisation (zero mean, unit standard deviation)."""
    from .network import SAMPLES_PER_FRAME

    n = frames * SAMPLES_PER_FRAME
    x = np.zeros(n, np.float32)
    s = np.asarray(samples, np.float32).reshape(-1)[:n]
    x[:len(s)] = s
    std = float(x.std())
    x = (x - x.mean()) / (std if std > 0 else 1.0)
    return x[None, None].astype(np.float32)


class Runner:
    """The exported ensemble on one engine: (video, audio) network inputs -> (500,) fused log-probabilities.

    OpenCV's dnn module needs layer fusion off (OpenCV 4.12): with it on, the
    PReLU models stop with an assertion in its elementwise layer and the Swish
    ones run but return NaN or scores off by more than 10 (tests/test_avsr_network.py).
    """

    def __init__(self, path: Path, kind: str = "opencv", fusion: bool = False, threads: int = 0) -> None:
        if kind not in ENGINES:
            raise InputError(f"unknown engine {kind!r}; choose from {', '.join(ENGINES)}")
        self.kind = kind
        if kind == "onnxruntime":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        else:
            import cv2

            try:
                self._net = cv2.dnn.readNetFromONNX(str(path))
            except cv2.error as exc:
                raise ModelError(f"OpenCV cannot load {path}: {str(exc).strip().splitlines()[-1]}") from None
            self._net.enableFusion(fusion)

    def __call__(self, video: np.ndarray, audio: np.ndarray) -> np.ndarray:
        video = np.ascontiguousarray(video, np.float32)
        audio = np.ascontiguousarray(audio, np.float32)
        if self.kind == "onnxruntime":
            return self._session.run(None, {"video": video, "audio": audio})[0].reshape(-1)
        self._net.setInput(video, "video")
        self._net.setInput(audio, "audio")
        return self._net.forward().reshape(-1)
