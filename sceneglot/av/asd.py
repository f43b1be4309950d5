"""Active speaker detection: Light-ASD scores per face track and per 25-fps frame.

The network runs from its ONNX export (onnxruntime by default, OpenCV's dnn
module as the second engine); torch is not needed here. Frames are decoded
once; per track only the 112x112 grey crops are kept, and a track is scored
(and its crops dropped) as soon as the video has moved past its end.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .. import media
from ..errors import BackendError, InputError
from ..scene import Track
from . import export, features

ENGINES = ("onnxruntime", "opencv")
# The reference demo's window lengths in seconds, {1,1,1,2,2,2,3,3,4,5,6}: repeats only weight
# the short windows more (the network is deterministic), so each length runs once with that weight.
WINDOWS = {1: 3, 2: 3, 3: 2, 4: 1, 5: 1, 6: 1}
SMOOTH = 2  # frames either side in the final moving mean
CHUNK = 150  # frames per encoder call: bounds memory (~0.4 MB of activations per frame and buffer)
CONTEXT = 6  # frames of real neighbours each side of a chunk: the visual encoder sees ±6, the audio one less


class Engine:
    """The exported network: encoders (heavy, per frame) and GRU back end (light, per window).

    kind "onnxruntime" (default) or "opencv" (cv2.dnn); both run the same ONNX files.
    """

    def __init__(self, kind: str = "onnxruntime", model_name: str = "light-asd") -> None:
        if kind not in ENGINES:
            raise InputError(f"unknown ASD engine {kind!r}; choose from {', '.join(ENGINES)}")
        self.kind = kind
        self.model_name = model_name
        self.paths = export.onnx_paths(model_name)
        self._run = {part: self._load(path) for part, path in self.paths.items()}

    def _load(self, path):
        if self.kind == "onnxruntime":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = int(os.environ.get("SCENEGLOT_THREADS", "0"))
            opts.log_severity_level = 3
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            return lambda feeds: session.run(None, feeds)[0]
        import cv2

        try:
            net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise BackendError(f"OpenCV cannot load {path}: {str(exc).strip().splitlines()[-1]}") from None

        def run(feeds):
            for name, value in feeds.items():
                net.setInput(value, name)
            return net.forward()

        return run

    def encode(self, audio: np.ndarray, video: np.ndarray) -> np.ndarray:
        """(4T, 13) MFCC + (T, 112, 112) crops -> (T, 128), in chunks whose borders see real neighbours.

        With CONTEXT frames beyond each chunk the result equals one pass over the whole track.
        """
        step = features.STEPS_PER_FRAME
        frames = len(video)
        out = []
        for c0 in range(0, frames, CHUNK):
            c1 = min(c0 + CHUNK, frames)
            lo, hi = max(0, c0 - CONTEXT), min(frames, c1 + CONTEXT)
            feeds = {"audio": np.ascontiguousarray(audio[lo * step:hi * step], np.float32)[None],
                     "video": np.ascontiguousarray(video[lo:hi], np.float32)[None]}
            out.append(self._run["encoder"](feeds).reshape(hi - lo, 128)[c0 - lo:c1 - lo])
        return np.concatenate(out) if out else np.zeros((0, 128), np.float32)

    def backend(self, feats: np.ndarray) -> np.ndarray:
        """(T, 128) encoder features -> (T, 2) logits."""
        x = np.ascontiguousarray(feats, np.float32)[None]
        return self._run["backend"]({"features": x}).reshape(-1, 2)

    def __call__(self, audio: np.ndarray, video: np.ndarray) -> np.ndarray:
        """The whole network on one window: (T, 2) logits."""
        return self.backend(self.encode(audio, video))


def multi_window(engine: Engine, audio: np.ndarray, video: np.ndarray) -> np.ndarray:
    """Per-frame speaking score: back end over 1..6 s windows, weighted mean as the reference, ±2-frame mean.

    Unlike the reference demo, which reruns the whole network per window, the
    encoders run once per track, so window borders see real neighbouring frames
    instead of zero padding; only the GRU context changes between passes.
    """
    frames = len(video)
    if frames == 0:
        return np.zeros(0, np.float32)
    feats = engine.encode(audio, video)
    total = np.zeros(frames, np.float64)
    weight = 0
    for seconds, w in WINDOWS.items():
        n = seconds * features.FPS
        total += w * np.concatenate([engine.backend(feats[i:i + n])[:, 1] for i in range(0, frames, n)])
        weight += w
    return smooth(total / weight)


def smooth(scores: np.ndarray, radius: int = SMOOTH) -> np.ndarray:
    """Mean over each frame's ±radius neighbours, clipped at the ends."""
    scores = np.asarray(scores, np.float64)
    if len(scores) == 0:
        return scores.astype(np.float32)
    csum = np.concatenate([[0.0], np.cumsum(scores)])
    idx = np.arange(len(scores))
    lo, hi = np.maximum(idx - radius, 0), np.minimum(idx + radius + 1, len(scores))
    return ((csum[hi] - csum[lo]) / (hi - lo)).astype(np.float32)


@dataclass
class _Pending:
    track: Track
    geo: features.CropGeometry
    first: int  # 25-fps frame index of the track's first crop
    crops: list[np.ndarray]


def score_tracks(path, tracks: Iterable[Track], audio: np.ndarray, *, engine: Engine | str = "onnxruntime",
                 ) -> dict[str, list[list[float]]]:
    """Light-ASD scores per track: `{track_id: [[t, score], ...]}` at 25 fps, score > 0 meaning speaking.

    `audio` is the whole soundtrack, 16 kHz mono float32 (media.read_audio).
    """
    tracks = list(tracks)
    runner = engine if isinstance(engine, Engine) else Engine(engine)
    feats = features.mfcc(audio)
    pending: list[_Pending] = []
    for tr in sorted(tracks, key=lambda t: t.start):
        geo = features.geometry(tr.boxes, tr.start, tr.end)
        if len(geo.times):
            pending.append(_Pending(tr, geo, round(geo.times[0] * features.FPS), []))
    results: dict[str, list[list[float]]] = {tr.id: [] for tr in tracks}
    if not pending:
        return results
    open_: list[_Pending] = []
    queue = list(pending)

    def finish(p: _Pending) -> None:
        video = np.stack(p.crops) if p.crops else np.zeros((0, 112, 112), np.uint8)
        a, v = features.align(feats, video, p.first)
        scores = multi_window(runner, a, v)
        if 0 < len(scores) < len(p.geo.times) <= len(scores) + 2:
            # The file's last frame or two lack a whole 25 ms MFCC window: hold the last score.
            scores = np.concatenate([scores, np.repeat(scores[-1:], len(p.geo.times) - len(scores))])
        results[p.track.id] = [[round(float(t), 3), round(float(s), 3)]
                               for t, s in zip(p.geo.times[: len(scores)], scores, strict=True)]
        p.crops.clear()

    end = max(p.geo.times[-1] for p in pending) + 0.5 / features.FPS
    for frame in media.iter_frames(path, fps=features.FPS, end=end):
        k = frame.index
        while queue and queue[0].first <= k:
            open_.append(queue.pop(0))
        for p in list(open_):
            i = k - p.first
            if i >= len(p.geo.times):
                finish(p)
                open_.remove(p)
                continue
            p.crops.append(features.crop_face(frame.image, p.geo.x[i], p.geo.y[i], p.geo.s[i]))
    for p in open_ + queue:
        finish(p)
    return results
