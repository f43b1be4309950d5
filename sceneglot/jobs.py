"""A job: what to do (`Job` and its settings records), where its files live (`JobFolder`), how it goes (events, cancel).

This module sits at the bottom of the house: it imports nothing heavy, and every
front end (CLI, web app, a Ray runner) builds a `Job` and runs it the same way.

Public API::

    from sceneglot.jobs import Job, CancelToken, Cancelled, run_job, render_job

    job = Job(input="talk.mp4", folder="talk.sceneglot", target_language="pt", output="talk.pt.mp4")
    cancel = CancelToken()                       # cancel.cancel() from any thread (a web request, SIGINT)
    result = run_job(job, listeners=[print], cancel=cancel)
    result.scene, result.outputs                 # the Scene; {"video": Path, "scene": Path, "target_srt": ...}
    run_job(job, executor=cluster.RayExecutor("auto"))  # the same job, its stages as Ray tasks (--ray)
    render_job(Job.load("talk.sceneglot"))       # re-render from the folder's (edited) scene.json only

- `Job` holds everything a job needs: input, folder, target language, translator and its options,
  and `SpeechSettings`, `FacesSettings`, `AsdSettings`, `RenderSettings`; `job.to_dict()` /
  `Job.from_dict(d)` round-trip through JSON, `job.save()` writes FOLDER/job.json, `Job.load(folder)`.
- `run_job(job, listeners=(), cancel=None) -> JobResult`: analysis (speech, faces, active speakers,
  assignment), then translation when `target_language` is set, then the video and every subtitle
  file when `output` is set (or `render.video` is true). Every output lands in the job folder
  (scene.json, job.json, diarization.rttm, NAME.mp4, NAME.LANG.srt/.vtt, NAME.ass); `output` also
  receives the video with its subtitle files beside it.
- `render_job(job, listeners=(), cancel=None, scene_path=None) -> JobResult`: the video and subtitle
  files from an edited scene.json, with no analysis and no translation. Edited text is re-timed
  inside its phrase; a translation that differs from the machine's is marked `translation_edited`
  so a later `translate` keeps it.
- Listeners are callables taking one `Event(stage, done, total, message)`; any number, called from
  the job's threads (one at a time). Stages, in order: probe, audio, asr, diarization, speech
  (parallel with faces, asd), assign, translate, render. Each stage's first event has done == 0 and
  its last done == total (message "done" or "cached"), with the stage's wall and CPU seconds and
  those of its named parts (`part("decode")`, `timed("decode", frames)` inside a stage): the job's
  own per-stage timing, shown by `--progress json|times` and read by benchmarks/job.py.
- Cancellation: `cancel.cancel()` makes the next check in any stage (between frames, audio chunks,
  speech chunks) raise `Cancelled` (exit code 130). Stage caches already written stay, and no
  output is left half-written (every file is written to a temporary name and renamed), so running
  the same job again resumes after the last finished stage.
- Stages report with `step(done, total, message)` and only look at the cancel token through it:
  outside a job both are no-ops, so a stage function stays a plain function.
- `JobFolder(folder, input_path).cached(stage, settings, compute, as_type)`: a stage's result as
  FOLDER/stage-NAME.json keyed by the input's fingerprint, the settings, the sceneglot version and
  the digest of the code that computes the stage (codekey.py): a changed stage computes again.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import os
import threading
import time
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import __version__
from .errors import SceneglotError
from .files import write_text_atomic

T = TypeVar("T")
JOB_SCHEMA = "sceneglot.job/1"

# ---------------------------------------------------------------------------------------------------------------
# Records


@dataclass
class SpeechSettings:
    language: str | None = None  # None: detected per speech chunk
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    asr_model: str | None = None  # Whisper store name or CTranslate2 folder; None: whisper-base / $SCENEGLOT_WHISPER
    audio_stream: int | None = None  # which audio stream to use; None: the container's default


@dataclass(frozen=True)
class FacesSettings:
    detect_size: int = 640  # long side, in pixels, of the frame YuNet and the shot detector see
    score_threshold: float = 0.7  # YuNet confidence
    every: int = 5  # detection every k-th frame, tracking in between
    max_gap: float = 1.0  # seconds a face may be lost and still continue its track
    smooth: float = 2.0  # Gaussian sigma (frames) on per-frame boxes
    crops_per_track: int = 3
    threshold: float = 0.363  # cosine similarity to join tracks into one person (SFace's published threshold)


@dataclass
class AsdSettings:
    engine: str = "onnxruntime"  # runtime for the exported Light-ASD network: onnxruntime or opencv
    model: str = "light-asd"
    parallel: bool = True  # speech in a worker thread while faces and active speakers run


@dataclass
class RenderSettings:
    video: bool = False  # render the video even without `output` (into the job folder)
    quality: str = "balanced"  # fast | balanced | best: the encoder's speed/size trade-off (render.quality)
    debug_video: str | None = None  # analyze only: where to draw the audio-visual debug video


@dataclass
class Job:
    input: str  # media file (or a scene.json made earlier, for translate)
    folder: str  # the job folder: job.json, scene.json, stage caches, every export
    target_language: str | None = None
    translator: str | None = None  # None: the best available backend
    translator_options: dict[str, str] = field(default_factory=dict)
    translation_cache: str | None = None  # SQLite file; None: in the model cache
    output: str | None = None  # also place the video (and its subtitle files beside it) here
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    faces: FacesSettings = field(default_factory=FacesSettings)
    asd: AsdSettings = field(default_factory=AsdSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    schema: str = JOB_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return to_data(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        if not isinstance(data, dict) or data.get("schema") != JOB_SCHEMA:
            from .errors import InputError

            found = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise InputError(f"expected a job record {JOB_SCHEMA!r}, found {found!r}")
        return from_data(cls, data)

    def save(self) -> Path:
        path = Path(self.folder) / "job.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_text_atomic(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n")

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Job:
        from .errors import InputError

        path = Path(folder) / "job.json" if Path(folder).is_dir() else Path(folder)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise InputError(f"no job record: {path}") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(f"not a job record: {path} ({exc})") from None


@dataclass
class JobResult:
    scene: Any  # scene.Scene
    outputs: dict[str, Path] = field(default_factory=dict)  # "scene", "video", "target_srt", ... -> file
    seconds: float = 0.0


def to_data(obj: Any) -> Any:
    """Records -> JSON-ready data (dataclasses become dicts, tuples lists; fields marked transient are left out)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.metadata.get("transient")}
    if isinstance(obj, list | tuple):
        return [to_data(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    return obj


def from_data(tp: Any, data: Any) -> Any:
    """JSON data -> the record type `tp` (dataclasses, list[...], dict[str, ...], X | None), by its type hints.

    Unknown keys are dropped, missing ones take the field's default: files written by an older or
    newer version still load.
    """
    if data is None:
        return None
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: from_data(hints[f.name], data[f.name])
                     for f in dataclasses.fields(tp) if f.init and f.name in data})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in args if a is not type(None)]
        return from_data(options[0], data) if len(options) == 1 else data
    if origin is list:
        return [from_data(args[0], x) for x in data] if args else list(data)
    if origin is tuple:
        return tuple(from_data(a, x) for a, x in zip(args, data, strict=False)) if args else tuple(data)
    if origin is dict:
        return {k: from_data(args[1], v) for k, v in data.items()} if args else dict(data)
    return data


