"""The faces stage: shots, face tracks with per-frame boxes, and persons, in one streamed pass.

`analyze_faces(path)` decodes the video once at a reduced size (long side
`detect_size`), scores each frame for shot changes, runs YuNet on every k-th
frame (and on the first frame of each shot), associates detections into
tracks, keeps the few best aligned crops per track, and finally clusters the
tracks into persons with SFace. Only boxes, landmarks, frame times and those
crops are held, never frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .. import media
from ..jobs import FacesSettings, part, step, timed
from ..scene import Person, Shot, Track
from .faces import AdaptiveDetector
from .identity import CropBank, cluster, load_recognizer
from .shots import ShotDetector, ShotSettings, shots_from_starts
from .track import Hit, Tracker, TrackSettings, finish

if TYPE_CHECKING:
    from ..av.crops import FaceCrops
    from ..scene import MediaInfo

__all__ = ["FacesResult", "FacesSettings", "analyze_faces"]


@dataclass
class FacesResult:
    shots: list[Shot] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    frames: int = 0
    # seconds per step of this run (transient: not saved in the job's cache)
    timings: dict[str, float] = field(default_factory=dict, metadata={"transient": True})
    # per track id, its SFace embedding: what crosses windows (sceneglot.windows); not cached either
    embeddings: dict[str, list[float]] = field(default_factory=dict, metadata={"transient": True})


def analyze_faces(path, *, settings: FacesSettings | None = None, info: MediaInfo | None = None,
                  debug_video: str | None = None, crops: FaceCrops | None = None) -> FacesResult:
    """Shots, face tracks (one smoothed box per frame, source pixels) and persons of a video.

    `info`: the input's probe, when the caller has it. Reports each frame through jobs.step
    (progress, and the point where a cancelled job stops). `crops`: an av.crops.FaceCrops to
    fill with the grey face regions active speaker detection needs, from this same decode.
    """
    s = settings or FacesSettings()
    result = _compute(path, s, info or media.probe(path), crops=crops)
    if debug_video:
        from .debug import render

        render(path, result, debug_video)
    return result


def _detect_size(info: MediaInfo, long_side: int) -> tuple[int, int] | None:
    scale = long_side / max(info.width, info.height, 1)
    if scale >= 1.0:
        return None
    w = max(2, round(info.width * scale / 2) * 2)
    h = max(2, round(info.height * scale / 2) * 2)
    return w, h


def _compute(path, s: FacesSettings, info: MediaInfo, start: float = 0.0, end: float | None = None,
             crops: FaceCrops | None = None) -> FacesResult:
    """The faces of [start, end) (the whole video by default); frame times stay absolute."""
    if not info.has_video:
        return FacesResult()
    size = _detect_size(info, s.detect_size)
    dw, dh = size or (info.width, info.height)
    sx, sy = info.width / dw, info.height / dh
    fps = info.frame_rate
    clock = {"decode": 0.0, "shots": 0.0, "detect": 0.0, "track": 0.0, "crops": 0.0, "identity": 0.0}
    shot_det = ShotDetector(ShotSettings())
    detector = AdaptiveDetector((dw, dh), score_threshold=s.score_threshold)
    tset = TrackSettings(every=s.every, max_gap=s.max_gap, smooth=s.smooth)
    tracker = Tracker(fps, tset)
    bank = CropBank(load_recognizer(), keep=s.crops_per_track)
    times: list[float] = []
    starts: list[float] = []
    last_det = -(10**9)
    start_all = time.perf_counter()
    t = start_all
    expected = info.frame_count or round(info.duration * fps) or None
    frames = media.iter_frames(path, size=size, start=start, end=end, keep_source=crops is not None)
    for fr in timed("decode", frames):
        step(fr.index, expected, "frames")
        now = time.perf_counter()
        clock["decode"] += now - t
        i = fr.index
        times.append(fr.time)
        img = fr.image
        with part("shots"):
            cut = shot_det.update(img, fr.time)
        if cut and i > 0:
            tracker.cut(i - 1)
            starts.append(fr.time)
            last_det = -(10**9)
            detector.reset()
        t1 = time.perf_counter()
        clock["shots"] += t1 - now
        if i - last_det >= s.every:
            last_det = i
            with part("detect"):
                dets = detector.detect(img)
            t2 = time.perf_counter()
            clock["detect"] += t2 - t1
            hits = []
            for d in dets:
                box, lm = d.scaled(sx, sy)
                hits.append(Hit(frame=i, box=box, landmarks=lm, score=d.score))
            owners = tracker.step(i, hits)
            t3 = time.perf_counter()
            clock["track"] += t3 - t2
            with part("crops"):
                for d, owner in zip(dets, owners, strict=True):
                    bank.offer(owner.key, d, img, sx)
            clock["crops"] += time.perf_counter() - t3
        if crops is not None and tracker.active and crops.sampled(fr.time):
            with part("asd crops"):  # what active speaker detection will need, from this decode
                for raw in tracker.active:
                    crops.add(raw.key, fr.time, fr, raw.hits[-1].box)  # grey made under each square only
        t = time.perf_counter()
    if not times:
        return FacesResult()
    tracker.cut(len(times) - 1)
    t = time.perf_counter()
    raw = sorted((r for r in tracker.finished if tracker.keep(r)),
                 key=lambda r: (r.hits[0].frame, float(r.hits[0].box[0])))
    frame_times = np.asarray(times)
    tracks = [finish(r, frame_times, f"T{n}", s.smooth) for n, r in enumerate(raw)]
    if crops is not None:
        crops.names = {tr.id: r.key for tr, r in zip(tracks, raw, strict=True)}
    with part("identity"):
        embeddings = [bank.embedding(r.key) for r in raw]
        persons = name_persons(tracks, embeddings, s.threshold)
    last = float(times[-1]) + 1.0 / fps
    if end is None:
        last = max(last, info.duration) if info.duration else last
    shots = [sh for sh in shots_from_starts([start, *starts], round(last, 6)) if sh.start >= start - 1e-6]
    clock["identity"] = time.perf_counter() - t
    clock["total"] = time.perf_counter() - start_all
    return FacesResult(shots=shots, tracks=tracks, persons=persons, frames=len(times), timings=clock,
                       embeddings={tr.id: list(map(float, e)) for tr, e in zip(tracks, embeddings, strict=True)})


def name_persons(tracks: list[Track], embeddings: list[np.ndarray], threshold: float) -> list[Person]:
    """Cluster tracks into persons P0, P1... (sets each track's `person`); tracks overlapping in time never join."""
    labels = cluster(embeddings, [(tr.start, tr.end) for tr in tracks], threshold)
    persons: list[Person] = []
    for label in sorted(set(labels)):
        pid = f"P{label}"
        members = [tr for tr, lab in zip(tracks, labels, strict=True) if lab == label]
        for tr in members:
            tr.person = pid
        persons.append(Person(id=pid, tracks=[tr.id for tr in members]))
    return persons
