"""CAM++ speaker embeddings (Wang et al., Interspeech 2023) on onnxruntime.

Shape: 80-d fbank (speech/fbank.py, numpy) -> FCM (2-D residual front end, frequency /8) ->
D-TDNN with context-aware masking (3 dense blocks of 12/24/16 layers, growth 32) ->
mean+std pooling -> 192-d embedding. The network is written out in torch in
speech/campplus_net.py and runs here from its one-off export (speech/export.py) in two
parts: "frames" (fbank -> frame-level features, any length; an ONNX graph) and "dense" (pooled
statistics -> embedding: one matrix product and a batch norm, in numpy, so the attribution's pooling
loads no runtime); the pooling between them is numpy, so many spans pool from one frame pass.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .. import models


@cache
def _session(part: str):
    """One exported graph on onnxruntime (CUDA when the build has it), one thread (measured on the 2-core
    box under other jobs' load: the frame pass often took 3-10x longer with 2 threads than with 1, and was
    at best ~1.5x faster), with denormals flushed to zero: they slowed the deep dense blocks' convolutions
    several-fold in torch."""
    from . import export

    return models.onnx_session(export.onnx_paths(part)[part], threads=1, denormals_zero=True)


@cache
def _dense() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The embedding layer as numpy arrays (speech/export.py): weight (192, 1024), then batch norm folded
    into a scale and a shift."""
    from . import export

    with np.load(export.onnx_paths("campplus-dense")["campplus-dense"]) as saved:
        scale = 1.0 / np.sqrt(saved["var"].astype(np.float64) + float(saved["eps"]))
        shift = -saved["mean"].astype(np.float64) * scale
        return saved["weight"].astype(np.float32), scale.astype(np.float32), shift.astype(np.float32)


def load() -> tuple:
    """The frame graph's session and the embedding layer, loaded now (exporting first if needed) rather
    than on first use."""
    return _session("campplus-frames"), _dense()


def frame_features(feats: np.ndarray) -> np.ndarray:
    """Frame-level D-TDNN output, (frames // 2, 512) at a 20 ms hop, for pooling many spans from one pass."""
    x = np.ascontiguousarray(feats, np.float32)[None]
    return _session("campplus-frames").run(None, {"fbank": x})[0][0]


POOL_RELEASE = 64  # ranges pooled between two releases of a map's pages (64 turns: a few MiB)


def pool(frames: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Mean+std pooling and the embedding layer on row ranges of `frame_features` (float32, or float16
    as kept by turns.VoiceFrames: each range is pooled in float32); L2-normalised (n, 192)."""
    # Each range in float32 only while its statistics are taken: all of them held at once were nearly all of
    # the input's speech (the attribution's turns: ~300 MB an hour). Memory-mapped rows (the job folder's copy)
    # have their pages dropped every POOL_RELEASE ranges: read once they stayed in RSS while the map lived
    # (spool.release; the attribution's turns touch nearly all: ~184 MiB an hour).
    from ..spool import release

    stats = []
    for k, (a, b) in enumerate(spans):
        stats.append(_stats(frames[a:b].astype(np.float32, copy=False)))
        if k % POOL_RELEASE == POOL_RELEASE - 1:
            release(frames)
    release(frames)
    return embed_stats(np.stack(stats))


def _stats(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x.mean(0), x.std(0, ddof=1)])


def embed_stats(stats: np.ndarray) -> np.ndarray:
    """The embedding layer on rows of mean+std statistics (n, 1024); L2-normalised (n, 192)."""
    weight, scale, shift = _dense()
    emb = (np.asarray(stats, np.float32) @ weight.T) * scale + shift
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-8)


def embed(feats: list[np.ndarray]) -> np.ndarray:
    """L2-normalised embeddings, one row per fbank matrix; equal lengths are batched together."""
    out = np.zeros((len(feats), 192), np.float32)
    by_len: dict[int, list[int]] = {}
    for i, f in enumerate(feats):
        by_len.setdefault(len(f), []).append(i)
    net = _session("campplus-frames")
    for idx in by_len.values():
        frames = net.run(None, {"fbank": np.stack([feats[i] for i in idx]).astype(np.float32)})[0]
        stats = np.concatenate([frames.mean(1), frames.std(1, ddof=1)], axis=1)
        out[idx] = embed_stats(stats)
    return out