# ---------------------------------------------------------------------------------------------------------------
# The job folder and its stage cache

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


def settings_key(*parts: Any) -> str:
    text = json.dumps([to_data(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class JobFolder:
    """A job's folder: stage caches, scene.json, job.json and the exports live here.

    `cached` keys a stage's saved result by the input's fingerprint, the stage's settings, the
    sceneglot version and the digest of the stage's code (codekey.digest: its modules and what they
    import), so a re-run after a crash, a Ctrl-C, with other settings for a later stage, or after an
    upgrade that changed some stages' code recomputes only what changed. Stages never see this: the
    pipeline wraps them. `code`: the package tree whose source keys the caches (this one by default).
    `peek` reads a stage's last result whatever its key: what an edited scene is compared with (render,
    hand-edited translations), so an upgrade never discards a user's edits.
    """

    def __init__(self, folder: str | os.PathLike, input_path: str | os.PathLike | None = None,
                 code: str | os.PathLike | None = None) -> None:
        self.folder = Path(folder)
        self.code = str(code) if code is not None else None
        self.folder.mkdir(parents=True, exist_ok=True)
        self.input_key = fingerprint(input_path) if input_path is not None else ""
        self.hits: set[str] = set()  # stages read from their cache in this run

    def path(self, name: str) -> Path:
        return self.folder / name

    def key(self, stage: str, settings: Any) -> str:
        from . import codekey

        code = codekey.digest(stage) if self.code is None else codekey.stage_digest(stage, self.code)
        return settings_key(self.input_key, stage, settings, __version__, code)

    def load(self, stage: str, settings: Any, as_type: Any) -> Any | None:
        """The cached result of `stage` for these settings, or None."""
        try:
            saved = json.loads(self.path(f"stage-{stage}.json").read_text(encoding="utf-8"))
            if saved.get("key") == self.key(stage, settings):
                result = from_data(as_type, saved["result"])
                self.hits.add(stage)
                return result
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        return None

    def peek(self, stage: str, as_type: Any) -> Any | None:
        """The last saved result of `stage`, whatever its key (what the job computed before an edit)."""
        try:
            saved = json.loads(self.path(f"stage-{stage}.json").read_text(encoding="utf-8"))
            return from_data(as_type, saved["result"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def store(self, stage: str, settings: Any, result: Any) -> None:
        write_text_atomic(self.path(f"stage-{stage}.json"), json.dumps(
            {"key": self.key(stage, settings), "stage": stage, "settings": to_data(settings),
             "result": to_data(result)}, ensure_ascii=False, allow_nan=False))

    def cached(self, stage: str, settings: Any, compute: Callable[[], T], as_type: Any) -> T:
        """`compute()`'s result, saved as FOLDER/stage-STAGE.json, or the saved one when the key matches."""
        found = self.load(stage, settings, as_type)
        if found is not None:
            return found
        result = compute()
        self.store(stage, settings, result)
        return result


# ---------------------------------------------------------------------------------------------------------------
# Progress events and cancellation


@dataclass(frozen=True)
class Event:
    """One progress report. A stage's last event (message "done" or "cached") also says what it cost:
    `seconds` (wall), `cpu` (CPU seconds of the whole process while it ran: stages running side by
    side, speech beside faces and ASD, each count the other's too), `at` (seconds from the job's start
    to the stage's start) and `parts`, {part: [wall, cpu]} of the named steps inside it (`part`)."""

    stage: str
    done: float
    total: float | None  # None: unknown
    message: str = ""
    seconds: float | None = None
    cpu: float | None = None
    at: float | None = None
    parts: dict[str, list[float]] | None = None

    def timing(self) -> dict[str, Any]:
        """The cost fields of an end event, for JSON (empty on other events)."""
        if self.seconds is None:
            return {}
        return {"seconds": round(self.seconds, 4), "cpu": round(self.cpu or 0.0, 4), "at": round(self.at or 0.0, 4),
                "parts": {k: [round(w, 4), round(c, 4)] for k, (w, c) in (self.parts or {}).items()}}


Listener = Callable[[Event], None]


class Cancelled(SceneglotError):
    """The job was cancelled; finished stage caches are kept, no output was written half."""

    exit_code = 130


class CancelToken:
    """Set from anywhere (another thread, a signal handler); stages see it at their next `step`.

    `event`: an existing threading.Event to watch (a server's per-job flag), else a new one.
    """

    def __init__(self, event: threading.Event | None = None) -> None:
        self._event = event or threading.Event()
        self._latched = False  # once seen, stays: a server may clear its flag for the next job

    def cancel(self) -> None:
        self._latched = True
        self._event.set()

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            self._latched = True
        return self._latched

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled("cancelled; finished stages are kept and the next run resumes from them")


class Progress:
    """One job's event hub: listeners, the cancel token and the stage each thread is in."""

    def __init__(self, listeners: Iterable[Listener] = (), cancel: CancelToken | None = None,
                 interval: float = 0.1) -> None:
        self.listeners = list(listeners)
        self.cancel = cancel or CancelToken()
        self.interval = interval  # seconds between in-stage events (start and end always go out)
        self.started = time.perf_counter()  # the job's clock: end events say when their stage began on it
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            for listener in self.listeners:
                listener(event)

    @contextlib.contextmanager
    def stage(self, name: str, total: float | None = None) -> Iterator[_Stage]:
        """Run a block as stage `name`: a start event, `step` calls inside it report here, an end event."""
        self.cancel.check()
        current = _Stage(self, name, total)
        token = _CURRENT.set(current)
        try:
            self.emit(Event(name, 0, total, "start"))
            yield current
        finally:
            _CURRENT.reset(token)
        self.cancel.check()
        end = current.total if current.total is not None else current.done
        self.emit(Event(name, end, end, "cached" if current.cached else "done",
                        seconds=time.perf_counter() - current.wall0, cpu=time.process_time() - current.cpu0,
                        at=current.wall0 - self.started, parts=dict(current.parts)))


class _Stage:
    def __init__(self, progress: Progress, name: str, total: float | None) -> None:
        self.progress, self.name, self.total = progress, name, total
        self.done: float = 0
        self.cached = False
        self._last = 0.0
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.parts: dict[str, list[float]] = {}  # part -> [wall, cpu] seconds, summed
        self._parts_lock = threading.Lock()

    def add(self, part: str, wall: float, cpu: float) -> None:
        with self._parts_lock:
            spent = self.parts.setdefault(part, [0.0, 0.0])
            spent[0] += wall
            spent[1] += cpu

    def step(self, done: float, total: float | None = None, message: str = "") -> None:
        self.progress.cancel.check()
        if total is not None:
            self.total = total
        self.done = max(self.done, done)
        now = time.monotonic()
        if now - self._last >= self.progress.interval:
            self._last = now
            self.progress.emit(Event(self.name, self.done, self.total, message))


_CURRENT: contextvars.ContextVar[_Stage | None] = contextvars.ContextVar("sceneglot_stage", default=None)


def step(done: float, total: float | None = None, message: str = "") -> None:
    """Called by stages between frames and chunks: report progress, raise `Cancelled` if the job was cancelled.

    A no-op outside a job, so stage functions stay usable on their own.
    """
    current = _CURRENT.get()
    if current is not None:
        current.step(done, total, message)


def steps(items: Iterable[T], total: float | None = None, message: str = "") -> Iterator[T]:
    """Yield `items`, calling `step` before each and once after the last."""
    n = 0
    for item in items:
        step(n, total, message)
        yield item
        n += 1
    step(n, total, message)


@contextlib.contextmanager
def part(name: str) -> Iterator[None]:
    """Count the block's wall and process CPU seconds as part `name` of the running stage (summed over
    calls; reported in the stage's end event). A no-op outside a job."""
    current = _CURRENT.get()
    if current is None:
        yield
        return
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        current.add(name, time.perf_counter() - wall, time.process_time() - cpu)


def timed(name: str, items: Iterable[T]) -> Iterator[T]:
    """Yield `items`, counting the time spent producing each (a decoder's, say) as part `name`."""
    current = _CURRENT.get()
    if current is None:
        yield from items
        return
    it = iter(items)
    while True:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            item = next(it)
        except StopIteration:
            current.add(name, time.perf_counter() - wall, time.process_time() - cpu)
            return
        current.add(name, time.perf_counter() - wall, time.process_time() - cpu)
        yield item


def mark_cached() -> None:
    """The current stage's result came from the job folder."""
    current = _CURRENT.get()
    if current is not None:
        current.cached = True


def in_thread(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    """`fn(*args)` bound to the caller's job context, for running in another thread."""
    ctx = contextvars.copy_context()
    return lambda: ctx.run(fn, *args)


# ---------------------------------------------------------------------------------------------------------------
# Entry points (the pipeline does the work; importing it here would pull in every stage)


def run_job(job: Job, listeners: Iterable[Listener] = (), cancel: CancelToken | None = None,
            executor: Callable[..., Any] | None = None) -> JobResult:
    """Analyse, translate (when the job has a target language) and render (when it has an output).

    `executor`: where stage computations run (None: here; a `cluster.RayExecutor`: on a Ray cluster).
    """
    from .pipeline import local, run

    return run(job, Progress(listeners, cancel), executor or local)


def render_job(job: Job, listeners: Iterable[Listener] = (), cancel: CancelToken | None = None,
               scene_path: str | os.PathLike | None = None) -> JobResult:
    """Re-render the video and subtitle files from the job folder's (edited) scene.json, or `scene_path`."""
    from .pipeline import render

    return render(job, Progress(listeners, cancel), scene_path=scene_path)


__all__ = ["AsdSettings", "CancelToken", "Cancelled", "Event", "FacesSettings", "Job", "JobFolder", "JobResult",
           "Listener", "Progress", "RenderSettings", "SpeechSettings", "fingerprint", "from_data", "in_thread",
           "mark_cached", "part", "render_job", "run_job", "step", "steps", "timed", "to_data"]
