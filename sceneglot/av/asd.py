"""Active speaker detection: Light-ASD scores per face track and per 25-fps frame.

The network runs from its ONNX export (onnxruntime by default, OpenCV's dnn
module as the second engine); torch is not needed here. Frames are decoded
once, as luma planes (no colour conversion); each track's 112x112 grey crops
go through the encoders a chunk at a time as they arrive (FeatureStream), and
the track is scored as soon as the video has moved past its end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .. import media
from ..errors import BackendError, InputError
from ..jobs import part, timed
from ..jobs import step as _step
from ..scene import Track
from . import ENGINES, export, features
from .sync import mouth_flow, mouth_region

if TYPE_CHECKING:
    from .crops import FaceCrops

# The reference demo's window lengths in seconds, {1,1,1,2,2,2,3,3,4,5,6}: repeats only weight
# the short windows more (the network is deterministic), so each length runs once with that weight.
WINDOWS = {1: 3, 2: 3, 3: 2, 4: 1, 5: 1, 6: 1}
SMOOTH = 2  # frames either side in the final moving mean
# Frames per encoder call. Activations are ~2-3 MB a frame at their peak: 62-frame calls (50 + context)
# peaked +160-210 MiB, 162-frame ones +330 MiB without onnxruntime's arena and +690 MiB with it (random
# crops, one thread, under load 8). Calls are bounded (CHUNK, WHOLE), so the encoder session keeps its
# arena (memory pattern off: shapes vary): it then holds what its largest call took, ~+285 MiB, as long
# as the stage runs, the peak it reaches without the arena too, and saves the pages each call faulted in
# afresh: tracks of 80, 83, 76, 100, 40, 1500 and 20 frames, two threads, 13.0 CPU-ms a frame with the
# arena and 16.2 without, peak +286 vs +282-329 MiB (random crops, under load 16-20).
CHUNK = 50
# Tracks up to this many frames go through the encoders in one call, longer ones CHUNK at a time. Chunks
# cost CPU: their context frames, and a thread pool woken per call (an 80-frame track, two cores: 1.06
# CPU-s in chunks, 0.72 whole; one core: 0.68 vs 0.62), and most tracks are short (cut2's four: 76-83
# frames). A call's peak grows ~1.9 MiB a frame (random crops, arena off, under load 16: 62 frames
# +95-140 MiB, 100 +190-195, 150 +300, 250 +480): 100 frames (4 s) peaks as the 62-frame chunks were
# measured to (+160-210 MiB above), so the stage's peak does not move.
WHOLE = 100
# Frames of real neighbours each side of a chunk. The visual encoder's time kernels reach ±2 frames in
# each of its 3 blocks (±6); the audio encoder's reach ±17 MFCC rows (block 1 ±2, pool ±1, block 2 ±2
# at 50 Hz, pool ±1, block 3 ±2 at 25 Hz), 4.25 frames. So each chunk's own frames see no padding.
CONTEXT = 6
# Pieces of one encoder call run side by side (onnxruntime, one intra-op thread each on up to PARTS
# cores), instead of one call on several intra-op threads: those did not spend the second core here.
# Two 62-frame calls (random crops, 2 cores, busy machine: the medians moved with the load, the order
# did not): one after another on one thread ~6.3-6.9 ms a frame, on one session of 2 intra-op threads
# 6.6-7.3 and +15-22% CPU (threads waiting on each other), side by side on one 1-thread session 4.1-4.7.
# Each piece holds its own activations: PARTS pieces of CHUNK frames (+ CONTEXT) peak as a call of
# PARTS * (CHUNK + 2 * CONTEXT) frames, so PARTS bounds the arena whatever the cores.
PARTS = 4
# A piece has at least this many frames of its own: two pieces cost 2 * CONTEXT more frames than one call.
MIN_PART = 25


Threads = int | Callable[[], int | None] | None


class Engine:
    """The exported network: encoders (heavy, per frame) and GRU back end (light, per window).

    kind "onnxruntime" (default) or "opencv" (cv2.dnn); both run the same ONNX files.
    `threads`: the cores the encoders may take, 0 meaning all; or a function asked before each
    encoder call, so a stage sharing the CPU with another (speech recognition in
    `pipeline.analyze`) takes one core while the other runs and every core once it is done.
    None (given or returned): $SCENEGLOT_THREADS, else all cores. With onnxruntime, n cores are
    spent as up to PARTS pieces of the call's frames run side by side (each piece with CONTEXT
    frames of its neighbours, so the rows equal one call's), each piece on n // PARTS intra-op
    threads (at least one): see PARTS. The back end is sequential and runs on one thread.
    """

    def __init__(self, kind: str = "onnxruntime", model_name: str = "light-asd", threads: Threads = None) -> None:
        if kind not in ENGINES:
            raise InputError(f"unknown ASD engine {kind!r}; choose from {', '.join(ENGINES)}")
        self.kind = kind
        self.threads = threads
        self.paths = export.onnx_paths(model_name)
        # onnxruntime: the 2-D-convolution encoder (same function, less CPU); OpenCV loads only the 3-D one.
        self._encoder_path = self.paths["encoder2d" if kind == "onnxruntime" else "encoder"]
        # One encoder session at a time, for the intra-op thread count last needed (a replaced one is let go
        # before the next loads); its arena holds the largest bounded call's activations (see CHUNK), the
        # pieces run side by side together (see PARTS).
        self._encoder_threads: int | None = None
        self._encoder_run: Callable | None = None
        self._pool: ThreadPoolExecutor | None = None  # runs a call's pieces after the first (which runs here)
        self._backend = self._load(self.paths["backend"], 1)
        self._audio: Callable | None = None  # the audio encoder alone (soundtrack_audio), loaded when first asked

    def cores(self) -> int:
        """The cores the encoders may take now (`threads` asked afresh): at least 1."""
        n = self.threads() if callable(self.threads) else self.threads
        if n is None:
            n = int(os.environ.get("SCENEGLOT_THREADS", "0"))
        return n if n > 0 else os.cpu_count() or 1

    def parts(self, cores: int | None = None) -> int:
        """How many pieces an encoder call is cut into now (1 for OpenCV, whose net is not re-entrant)."""
        return max(1, min(PARTS, self.cores() if cores is None else cores)) if self.kind == "onnxruntime" else 1

    def _encoder(self, cores: int) -> Callable:
        # onnxruntime: the cores a piece gets (1 on up to PARTS cores: no reload when the count changes there);
        # cv2.dnn has one process-wide thread setting (0: its own default).
        n = max(1, cores // self.parts(cores)) if self.kind == "onnxruntime" else 0
        if n != self._encoder_threads or self._encoder_run is None:
            self._encoder_run = None  # the old session's memory goes before the new one's comes
            self._encoder_run = self._load(self._encoder_path, n, pattern=False, outputs=2)
            self._encoder_threads = n
        return self._encoder_run

    def release_encoder(self) -> None:
        """Let the encoder session and its arena (~+285 MiB, see CHUNK) go, before a pass that needs only the
        audio encoder or the back end (soundtrack_audio); the next encoder call loads it again."""
        self._encoder_run, self._encoder_threads = None, None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _load(self, path, threads: int, arena: bool = True, outputs: int = 1, pattern: bool | None = None):
        """A function feeds -> the graph's first output, or a list of its first `outputs` outputs."""
        if self.kind == "onnxruntime":
            from .. import models

            session = models.onnx_session(path, threads, arena, pattern)  # CUDA when onnxruntime has it, else the CPU
            if outputs == 1:
                return lambda feeds: session.run(None, feeds)[0]
            return lambda feeds: session.run(None, feeds)[:outputs]
        import cv2

        try:
            net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as exc:
            raise BackendError(f"OpenCV cannot load {path}: {str(exc).strip().splitlines()[-1]}") from None
        import onnx

        names = [o.name for o in onnx.load(str(path), load_external_data=False).graph.output][:outputs]

        def run(feeds):
            for name, value in feeds.items():
                net.setInput(value, name)
            return net.forward() if outputs == 1 else list(net.forward(names))

        return run

    def window(self, audio: np.ndarray, video: np.ndarray) -> np.ndarray:
        """One encoder call: (4T, 13) MFCC + (T, 112, 112) crops -> (T, 128); the ends see zero padding."""
        return self.encoders(audio, video)[0]

    def encoders(self, audio: np.ndarray, video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One encoder call: (4T, 13) MFCC + (T, 112, 112) crops -> the encoders' sum (T, 128), the back
        end's input, and the visual encoder's own rows (T, 128), for av.sync."""
        cores = self.cores()
        run = self._encoder(cores)
        frames = len(video)
        pieces = max(1, min(self.parts(cores), frames // MIN_PART))
        step = features.STEPS_PER_FRAME

        def piece(k: int) -> tuple[np.ndarray, np.ndarray]:
            # Piece k's own frames [a, b), encoded with up to CONTEXT real frames either side (the call's
            # own ends as they are), so its rows are the whole call's.
            a, b = frames * k // pieces, frames * (k + 1) // pieces
            lo, hi = max(0, a - CONTEXT), min(frames, b + CONTEXT)
            feeds = {"audio": np.ascontiguousarray(audio[lo * step:hi * step], np.float32)[None],
                     "video": np.ascontiguousarray(video[lo:hi], np.float32)[None]}
            fused, visual = run(feeds)
            return fused.reshape(hi - lo, 128)[a - lo:b - lo], visual.reshape(hi - lo, 128)[a - lo:b - lo]

        if pieces == 1:
            return piece(0)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(PARTS - 1, thread_name_prefix="sceneglot-asd")
        later = [self._pool.submit(piece, k) for k in range(1, pieces)]  # onnxruntime runs without the GIL
        got = [piece(0)] + [f.result() for f in later]
        return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got])

    def audio_rows(self, mfcc: np.ndarray) -> np.ndarray:
        """The audio encoder alone, one call: (4N, 13) MFCC -> (N, 128); the ends see zero padding."""
        if self._audio is None:
            self._audio = self._load(self.paths["audio"], 1, arena=False)
        rows = len(mfcc) // features.STEPS_PER_FRAME * features.STEPS_PER_FRAME
        if rows == 0:
            return np.zeros((0, 128), np.float32)
        x = np.ascontiguousarray(mfcc[:rows], np.float32)[None]
        return self._audio({"audio": x}).reshape(-1, 128)

    def encode(self, audio: np.ndarray, video: np.ndarray) -> np.ndarray:
        """(4T, 13) MFCC + (T, 112, 112) crops -> (T, 128), equal to one pass over the whole track."""
        stream = FeatureStream(self, audio)
        for crop in video:
            stream.push(crop)
        return stream.finish()

    def backend(self, feats: np.ndarray) -> np.ndarray:
        """(T, 128) encoder features -> (T, 2) logits."""
        x = np.ascontiguousarray(feats, np.float32)[None]
        return self._backend({"features": x}).reshape(-1, 2)

    def __call__(self, audio: np.ndarray, video: np.ndarray) -> np.ndarray:
        """The whole network on one track: (T, 2) logits."""
        return self.backend(self.encode(audio, video))


class FeatureStream:
    """Encoder features of one track, computed CHUNK frames at a time as its crops arrive (a track of at
    most WHOLE frames in one call once it is all in).

    Each chunk is encoded with CONTEXT real frames either side, which makes the
    result equal to one pass over the whole track while at most CHUNK + 2 * CONTEXT
    crops are held (CHUNK for each piece the engine cuts a call into: Engine.parts): a track
    an hour long keeps 128 floats per frame, not its crops.
    `audio` is the track's MFCC rows from its first frame; crops past its end are ignored.
    `visual`: also keep the visual encoder's own rows (float16), `visual_rows()` once finished.
    """

    def __init__(self, engine: Engine, audio: np.ndarray, times: dict[str, float] | None = None,
                 visual: bool = False) -> None:
        self.engine, self.audio, self.times = engine, audio, times
        self.limit = len(audio) // features.STEPS_PER_FRAME  # frames the soundtrack covers
        self.crops: list[np.ndarray] = []  # crops[i] is frame base + i
        self.base = 0
        self.done = 0  # frames encoded so far
        self.parts: list[np.ndarray] = []
        self.visual: list[np.ndarray] | None = [] if visual else None
        self.pieces = self._pieces()  # asked again after each call (chunk)

    @property
    def frames(self) -> int:
        return self.base + len(self.crops)

    @property
    def chunk(self) -> int:
        """Frames per encoder call: the whole track when it is no longer than WHOLE, else CHUNK for each
        piece the engine cut calls into when last asked (Engine.parts, after each call), so each piece runs
        CHUNK frames."""
        return self.limit if self.limit <= WHOLE else CHUNK * self.pieces

    def push(self, crop: np.ndarray) -> None:
        if self.frames >= self.limit:
            return
        self.crops.append(crop)
        if self.frames >= self.done + self.chunk + CONTEXT:
            self._encode(self.done + self.chunk)

    def finish(self) -> np.ndarray:
        """(T, 128) features of every frame pushed (within the soundtrack)."""
        while self.done < self.frames:
            self._encode(min(self.done + max(1, self.chunk), self.frames))
        return np.concatenate(self.parts) if self.parts else np.zeros((0, 128), np.float32)

    def visual_rows(self) -> np.ndarray:
        """(T, 128) float16 visual encoder rows of the frames finish() encoded."""
        parts = self.visual or []
        return np.concatenate(parts) if parts else np.zeros((0, 128), np.float16)

    def _encode(self, end: int) -> None:
        t = time.perf_counter()
        step = features.STEPS_PER_FRAME
        lo, hi = max(0, self.done - CONTEXT), min(self.frames, end + CONTEXT)
        video = np.stack(self.crops[lo - self.base:hi - self.base])
        with part("encoder"):
            if self.visual is None:
                out = self.engine.window(self.audio[lo * step:hi * step], video)
            else:
                out, visual = self.engine.encoders(self.audio[lo * step:hi * step], video)
                self.visual.append(visual[self.done - lo:end - lo].astype(np.float16))
        self.parts.append(out[self.done - lo:end - lo])
        self.done = end
        self.pieces = self._pieces()  # the next call's size: the cores the engine may take now
        drop = max(0, end - CONTEXT - self.base)  # the next chunk's left context starts at end - CONTEXT
        del self.crops[:drop]
        self.base += drop
        if self.times is not None:
            self.times["encoder"] = self.times.get("encoder", 0.0) + time.perf_counter() - t

    def _pieces(self) -> int:
        """The pieces the engine cuts a call into now (Engine.parts; 1 for an engine that cuts none, or a
        track short enough to go in one call)."""
        parts = getattr(self.engine, "parts", None)
        return parts() if parts is not None and self.limit > WHOLE else 1


# Frames of soundtrack per audio encoder call (soundtrack_audio): 30 s, the MFCC's own block (features.BLOCK_ROWS).
AUDIO_CHUNK = features.BLOCK_ROWS // features.STEPS_PER_FRAME


def soundtrack_frames(n_samples: int) -> int:
    """How many 25-fps audio encoder rows a soundtrack of `n_samples` has (whole 4-row MFCC groups)."""
    return features.mfcc_rows(n_samples) // features.STEPS_PER_FRAME


def soundtrack_audio(engine: Engine, audio, out: np.ndarray | None = None,
                     times: dict[str, float] | None = None) -> np.ndarray:
    """Light-ASD's audio encoder over the whole soundtrack: (N, 128) float16, row k = 25-fps frame k.

    AUDIO_CHUNK frames per call with CONTEXT frames of real MFCC either side (the audio encoder reaches
    4.25 frames; chunk edges fall on frame boundaries, so its two stride-2 pools line up): equal to one
    call over the whole soundtrack, while only a chunk's MFCC and activations are held. `audio`: 16 kHz
    mono (an array or a soundtrack.Soundtrack); `out`: where the rows go, else each chunk's are appended
    to a spool file as they are made (spool.RowSpool) and come back memory-mapped.
    """
    from ..spool import RowSpool

    t = time.perf_counter()
    total = soundtrack_frames(len(audio))
    spool = RowSpool(128) if out is None else None
    step_ = features.STEPS_PER_FRAME
    for k in range(0, total, AUDIO_CHUNK):
        _step(0)  # a cancelled job stops here (the frames' progress is the stage's)
        end = min(total, k + AUDIO_CHUNK)
        lo, hi = max(0, k - CONTEXT), min(total, end + CONTEXT)
        with part("mfcc"):
            rows = features.mfcc(audio, lo * step_, (hi - lo) * step_)
        with part("audio encoder"):
            got = engine.audio_rows(rows)[k - lo:end - lo]
        if spool is None:
            out[k:end] = got
        else:
            spool.write(got)
    if times is not None:
        times["audio encoder"] = times.get("audio encoder", 0.0) + time.perf_counter() - t
    return out if spool is None else spool.rows()


def windowed(engine: Engine, feats: np.ndarray, times: dict[str, float] | None = None) -> np.ndarray:
    """Per-frame speaking score: back end over 1..6 s windows, weighted mean as the reference, ±2-frame mean.

    Unlike the reference demo, which reruns the whole network per window, the
    encoders run once per track, so window borders see real neighbouring frames
    instead of zero padding; only the GRU context changes between passes.
    `times`, when given, accumulates seconds under "backend".
    """
    frames = len(feats)
    if frames == 0:
        return np.zeros(0, np.float32)
    t = time.perf_counter()
    total = np.zeros(frames, np.float64)
    weight = 0
    done: dict[tuple[int, int], np.ndarray] = {}  # a window clipped by the track's end recurs in longer passes
    with part("backend"):
        for seconds, w in WINDOWS.items():
            n = seconds * features.FPS
            for i in range(0, frames, n):
                key = (i, min(i + n, frames))
                if key not in done:
                    done[key] = engine.backend(feats[key[0]:key[1]])[:, 1]
                total[key[0]:key[1]] += w * done[key]
            weight += w
    if times is not None:
        times["backend"] = times.get("backend", 0.0) + time.perf_counter() - t
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
    stream: FeatureStream | None = None
    mouth: np.ndarray | None = None  # the previous crop's mouth region (sync.mouth_region)
    motion: list[float] | None = None


def score_tracks(path, tracks: Iterable[Track], audio: np.ndarray, *, engine: Engine | str = "onnxruntime",
                 times: dict[str, float] | None = None,
                 motion: dict[str, list[list[float]]] | None = None,
                 crops: FaceCrops | None = None,
                 visual: dict[str, tuple[int, np.ndarray]] | None = None,
                 served: dict[str, tuple] | None = None, report: bool = True) -> dict[str, list[list[float]]]:
    """Light-ASD scores per track: `{track_id: [[t, score], ...]}` at 25 fps, score > 0 meaning speaking.

    `audio` is the whole soundtrack, 16 kHz mono float32 (media.read_audio).
    `times`, when given, accumulates wall seconds per step (session, mfcc, decode, crop, encoder,
    backend) and the counts "frames" (decoded) and "face_frames" (crops) for benchmarks.
    `motion`, when given, receives per track `[[t, mouth motion], ...]` measured on the same crops
    (sync.mouth_motion's vertical flow spread): the attribution's lip-sound sync reads it beside the rows.
    `crops`: the grey face regions the faces pass kept (av.crops): tracks found there are cut
    from them and the video is decoded only for the others (none, when the faces pass ran now).
    `visual`, when given, receives per track `(first 25-fps frame, (T, 128) float16 rows)`: the visual
    encoder's own features of the same crops (a second output of the same encoder calls), for av.sync;
    each track's rows go to a spool file as the track is done (spool.RowSpool) and come back memory-mapped.
    `served`: tracks already scored, `{track_id: (scores, motion, (first frame, visual rows))}` (a long
    input's tracks scored as their faces window ended, windows.WindowSpeakers): taken as they are.
    `report`: progress steps (else only the cancel check: a pass run inside another stage).
    """
    from ..spool import RowSpool

    tracks = sorted(tracks, key=lambda t: (t.start, t.id))  # results in this order (pipeline.track_runs' too)
    times = {} if times is None else times
    served = served or {}
    step = _step if report else lambda *_: _step(0)

    def add(step: str, since: float) -> float:
        now = time.perf_counter()
        times[step] = times.get(step, 0.0) + now - since
        return now

    t = time.perf_counter()
    with part("session"):
        runner = engine if isinstance(engine, Engine) else Engine(engine)
    t = add("session", t)
    pending: list[_Pending] = []
    for tr in tracks:
        if tr.id in served:
            continue
        geo = features.geometry(tr.boxes, tr.start, tr.end)
        if len(geo.times):
            first = round(geo.times[0] * features.FPS)
            with part("mfcc"):  # the track's own span (float32, ~200 bytes a frame), not the whole soundtrack's
                rows = features.mfcc(audio, first * features.STEPS_PER_FRAME, len(geo.times) * features.STEPS_PER_FRAME)
            pending.append(_Pending(tr, geo, first, FeatureStream(runner, rows, times, visual=visual is not None),
                                    motion=[] if motion is not None else None))
    add("mfcc", t)
    results: dict[str, list[list[float]]] = {tr.id: [] for tr in tracks}
    for tid, (got, moved, rows) in served.items():
        if tid not in results:
            continue
        results[tid] = got
        if motion is not None and moved is not None:
            motion[tid] = moved
        if visual is not None and rows is not None:
            visual[tid] = rows
    if not pending:
        return results
    spool = RowSpool(128) if visual is not None else None
    placed: dict[str, tuple[int, int, int]] = {}  # track id -> (first frame, first spool row, rows)

    def scored() -> dict[str, list[list[float]]]:  # the results, with each track's visual rows mapped
        if spool is not None:
            kept_rows = spool.rows()
            for tid, (first, at, n) in placed.items():
                visual[tid] = (first, kept_rows[at:at + n])
        return results

    def finish(p: _Pending) -> None:
        encoded = p.stream.finish()
        if spool is not None:
            rows = p.stream.visual_rows()
            placed[p.track.id] = (p.first, spool.write(rows), len(rows))
        times["face_frames"] = times.get("face_frames", 0) + len(encoded)
        scores = windowed(runner, encoded, times)
        if 0 < len(scores) < len(p.geo.times) <= len(scores) + 2:
            # The file's last frame or two lack a whole 25 ms MFCC window: hold the last score.
            scores = np.concatenate([scores, np.repeat(scores[-1:], len(p.geo.times) - len(scores))])
        results[p.track.id] = [[round(float(t), 3), round(float(s), 3)]
                               for t, s in zip(p.geo.times[: len(scores)], scores, strict=True)]
        if motion is not None and p.motion is not None:
            motion[p.track.id] = [[round(float(t), 3), round(m, 4)]
                                  for t, m in zip(p.geo.times, p.motion, strict=False)]
        p.stream = None

    kept = [p for p in pending if crops is not None and crops.has(p.track.id)]
    total_frames = sum(len(p.geo.times) for p in kept)
    done = 0
    for p in kept:  # cut from what the faces pass kept: no decode
        for i, t_i in enumerate(p.geo.times):
            step(done + i, total_frames, "crops")
            with part("crop"):
                crop = crops.crop(p.track.id, t_i, p.geo.x[i], p.geo.y[i], p.geo.s[i])
            _push(p, crop)
        done += len(p.geo.times)
        finish(p)
    queue = [p for p in pending if crops is None or not crops.has(p.track.id)]  # the decode's, by first frame
    if not queue:
        return scored()
    open_: list[_Pending] = []
    # Decoded from the first track's frame (a seek to the keyframe before it, decoding forward from
    # there), not from the file's start: a task of late tracks (pipeline._asd_tasks) decodes its own span.
    origin = queue[0].first
    end = max(p.geo.times[-1] for p in queue) + 0.5 / features.FPS
    frames = iter(timed("decode", media.iter_frames(path, fps=features.FPS, start=origin / features.FPS,
                                                    end=end, grey=True)))
    total_frames = round(end * features.FPS)
    while True:
        t = time.perf_counter()
        frame = next(frames, None)
        add("decode", t)
        if frame is None:
            break
        times["frames"] = times.get("frames", 0) + 1
        k = origin + frame.index
        step(k, total_frames, "frames")  # progress; a cancelled job stops here
        while queue and queue[0].first <= k:
            open_.append(queue.pop(0))
        for p in list(open_):
            i = k - p.first
            if i >= len(p.geo.times):
                finish(p)
                open_.remove(p)
                continue
            t = time.perf_counter()
            with part("crop"):
                crop = features.crop_face(frame.image, p.geo.x[i], p.geo.y[i], p.geo.s[i])
            add("crop", t)
            _push(p, crop)
    for p in open_ + queue:
        finish(p)
    return scored()


def _push(p: _Pending, crop: np.ndarray) -> None:
    """One frame's crop into its track: the encoder stream (a chunk runs once enough are in) and mouth motion."""
    p.stream.push(crop)
    if p.motion is not None:  # the lips' opening and closing (sync.mouth_motion), which the attribution's sync reads
        mouth = mouth_region(crop)
        p.motion.append(0.0 if p.mouth is None else mouth_flow(p.mouth, mouth))
        p.mouth = mouth
