"""One-off ONNX export of the diarization networks (segmentation-3.0, CAM++) into the model cache.

Torch is imported only when an export has to run; once the .onnx files exist, diarization needs
onnxruntime alone, so a job does not pay torch's import (2.4-3.4 CPU-s on the 2-core box). File
names carry the source checkpoint's sha256 (checked by the model store before the export reads it)
and the export version, so other weights or a changed graph never reuse a stale export.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np

from .. import models
from ..errors import ModelError
from ..files import atomic_path

OPSET = 17
VERSION = 1  # bump when the exported graphs change
# part -> (store model, checkpoint file in it)
SOURCES = {
    "segmentation": ("pyannote-segmentation-3.0", "pytorch_model.bin"),
    "campplus-frames": ("campplus", "campplus_cn_en_common.pt"),
    "campplus-dense": ("campplus", "campplus_cn_en_common.pt"),
}


def onnx_paths(*parts: str) -> dict[str, Path]:
    """The exported graphs (`parts`, else all), exporting those missing first.

    segmentation: waveform (B, 1, 160000) -> probabilities (B, 589, 7), the powerset class probabilities
    campplus-frames: fbank (B, T, 80) -> frames (B, T // 2, 512), CAM++ before its statistics pooling
    campplus-dense: the embedding layer's arrays (.npz: a 1x1 convolution, then batch norm without
        affine), applied by campplus.embed_stats in numpy: stats (N, 1024) mean+std -> embedding (N, 192).
        A matrix product needs no runtime, so the attribution, which pools its turns' voices from kept
        frames in the process that submitted a Ray job, loads no model runtime there.
    """
    models.cache_dir("onnx")
    paths = {part: p for part, p in cached_paths().items() if not parts or part in parts}
    if any(not p.is_file() for p in paths.values()):
        with models.exporting():
            missing = {part for part, p in paths.items() if not p.is_file()}
            if missing:
                export({part: paths[part] for part in missing})
    return paths


def cached_paths() -> dict[str, Path]:
    """Where the exports live (present or not), keyed by the checkpoint's sha256 and the export version."""
    folder = models.home() / "onnx"
    out = {}
    for part, (model, filename) in SOURCES.items():
        digest = next(f.sha256 for f in models.get(model).files if f.name == filename)[:16]
        suffix = ".npz" if part == "campplus-dense" else ".onnx"
        out[part] = folder / f"{model}-{digest}-v{VERSION}-{part}{suffix}"
    return out


def export(targets: dict[str, Path]) -> None:
    """Trace the torch networks with dynamic batch (and, for CAM++, time) axes; each file is written atomically."""
    try:
        import torch

        from . import campplus_net, pyannet
    except ImportError:
        raise ModelError("exporting the diarization networks to ONNX needs torch once: pip install torch") from None
    jobs = {}
    if "segmentation" in targets:
        jobs["segmentation"] = (pyannet.Probabilities(pyannet.load()), (torch.randn(2, 1, 160000) * 0.05,),
                                ["waveform"], ["probabilities"],
                                {"waveform": {0: "batch"}, "probabilities": {0: "batch"}})
    if {"campplus-frames", "campplus-dense"} & set(targets):
        net = campplus_net.load()
        jobs["campplus-frames"] = (campplus_net.FrameFeatures(net), (torch.randn(2, 301, 80),), ["fbank"],
                                   ["frames"], {"fbank": {0: "batch", 1: "frames"},
                                                "frames": {0: "batch", 1: "out_frames"}})
        if "campplus-dense" in targets:
            dense = net.xvector.dense
            norm = dense.nonlinear.batchnorm
            with atomic_path(targets["campplus-dense"]) as tmp, tmp.open("wb") as fh:
                np.savez(fh, weight=dense.linear.weight.detach()[:, :, 0].numpy(),
                         mean=norm.running_mean.numpy(), var=norm.running_var.numpy(), eps=np.float32(norm.eps))
    for part, (module, args, inputs, outputs, axes) in jobs.items():
        if part not in targets:
            continue
        with atomic_path(targets[part]) as tmp, contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), args, str(tmp), input_names=inputs, output_names=outputs,
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)

