"""Stage order, per-stage result caching under the job's artifacts folder, progress.

A stage's result is saved as DIR/stage-NAME.json together with a key made of
the input's fingerprint, the stage's settings and the sceneglot version, so a
re-run after a crash (or with other settings for a later stage) recomputes only
what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from . import __version__
from .files import write_text_atomic

T = TypeVar("T")
_EDGE = 1 << 20


def fingerprint(path: str | os.PathLike) -> str:
    """Cheap content key: size plus the first and last MiB (full hashing of a film is slow)."""
    p = Path(path)
    size = p.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with p.open("rb") as fh:
        digest.update(fh.read(_EDGE))
        if size > _EDGE:
            fh.seek(max(_EDGE, size - _EDGE))
            digest.update(fh.read(_EDGE))
    return digest.hexdigest()[:16]


class Artifacts:
    """A job's folder: stage caches, scene.json and the exports live here."""

    def __init__(self, folder: str | os.PathLike, input_path: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.input_key = fingerprint(input_path)

    def path(self, name: str) -> Path:
        return self.folder / name

    def cached(
        self,
        stage: str,
        settings: dict[str, Any],
        compute: Callable[[], T],
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
    ) -> T:
        key = hashlib.sha256(
            json.dumps([self.input_key, stage, settings, __version__], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        file = self.folder / f"stage-{stage}.json"
        try:
            saved = json.loads(file.read_text(encoding="utf-8"))
            if saved.get("key") == key:
                return decode(saved["result"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        result = compute()
        write_text_atomic(file, json.dumps({"key": key, "stage": stage, "settings": settings,
                                            "result": encode(result)}, ensure_ascii=False))
        return result


def progress(items: Iterable[T], total: float | None = None, desc: str = "", unit: str = "it") -> Iterator[T]:
    """A progress bar on stderr for interactive runs; silent in pipes, CI and tests."""
    quiet = os.environ.get("SCENEGLOT_QUIET") or not sys.stderr.isatty()
    if quiet:
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)


def analyze(input_path, artifacts_dir, *, language=None, num_speakers=None, min_speakers=None, max_speakers=None,
            asd_engine="onnxruntime", debug_video=None, parallel=True):
    """Speech + faces + active speakers + assignment in one run; writes artifacts_dir/scene.json (no translation).

    Each stage is cached under `artifacts_dir`, so a re-run redoes only what
    changed; scene.json appears only once everything succeeded. With `parallel`,
    speech runs in a worker thread while faces and then active speakers run here:
    ASD needs only the face tracks and the audio, not the transcript, and the
    heavy parts (CTranslate2, onnxruntime, FFmpeg) release the GIL. ASD's encoder
    takes one core while speech still runs and every core once speech is done.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from . import media
    from . import scene as scene_io
    from .av import active_speakers
    from .av.assign import assign
    from .speech import transcribe_scene
    from .vision import analyze_faces

    info = media.probe(input_path)
    art = Artifacts(artifacts_dir, input_path)

    speech_done = threading.Event()

    def speech_stage():
        try:
            return transcribe_scene(input_path, language=language, num_speakers=num_speakers,
                                    min_speakers=min_speakers, max_speakers=max_speakers, artifacts=art)
        finally:
            speech_done.set()

    def asd_threads() -> int | None:  # None: the engine's default ($SCENEGLOT_THREADS, else all cores)
        return None if speech_done.is_set() else 1

    def vision_stages():
        faces = analyze_faces(input_path, artifacts=art)
        asd = active_speakers(input_path, faces.tracks, artifacts=art, engine=asd_engine,
                              threads=asd_threads if parallel else None)
        return faces, asd

    if parallel:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sceneglot-speech") as pool:
            speech_job = pool.submit(speech_stage)
            faces, asd = vision_stages()  # on an error here, leaving the pool still waits for speech
            speech = speech_job.result()
    else:
        speech = speech_stage()
        faces, asd = vision_stages()
    for track in faces.tracks:
        track.speaking = [list(row) for row in asd.scores.get(track.id, [])]
    scene = scene_io.Scene(media=info, source_language=speech.source_language, shots=faces.shots,
                           speakers=speech.speakers, persons=faces.persons, tracks=faces.tracks,
                           segments=speech.segments)
    assign(scene)
    if debug_video and info.has_video:  # nothing to draw on for audio-only input
        from .av.debug import render

        render(input_path, scene, debug_video)
    scene_io.save(scene, art.path("scene.json"))
    return scene
