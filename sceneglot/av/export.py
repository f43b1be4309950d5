"""One-off ONNX export of Light-ASD into the model cache, keyed by the weights' sha256.

Torch is imported only when the export has to run; once the .onnx file
exists, inference needs onnxruntime (or OpenCV) alone.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

from .. import models
from ..errors import ModelError
from ..files import atomic_path

OPSET = 17
PARTS = ("encoder", "encoder2d", "backend", "audio")
VERSION = 3  # bump when the exported graphs change, so stale exports are not reused (3: visual rows, audio part)


def onnx_paths(model_name: str = "light-asd") -> dict[str, Path]:
    """The exported graphs for `model_name` ({"encoder": ..., "backend": ...}), exporting them first if needed.

    encoder: audio (1, 4T, 13) MFCC + video (1, T, 112, 112) grey -> features (1, T, 128), the two
      encoders' sum, and visual (1, T, 128), the visual encoder's own rows (a second output: no extra work)
    encoder2d: the same function with 2-D convolutions (faster in onnxruntime; OpenCV cannot load it)
    backend: features (1, T, 128) -> logits (T, 2); column 1 is the speaking score
    audio: audio (1, 4N, 13) MFCC -> audio (1, N, 128), the audio encoder alone (the soundtrack's rows).
    File names carry the weights' sha256, so other weights never reuse a stale export.
    """
    models.cache_dir("onnx")
    paths = cached_paths(model_name)
    if not all(p.is_file() for p in paths.values()):
        with models.exporting():
            if not all(p.is_file() for p in paths.values()):
                export(models.file(model_name), paths)
    return paths


def cached_paths(model_name: str = "light-asd") -> dict[str, Path]:
    """Where the exports of `model_name` live (present or not): keyed by weights sha256 and export version."""
    digest = models.get(model_name).files[0].sha256[:16]
    folder = models.home() / "onnx"
    return {part: folder / f"{model_name}-{digest}-v{VERSION}-{part}.onnx" for part in PARTS}


def export(weights: Path, targets: dict[str, Path]) -> None:
    """Trace both halves of the torch network with a dynamic time axis; each file is written atomically.

    Batch is fixed at 1 (one face track per call); only the time axis varies.
    """
    try:
        import torch

        from . import network
    except ImportError:
        raise ModelError("exporting Light-ASD to ONNX needs torch once: pip install torch") from None
    net = network.load(weights)
    frames = 25
    audio = torch.randn(1, 4 * frames, 13)
    video = torch.rand(1, frames, 112, 112) * 255
    feats = torch.randn(1, frames, 128)
    encoder_axes = {"audio": {1: "audio_steps"}, "video": {1: "frames"}, "features": {1: "frames"},
                    "visual": {1: "frames"}}
    jobs = {
        "encoder": (network.Encoders(net), (audio, video), ["audio", "video"], ["features", "visual"],
                    encoder_axes),
        "encoder2d": (network.Encoders2D(net), (audio, video), ["audio", "video"], ["features", "visual"],
                      encoder_axes),
        "backend": (network.Backend(net), (feats,), ["features"], ["logits"],
                    {"features": {1: "frames"}, "logits": {0: "frames"}}),
        "audio": (network.AudioFeatures(net), (audio,), ["audio"], ["audio_features"],
                  {"audio": {1: "audio_steps"}, "audio_features": {1: "frames"}}),
    }
    for part, (module, args, inputs, outputs, axes) in jobs.items():
        with atomic_path(targets[part]) as tmp, contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(tmp), input_names=inputs, output_names=outputs,
                              dynamic_axes=axes, opset_version=OPSET, dynamo=False)
            _simplify_recurrent(tmp)


def _simplify_recurrent(path: Path) -> None:
    """Rewrite the exporter's batch-generic GRU plumbing into the batch-1 form OpenCV's importer takes.

    The exporter builds each GRU's zero initial state from Shape/Gather/Expand
    (OpenCV rejects Shape on a dynamic axis) and reorders the output
    (T, dirs, B, H) -> (B, T, dirs*H) with Squeeze/Transpose/Reshape; for B = 1
    a constant zero initial state and one Reshape to
    (1, -1, dirs*H) compute the same thing.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    nodes = list(graph.node)
    consumers: dict[str, list] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    drop: set[int] = set()
    added = []
    for node in nodes:
        if node.op_type != "GRU":
            continue
        hidden = next(a.i for a in node.attribute if a.name == "hidden_size")
        dirs = 2 if any(a.name == "direction" and a.s == b"bidirectional" for a in node.attribute) else 1
        state = f"{node.output[0]}_zero_state"
        graph.initializer.append(numpy_helper.from_array(np.zeros((dirs, 1, hidden), np.float32), state))
        node.input[4], node.input[5] = "", state  # no sequence_lens; constant zero initial state
        chain, out = [], node.output[0]
        while True:
            (nxt,) = consumers[out]
            chain.append(nxt)
            out = nxt.output[0]
            if nxt.op_type == "Transpose" and list(nxt.attribute[0].ints) == [1, 0, 2]:
                break
        drop.update(id(n) for n in chain)
        shape = f"{node.name or node.output[0]}_batch1_shape"
        graph.initializer.append(numpy_helper.from_array(np.array([1, -1, dirs * hidden], np.int64), shape))
        added.append((chain[0], helper.make_node("Reshape", [node.output[0], shape], [out])))
    rebuilt = []
    for node in nodes:
        rebuilt.extend(new for first, new in added if first is node)
        if id(node) not in drop:
            rebuilt.append(node)
    del graph.node[:]
    graph.node.extend(_live(rebuilt, [o.name for o in graph.output]))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _live(nodes: list, outputs: list[str]) -> list:
    """Drop nodes whose results nothing needs (the now unused shape arithmetic)."""
    needed, keep = set(outputs), []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    return keep[::-1]
