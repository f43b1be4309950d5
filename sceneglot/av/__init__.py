"""Audio-visual stage: active speaker detection (Light-ASD), then who said what on which face (attribute).

`active_speakers` picks Light-ASD when its weights can be had (and either a
cached ONNX export or torch to make one), else the clearly labelled lip-motion
fallback, and caches the per-track scores as the "asd" stage.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import models

if TYPE_CHECKING:
    import numpy as np

    from ..scene import MediaInfo, Track
    from .asd import Threads
    from .crops import FaceCrops
    from .sync import Encoded

LIGHT_ASD = "light-asd"
FALLBACK = "lip-motion"
ENGINES = ("onnxruntime", "opencv")  # runtimes for the exported Light-ASD network


@dataclass(frozen=True)
class AttributionSettings:
    """The audio-visual attribution's settings (av.attribute); chosen leave-one-scene-out by
    benchmarks/attribution.py."""

    speak: float = 0.0  # raw Light-ASD logit a face needs over a turn to be seen speaking (the network's own 0)
    margin: float = 2.0  # ... and its lead over every other visible face
    silent: float = 0.0  # every visible face below this: nobody on screen speaks
    voice: float = 0.6  # cosine distance under which two voices are one speaker
    clear: float = 0.8  # cosine distance above which one person's voices clearly differ (two speakers)
    sync: float = 1.645  # standard deviations a face's lip-sound sync must lead the others' by to count (5 %)
    # A speaking face's pooled lip-sound sync over its own voice, per square root of a second of it: the mean
    # over the shared scenes' speakers, and how much faces differ in it (the spread of those rates less their
    # own noise); benchmarks/attribution.py measures both. A voice a face's lips follow clearly less than a
    # speaker's would (by `sync` standard deviations) is not its own (attribute.follows).
    follow: float = 0.62
    follow_spread: float = 0.44


@dataclass
class ActiveSpeakers:
    method: str  # "light-asd" or "lip-motion"
    scores: dict[str, list[list[float]]] = field(default_factory=dict)  # track id -> [[t, score], ...]
    motion: dict[str, list[list[float]]] = field(default_factory=dict)  # track id -> [[t, mouth motion], ...]
    seconds: float = 0.0  # compute time (0 when read from the cache)
    encoded: Encoded | None = None  # Light-ASD's encoder rows, when asked for (`rows`; None for the fallback)


def method(model_name: str = LIGHT_ASD) -> tuple[str, str]:
    """(which scorer a run would use, why) without loading anything."""
    status = models.status(model_name)
    if not status.available:
        return FALLBACK, f"Light-ASD weights missing ({status.where})"
    from . import export

    cached = all(p.is_file() for p in export.cached_paths(model_name).values())
    if not cached and importlib.util.find_spec("torch") is None:
        return FALLBACK, "Light-ASD ONNX export not cached and torch (needed once to export) is not installed"
    return LIGHT_ASD, f"weights in {status.where}"


def active_speakers(path, tracks: list[Track], *, engine: str = "onnxruntime", model_name: str = LIGHT_ASD,
                    threads: Threads = None, times: dict[str, float] | None = None,
                    info: MediaInfo | None = None, audio: np.ndarray | None = None,
                    crops: FaceCrops | None = None,
                    visual: dict[str, tuple[int, np.ndarray]] | None = None, rows: bool = False,
                    served: dict[str, tuple] | None = None) -> ActiveSpeakers:
    """Per-track, per-frame speaking scores (> 0 speaking) with the best scorer available.

    `threads`: onnxruntime threads for Light-ASD, a number or a function of the moment
    (see asd.Engine; None: all cores). `times` collects per-step seconds (see
    asd.score_tracks). `info` and `audio` (16 kHz mono float32): the probe and soundtrack
    when the caller already has them. `crops`: the face regions the faces pass kept (av.crops),
    so Light-ASD decodes no video for the tracks found there. `visual`: receives Light-ASD's visual
    encoder rows per track (asd.score_tracks; left empty by the lip-motion fallback). `rows`: also
    return Light-ASD's encoder rows as `encoded` (av.sync.Encoded: those visual rows and the audio
    encoder's over the whole soundtrack, asd.soundtrack_audio), computed on the engine that scored the
    tracks, so the network's files are loaded once. `served`: Light-ASD results of tracks already scored
    (asd.score_tracks), taken as they are.
    """
    if engine not in ENGINES:
        from ..errors import InputError

        raise InputError(f"unknown ASD engine {engine!r}; choose from {', '.join(ENGINES)}")
    which, why = method(model_name)
    if which == FALLBACK:
        print(f"sceneglot: warning: {why}; using the lip-motion fallback for active speakers", file=sys.stderr)

    from .. import media

    start = time.perf_counter()
    info = info or media.probe(path)
    if not info.has_audio or not info.has_video or not tracks:
        return ActiveSpeakers(which, {t.id: [] for t in tracks}, {}, 0.0)
    audio = media.read_audio(path) if audio is None else audio
    motion: dict[str, list[list[float]]] = {}
    if which == LIGHT_ASD:
        from .. import jobs
        from . import asd

        runner = asd.Engine(engine, model_name, threads)
        visual = {} if visual is None and rows else visual
        scores = asd.score_tracks(path, tracks, audio, engine=runner, times=times, motion=motion, crops=crops,
                                  visual=visual, served=served)
        if rows:
            from .sync import Encoded

            runner.release_encoder()  # the soundtrack's rows need only the audio encoder
            with jobs.part("soundtrack encoder"):
                encoded = Encoded(asd.soundtrack_audio(runner, audio, times=times), visual)
            return ActiveSpeakers(which, scores, motion, time.perf_counter() - start, encoded)
    else:
        from . import lipmotion

        scores = lipmotion.score_tracks(path, tracks, audio)
    return ActiveSpeakers(which, scores, motion, time.perf_counter() - start)


def tracks_key(tracks: list[Track]) -> str:
    """A digest of what ASD scores depend on besides the media: every track's id and boxes (other face
    settings give other boxes, and must not reuse scores computed for the old ones)."""
    digest = hashlib.sha256()
    for t in tracks:
        digest.update(json.dumps([t.id, t.boxes], separators=(",", ":")).encode())
    return digest.hexdigest()[:16]


__all__ = ["ENGINES", "ActiveSpeakers", "AttributionSettings", "active_speakers", "method", "tracks_key"]
