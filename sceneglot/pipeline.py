"""The job pipeline: stage order, caching around pure stage functions, and the job's outputs.

Stages are plain functions of records (speech.asr.transcribe, speech.diarize,
vision.analyze_faces, av.active_speakers, av.attribute.attribute, translate_scene,
render.burn); this module runs them in order, each inside a `Progress.stage`
(events, cancellation) and the job folder's cache. The input is probed once and
its audio decoded once (only if a stage needs it); stage modules are imported
only when their stage computes, so a fully cached re-run loads no model code.
The public entry points are `jobs.run_job` and `jobs.render_job` (see jobs.py).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import jobs
from .errors import InputError, SceneglotError
from .files import atomic_path, check_output_path, write_text_atomic
from .jobs import Job, JobFolder, JobResult, Progress
from .scene import Heard, MediaInfo, Scene, Segment

T = TypeVar("T")


@dataclass
class Transcript:
    """The ASR stage's result: segments, and Whisper's English where the job's route takes its X->en leg."""

    segments: list[Segment]
    english: list[Heard] = field(default_factory=list)
    # The pass decoded that English (a job with a target): a transcript without it does not serve a job that
    # needs it (its whisper leg would decode every sentence's audio again); one with it serves any job.
    with_english: bool = False


@dataclass
class Analysis:
    """What analysis hands on: the untranslated scene, the diarization as RTTM, the ASR pass's English."""

    scene: Scene
    rttm: str = ""
    english: list[Heard] = field(default_factory=list)
    with_english: bool = False  # as Transcript.with_english


@dataclass
class Translation:
    """The machine's translation: per segment id, the fields translate_scene set (translation, pivot, route...)."""

    target_language: str | None
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def text(self, segment_id: int) -> str | None:
        return self.segments.get(str(segment_id), {}).get("translation")


def run_stage(progress: Progress, folder: JobFolder, name: str, settings: Any, compute: Callable[[], T],
              as_type: Any, total: float | None = None, serves: Callable[[T], bool] | None = None) -> T:
    """`compute()` as stage `name`: events around it, its result cached in the job folder (used when
    `serves(result)`, if given, says it holds what this job needs)."""
    with progress.stage(name, total):
        found = folder.load(name, settings, as_type)
        if found is not None and (serves is None or serves(found)):
            jobs.mark_cached()
            return found
        folder.hits.discard(name)
        result = compute()
        folder.store(name, settings, result)
        return result


class _Audio:
    """The soundtrack, decoded once (16 kHz mono float32) to a scratch file the first time a stage asks.

    `audio()` is the whole soundtrack as an array, read afresh for the stage that asks (a copy it drops
    when it ends: nothing keeps one for the job's lifetime); `audio.track()` is the soundtrack.Soundtrack
    itself, which the speech stages read a window or block at a time. `audio.spans()` is what reads a
    few spans: the same Soundtrack, or with `seek` (a Ray task, which has no scratch file to share)
    a soundtrack.Spans that seeks to each span, so an ASR window's task decodes only its window.
    It is the one audio provider every stage function is handed (here, or rebuilt in a Ray task by
    `lazy_audio`), so stages call the reading they need and never test which one it has.
    """

    def __init__(self, path: Path, info: MediaInfo, progress: Progress, seek: bool = False) -> None:
        self.path, self.info, self.progress, self.seek = path, info, progress, seek
        self._lock = threading.Lock()
        self._track = None

    def track(self):
        with self._lock:
            if self._track is None:
                from .soundtrack import Soundtrack

                with self.progress.stage("audio", round(self.info.duration, 3)):
                    self._track = Soundtrack(self.path, self.info.audio_stream, step=jobs.step)
            return self._track

    def spans(self, hold: tuple[float, float] | None = None):
        """The Soundtrack, or with `seek` a soundtrack.Spans (`hold`: a stretch (start, end) s decoded once and
        read from memory, Spans.hold)."""
        if not self.seek:
            return self.track()
        from .soundtrack import Spans

        found = Spans(self.path, self.info.audio_stream, self.info.duration)
        return found.hold(*hold) if hold else found

    def __call__(self):
        return self.track().array()


def _asr_settings(job: Job) -> dict[str, Any]:
    s = job.speech
    model = s.asr_model or os.environ.get("SCENEGLOT_WHISPER", "whisper-base")  # AsrOptions' default
    return {"language": s.language, "model": model, "audio_stream": s.audio_stream}


def _diarization_settings(job: Job) -> dict[str, Any]:
    s = job.speech
    return {"num": s.num_speakers, "min": s.min_speakers, "max": s.max_speakers, "audio_stream": s.audio_stream}


def lazy_audio(path: str | os.PathLike, info: MediaInfo, progress: Progress | None = None,
               seek: bool = False) -> Callable[[], Any]:
    """The soundtrack as a function: decoded on the first call, shared by the stages that ask
    (`seek`: spans are read by seeking, see _Audio.spans)."""
    return _Audio(Path(path), info, progress or Progress(), seek)


def local(stage: str, fn: Callable[..., T], job: Job, info: MediaInfo, audio: Callable[[], Any], *args: Any) -> T:
    """The default executor: a stage's computation `fn(job, info, audio, *args)` runs here.

    Another executor (cluster.RayExecutor) runs the same `fn` elsewhere; `fn` is a module-level
    function of records, so it can be sent there.
    """
    return fn(job, info, audio, *args)


def _local_map(stage: str, fn: Callable[..., T], job: Job, info: MediaInfo, audio: Callable[[], Any],
               items: list[tuple]) -> list[T]:
    return [fn(job, info, audio, *item) for item in items]


local.shares_cores = True  # stages in this process hand cores to each other (ASD takes all once speech is done)
local.map = _local_map  # windows one after another
Executor = Callable[..., Any]


def _language(job: Job) -> str | None:
    return None if job.speech.language in (None, "", "auto") else job.speech.language


def _asr_options(job: Job):
    from .speech import asr

    s = job.speech
    opts = asr.AsrOptions(model=s.asr_model) if s.asr_model else asr.AsrOptions()
    opts.english = _whisper_pivot(job)  # the pivot's X->en leg rides on the ASR pass
    return opts


def asr_stage(job: Job, info: MediaInfo, audio: Callable[[], Any]) -> Transcript:
    """Whisper over the whole soundtrack (an input no longer than one speech window)."""
    from .speech import asr

    segments, english = asr.transcribe_with_english(audio(), language=_language(job), options=_asr_options(job),
                                                    progress=lambda chunks: jobs.steps(chunks, len(chunks), "chunks"))
    return Transcript(segments, english, with_english=_whisper_pivot(job) is not None)


def asr_window_stage(job: Job, info: MediaInfo, audio: Callable[[], Any], k: int, count: int,
                     length: float | None = None, slack: float | None = None) -> tuple[list, list]:
    """Whisper over speech window k of `count` (windows.speech_window, of `length` and `slack`: windows.WINDOW
    and SLACK by default), only that window's audio read: (segments, Whisper's English), times in s of the input."""
    from . import windows
    from .speech import asr

    track = audio.spans()
    w = windows.speech_window(track, k, count, length or windows.WINDOW, slack or windows.SLACK)
    total = round(info.duration, 3)

    def progress(chunks):
        for c in chunks:
            jobs.step(round(min(total, w.start + c.start), 3), total, "s")
            yield c

    return asr.transcribe_window(track, w.start, w.end, language=_language(job), options=_asr_options(job),
                                 progress=progress)


def run_asr(job: Job, info: MediaInfo, audio: Callable[[], Any], executor: Executor) -> Transcript:
    """ASR as one computation, or per speech window for a long input (one executor task each: on Ray
    the windows run side by side); the Whisper model is dropped when the stage ends."""
    from . import memory, models, windows

    try:
        count = windows.speech_count(info.duration)
        if count == 1:
            return executor("asr", asr_stage, job, info, audio)
        from .speech import asr

        parts = map_stage(executor, "asr", asr_window_stage, job, info, audio, [(k, count) for k in range(count)])
        segments = asr.number([s for found, _ in parts for s in found])
        return Transcript(segments, [h for _, lines in parts for h in lines], _whisper_pivot(job) is not None)
    finally:
        models.whisper.cache_clear()  # a later translate through Whisper loads it again
        memory.release()


def map_stage(executor: Executor, stage: str, fn: Callable[..., T], job: Job, info: MediaInfo,
              audio: Callable[[], Any], items: list[tuple]) -> list[T]:
    """`fn(job, info, audio, *item)` for every item, by the executor's `map` when it has one (Ray: all at once)."""
    many = getattr(executor, "map", None)
    if many is not None:
        return many(stage, fn, job, info, audio, items)
    return [executor(stage, fn, job, info, audio, *item) for item in items]


def _wants_english(job: Job) -> Callable[[Transcript | Analysis], bool]:
    """Whether a cached transcript or analysis serves `job`: it has the English if the job's target needs it."""
    wanted = _whisper_pivot(job) is not None
    return lambda found: found.with_english or not wanted


def _whisper_pivot(job: Job) -> Callable[[str], bool] | None:
    """For the speech stage: which spoken languages reach the job's target through Whisper's X->en leg."""
    if not job.target_language:
        return None
    from .translate.route import plan

    @functools.cache
    def through_whisper(language: str) -> bool:
        try:
            route = plan(language, job.target_language, job.translator, job.translator_options, has_audio=True)
        except SceneglotError:
            return False
        return bool(route.legs) and route.legs[0].backend.name == "whisper"

    return through_whisper


def diarization_stage(job: Job, info: MediaInfo, audio: Callable[[], Any]) -> tuple[list[dict[str, Any]], Any]:
    """The speaker turns, and the CAM++ frame features diarization computed on the way (speech.diarize.
    VoiceFrames or None): the attribution pools its turns' voices from them instead of a second pass."""
    from . import memory
    from .speech.diarize import diarize_track

    s = job.speech
    counts = {"num_speakers": s.num_speakers, "min_speakers": s.min_speakers, "max_speakers": s.max_speakers}
    try:  # streaming the soundtrack block by block (diarize_track): never all of it
        turns, voices = diarize_track(audio.track(), **counts)
        return [asdict(t) for t in turns], voices
    finally:
        memory.release()


VOICES = "stage-diarization-voices.npz"  # the key diarization's CAM++ frame features are kept for, and their times
VOICE_FEATURES = "stage-diarization-voices.npy"  # the features (float16, ~184 MiB an hour), read memory-mapped


def _store_voices(folder: JobFolder, key: str, voices: Any) -> None:
    """Keep diarization's frame features in the job folder. The key file is removed first and written last,
    so a key found there always names the features beside it."""
    import numpy as np

    from .spool import save_rows

    if voices is None:
        return
    folder.path(VOICES).unlink(missing_ok=True)
    with atomic_path(folder.path(VOICE_FEATURES)) as tmp, tmp.open("wb") as fh:
        save_rows(fh, voices.features)  # np.save's bytes; the map's pages not left resident (spool.py)
    with atomic_path(folder.path(VOICES)) as tmp, tmp.open("wb") as fh:
        np.savez(fh, key=np.array(key), times=voices.times)


def _load_voices(folder: JobFolder, key: str) -> Any:
    """The diarization's kept CAM++ frame features for this key, memory-mapped from the job folder (the pages
    the attribution's turns touch are read, nothing is held), or None (the attribution then runs its own)."""
    import numpy as np

    from .speech.turns import VoiceFrames

    try:
        with np.load(folder.path(VOICES)) as saved:
            if str(saved["key"]) != key:
                return None
            times = saved["times"]
        features = np.load(folder.path(VOICE_FEATURES), mmap_mode="r")
    except (OSError, ValueError, KeyError):
        return None
    return VoiceFrames(times, features) if len(features) == len(times) else None


def faces_stage(job: Job, info: MediaInfo, audio: Callable[[], Any], crops: Any = None) -> Any:
    """Shots, tracks, persons of an input no longer than one window; `crops` (an av.crops.FaceCrops, this
    process only) also receives the grey face regions active speaker detection needs, so that stage
    decodes no video."""
    from .vision import analyze_faces

    return analyze_faces(Path(job.input), settings=job.faces, info=info, crops=crops)


def faces_window_stage(job: Job, info: MediaInfo, audio: Callable[[], Any], window: Any) -> Any:
    from . import windows

    return windows.window_faces(Path(job.input), job.faces, info, window)


def run_faces(job: Job, info: MediaInfo, audio: Callable[[], Any], executor: Executor, crops: Any = None) -> Any:
    """Faces as one computation, or per window for a long input (windows.py: one executor task each),
    tracks joined at the edges and persons clustered once here. `crops`: an av.crops.FaceCrops for an input
    of one window, a windows.WindowSpeakers for a long one (tracks inside a window scored from its squares),
    as analyze makes them."""
    from . import windows

    ws = windows.face_windows(info, job.faces)
    if len(ws) == 1:
        return executor("faces", faces_stage, job, info, audio, crops)
    if crops is not None:  # here, a WindowSpeakers: each window's pass, its inner tracks scored as it ends
        return windows.combine([crops.faces(Path(job.input), job.faces, info, ws, k) for k in range(len(ws))],
                               ws, job.faces, info)
    parts = map_stage(executor, "faces", faces_window_stage, job, info, audio, [(w,) for w in ws])
    return windows.combine(parts, ws, job.faces, info)


def asd_stage(job: Job, info: MediaInfo, audio: Callable[[], Any], tracks: list[Any],
              threads: Callable[[], int | None] | None = None,
              crops: Any = None, rows: bool = True) -> dict[str, Any]:
    """Raw Light-ASD scores per track and the mouth motion of the same crops (for the attribution), and
    under "encoded" Light-ASD's own encoder rows (av.sync.Encoded: each track's visual rows, the whole
    soundtrack's audio rows; None for the lip-motion fallback or without faces and sound), which the
    pipeline keeps in the job folder beside the stage's cache. Without `rows`, "encoded" holds the tracks'
    visual rows only (no soundtrack rows): a task of a stage split into tasks of tracks (run_asd) after the
    first, which computes the soundtrack's rows once for all."""
    from . import windows
    from .av import LIGHT_ASD, active_speakers

    sound = None
    if info.has_audio and info.has_video and tracks:
        # The soundtrack's rows need all of it. A later task's tracks (rows False) of a long input need only their
        # stretch: on a Ray node decoded from a seek (the ASR windows' reading), not the whole soundtrack. An input
        # of one speech window keeps the whole decode, cheap there and exact on any codec (a seek's samples are
        # the whole decode's within PNS noise on FFmpeg's AAC, media.read_audio_span).
        if rows or windows.speech_count(info.duration) == 1:
            sound = audio.track()
        else:
            sound = audio.spans((min(t.start for t in tracks) - 1.0, max(t.end for t in tracks) + 1.0))
    visual: dict[str, Any] = {}
    # A FaceCrops serves no track (None): every crop is cut from its squares. A WindowSpeakers' squares are
    # gone; the tracks it did not serve (across an edge) are decoded.
    served = crops.served() if crops is not None else None
    found = active_speakers(Path(job.input), tracks, engine=job.asd.engine, model_name=job.asd.model,
                            threads=threads, info=info, audio=sound, crops=None if served is not None else crops,
                            rows=rows, visual=None if rows else visual, served=served)
    encoded = found.encoded
    if not rows and sound is not None and found.method == LIGHT_ASD:
        import numpy as np

        from .av.sync import Encoded

        encoded = Encoded(np.zeros((0, 128), np.float16), visual)
    return {"scores": found.scores, "motion": found.motion, "encoded": encoded}


ENCODED = "stage-asd-encoded.npz"  # the key the asd stage's encoder rows are kept for, and each track's rows
ENCODED_VISUAL = "stage-asd-visual.npy"  # every track's visual encoder rows, one after another (float16)
ENCODED_AUDIO = "stage-asd-audio.npy"  # the soundtrack's audio encoder rows, one per 25-fps frame (float16)


def _store_encoded(folder: JobFolder, key: str, encoded: Any) -> None:
    """Keep the asd stage's encoder rows in the job folder (~256 bytes a frame each: ~23 MiB an hour of
    soundtrack, as much per hour of each face). They come memory-mapped from the stage's spool files
    (spool.RowSpool) and are copied track by track, never gathered in memory. The key file goes first
    and comes back last, so a key found there always names the rows beside it."""
    import numpy as np

    from .spool import save_rows, write_rows

    folder.path(ENCODED).unlink(missing_ok=True)
    if encoded is None:
        return
    ids = list(encoded.visual)
    counts = [len(encoded.visual[i][1]) for i in ids]
    with atomic_path(folder.path(ENCODED_VISUAL)) as tmp, tmp.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)),
                                                  "fortran_order": False, "shape": (sum(counts), 128)})
        for i in ids:
            write_rows(fh, encoded.visual[i][1], np.float16)
    with atomic_path(folder.path(ENCODED_AUDIO)) as tmp, tmp.open("wb") as fh:
        save_rows(fh, encoded.audio, np.float16)
    with atomic_path(folder.path(ENCODED)) as tmp, tmp.open("wb") as fh:
        np.savez(fh, key=np.array(key), ids=np.array(ids, dtype=str), firsts=np.array([encoded.visual[i][0]
                 for i in ids], np.int64), counts=np.array(counts, np.int64))


def _load_encoded(folder: JobFolder, key: str) -> Any:
    """The asd stage's kept encoder rows for this key (av.sync.Encoded, memory-mapped: the pages a turn
    touches are read, nothing is held), or None."""
    import numpy as np

    from .av.sync import Encoded

    try:
        with np.load(folder.path(ENCODED)) as saved:
            if str(saved["key"]) != key:
                return None
            ids, firsts, counts = [str(i) for i in saved["ids"]], saved["firsts"], saved["counts"]
        visual = np.load(folder.path(ENCODED_VISUAL), mmap_mode="r")
        sound = np.load(folder.path(ENCODED_AUDIO), mmap_mode="r")
    except (OSError, ValueError, KeyError):
        return None
    if visual.shape[1:] != (128,) or sound.shape[1:] != (128,) or len(visual) != int(np.sum(counts)):
        return None
    ends = np.cumsum(counts)
    return Encoded(sound, {i: (int(f), visual[e - c:e]) for i, f, c, e in zip(ids, firsts, counts, ends, strict=True)})


def run_asd(job: Job, info: MediaInfo, folder: JobFolder, progress: Progress, audio: Callable[[], Any],
            tracks: list[Any], executor: Executor = local, threads: Callable[[], int | None] | None = None,
            crops: Any = None) -> tuple[dict[str, dict[str, list[list[float]]]], Any]:
    """The asd stage, cached: its scores and mouth motion, and Light-ASD's encoder rows (av.sync.Encoded,
    memory-mapped from the job folder; None for the lip-motion fallback or without faces and sound).

    The rows are kept beside the stage's cache under the same key: a cache whose rows are missing or
    were kept for other settings (or one from before rows were kept) does not serve, the stage runs again.
    """
    from .av import LIGHT_ASD, tracks_key
    from .av import method as asd_method
    from .av.features import CROP_MOUTH

    which, _ = asd_method(job.asd.model)
    asd_key = {"method": which, "model": job.asd.model if which == LIGHT_ASD else None,
               "audio_stream": info.audio_stream,  # ASD listens too: another stream is another result
               "tracks": tracks_key(tracks), "mouth": [[r.start, r.stop] for r in CROP_MOUTH],
               "motion": "flow"}  # mouth motion as sync.mouth_motion measures it (it was a patch difference)
    key = folder.key("asd", asd_key)
    wants_rows = which == LIGHT_ASD and info.has_audio and info.has_video and bool(tracks)

    def compute() -> dict[str, dict[str, list[list[float]]]]:
        found = _asd_tasks(executor, job, info, audio, tracks, threads, crops)
        _store_encoded(folder, key, found.pop("encoded", None))
        return found

    scores = run_stage(progress, folder, "asd", asd_key, compute, dict[str, dict[str, list[list[float]]]],
                       serves=lambda _: not wants_rows or _load_encoded(folder, key) is not None)
    return scores, _load_encoded(folder, key) if wants_rows else None


def _asd_tasks(executor: Executor, job: Job, info: MediaInfo, audio: Callable[[], Any], tracks: list[Any],
               threads: Callable[[], int | None] | None, crops: Any) -> dict[str, Any]:
    """asd_stage as one computation, or split into tasks of tracks on an executor that runs several tasks
    side by side (`executor.width`: cluster.RayExecutor, the tasks its cluster's CPUs hold at once).

    The stage runs after faces, mostly once speech is done: as one task it had one declared CPU while the
    rest of the cluster idled (locally it takes every core). A track's scores, motion and visual rows
    depend on its own crops and MFCC span only, so tasks of tracks give what one task gives; the
    soundtrack's audio rows are computed once, by the first task. Tracks go in runs contiguous in time
    and each task decodes the video from a seek to its first track up to its last (score_tracks), so
    the decodes together cover the input about once whatever the count, and the split takes every task
    the cluster holds. Results are looked up by track id; the runs' scores, in start order, come
    in the order one task writes them."""
    count = min(int(getattr(executor, "width", 1)), len(tracks))
    if count < 2:
        return executor("asd", asd_stage, job, info, audio, tracks, threads, crops)
    parts = map_stage(executor, "asd", asd_stage, job, info, audio,
                      [(run, threads, crops, k == 0) for k, run in enumerate(track_runs(tracks, count))])
    found: dict[str, Any] = {name: {i: v for got in parts for i, v in got[name].items()}
                             for name in ("scores", "motion")}
    encoded = parts[0]["encoded"]
    if encoded is not None:
        from .av.sync import Encoded

        encoded = Encoded(encoded.audio, {i: v for got in parts for i, v in got["encoded"].visual.items()})
    return {**found, "encoded": encoded}


def track_runs(tracks: list[Any], count: int) -> list[list[Any]]:
    """`tracks` by (start, id) in `count` runs contiguous in time, none empty (count <= len(tracks)): a run
    closes once it holds its share of the face seconds (the encoders' work, most of a task's; its decode
    covers its own span), so the excess goes to the earlier runs."""
    ordered = sorted(tracks, key=lambda t: (t.start, t.id))
    sizes = [max(0.0, t.end - t.start) for t in ordered]
    total = sum(sizes) or 1.0
    runs: list[list[Any]] = [[]]
    done = 0.0
    for k, (track, size) in enumerate(zip(ordered, sizes, strict=True)):
        left = len(ordered) - k  # tracks not yet placed, this one included
        need = count - len(runs)  # runs still to open after the current one
        if runs[-1] and need and (done >= total * len(runs) / count or left == need):
            runs.append([])
        runs[-1].append(track)
        done += size
    return runs


def speech(job: Job, info: MediaInfo, folder: JobFolder, progress: Progress,
           audio: Callable[[], Any] | None = None, executor: Executor = local) -> tuple[Scene, str]:
    """The speech stages (ASR, diarization, cached; then words -> speakers -> phrases): the scene and its RTTM."""
    from .render.export import to_rttm

    scene, used, _, _ = _speech(job, info, folder, progress, audio, executor)
    return scene, to_rttm(used, Path(job.input).stem) if info.has_audio else ""


def _speech(job: Job, info: MediaInfo, folder: JobFolder, progress: Progress,
            audio: Callable[[], Any] | None = None, executor: Executor = local, parallel: bool = False
            ) -> tuple[Scene, list, Any, Transcript]:
    """speech(), with the diarization turns it used instead of their RTTM, diarization's CAM++ frame
    features (speech.turns.VoiceFrames, kept beside its stage cache; None when there are none) and the
    ASR stage's Transcript (its English: the X->en leg's, when the job's route takes it).

    `parallel`: diarization runs in a thread of its own beside ASR (it needs only the audio). Run
    after ASR it came last in the job's longest chain, alone on its one torch thread, with the
    other core idle once faces and active speakers were done.
    """
    from . import scene as scene_io

    src = Path(job.input)
    if not info.has_audio:
        return scene_io.Scene(media=info), [], None, []
    audio = audio or _Audio(src, info, progress)
    voices_key = folder.key("diarization", _diarization_settings(job))
    kept: dict[str, Any] = {}

    def diarization() -> list[dict[str, Any]]:
        turns, voices = executor("diarization", diarization_stage, job, info, audio)
        _store_voices(folder, voices_key, voices)
        # From here on the features are read from the job folder's copy, not held (an hour: ~184 MiB).
        kept["voices"] = None if voices is None else _load_voices(folder, voices_key) or voices
        return turns

    def diarization_worker() -> None:
        try:
            kept["turns"] = run_stage(progress, folder, "diarization", _diarization_settings(job), diarization,
                                      list[dict[str, Any]])
        except BaseException as exc:  # handed to this thread
            kept["error"] = exc

    worker = None
    if parallel:
        worker = threading.Thread(target=jobs.in_thread(diarization_worker), name="sceneglot-diarization",
                                  daemon=True)
        worker.start()
    transcript = run_stage(progress, folder, "asr", _asr_settings(job),
                           lambda: run_asr(job, info, audio, executor), Transcript, serves=_wants_english(job))
    if worker is None:
        diarization_worker()
    else:
        worker.join()
    if "error" in kept:
        raise kept["error"]
    turns = kept["turns"]
    voices = kept["voices"] if "voices" in kept else _load_voices(folder, voices_key)
    with progress.stage("speech", 1):
        from .speech.pipeline import assemble
        from .speech.turns import SpeakerTurn

        scene, used = assemble(info, transcript.segments, [SpeakerTurn(**t) for t in turns], _language(job))
        return scene, used, voices, transcript


def analyze(job: Job, progress: Progress | None = None, *, info: MediaInfo | None = None,
            folder: JobFolder | None = None, executor: Executor = local) -> Analysis:
    """Speech + faces + active speakers + attribution; each stage cached, the whole analysis too.

    Speech runs in a worker thread while faces and then active speakers run here:
    ASD needs only the face tracks and the audio, not the transcript, and the heavy
    parts (CTranslate2, onnxruntime, FFmpeg) release the GIL. ASD's encoder takes one
    core while speech still runs and every core once speech is done. `executor` runs each
    stage's computation (`local`: here; cluster.RayExecutor: as a Ray task).
    """
    from .av import AttributionSettings
    from .av import method as asd_method

    progress = progress or Progress()
    src = Path(job.input)
    info = info or probe(job, progress)
    folder = folder or JobFolder(job.folder, src)
    which, _ = asd_method(job.asd.model)
    settings = {"asr": _asr_settings(job), "diarization": _diarization_settings(job), "faces": asdict(job.faces),
                "asd": [which, job.asd.model], "attribution": asdict(AttributionSettings())}
    found = folder.load("analysis", settings, Analysis)
    if found is not None and _wants_english(job)(found):
        found.scene.media = info
        for name in ("asr", "diarization", "speech", "faces", "asd", "assign"):
            with progress.stage(name, 1):
                jobs.mark_cached()
        _debug_video(job, found.scene)
        return found
    # The vision stages' modules (OpenCV: ~2 CPU-s) before the speech thread starts. Faces -> active speakers
    # is the job's longest chain, and imports hold the GIL: started beside the speech thread's (torch ~3 CPU-s,
    # faster-whisper), the faces stage began only once torch was in.
    from . import windows
    from .av.crops import FaceCrops
    from .vision import FacesResult

    audio = _Audio(src, info, progress)
    speech_done = threading.Event()
    outcome: dict[str, Any] = {}

    def speech_stages():
        return _speech(job, info, folder, progress, audio, executor, parallel=job.asd.parallel)

    def speech_worker():
        try:
            outcome["speech"] = speech_stages()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
        finally:
            speech_done.set()

    def asd_threads() -> int | None:  # None: the engine's default ($SCENEGLOT_THREADS, else all cores)
        return None if speech_done.is_set() else 1

    def vision_stages():
        here = getattr(executor, "shares_cores", False)  # stages run in this process: they can share memory
        frames = info.frame_count or round(info.duration * info.fps) or None
        # One decode for faces and ASD: the faces pass keeps the grey face regions Light-ASD needs
        # (av.crops); ASD decodes the video itself only when faces came from the cache or elsewhere.
        crops = None
        if here and which == "light-asd" and info.has_video:
            if len(windows.face_windows(info, job.faces)) == 1:
                crops = FaceCrops(folder.folder, info.fps)
            elif info.has_audio:  # a long input: tracks inside a window scored as it ends, from its squares
                threads = asd_threads if job.asd.parallel else None
                crops = windows.WindowSpeakers(folder.folder, info.fps, audio.track, job.asd.engine, job.asd.model,
                                               threads)
        try:
            faces = run_stage(progress, folder, "faces", asdict(job.faces),
                              lambda: run_faces(job, info, audio, executor, crops), FacesResult, frames)
            scores, outcome["encoded"] = asd_scores(faces, crops, here)  # encoded: av.sync.Encoded | None
            return faces, scores
        finally:
            if crops is not None:
                crops.close()

    def asd_scores(faces, crops, here):
        threads = asd_threads if job.asd.parallel and here else None
        return run_asd(job, info, folder, progress, audio, faces.tracks, executor, threads, crops)

    if job.asd.parallel:
        # A daemon thread, not a pool: a cancelled or failed job returns at once and the
        # speech thread stops at its next step (or with the process), keeping what it cached.
        worker = threading.Thread(target=jobs.in_thread(speech_worker), name="sceneglot-speech", daemon=True)
        worker.start()
        try:
            faces, scores = vision_stages()
            speech_done.wait()
        except BaseException:
            progress.cancel.cancel()
            raise
    else:
        speech_worker()
        faces, scores = vision_stages()
    if "error" in outcome:
        raise outcome["error"]
    scene, turns, voices, transcript = outcome["speech"]
    with progress.stage("assign", 1):  # the attribution: who said each word, on which face
        import numpy as np

        from .av.attribute import attribute
        from .render.export import to_rttm

        for track in faces.tracks:
            track.asd = [list(row) for row in scores["scores"].get(track.id, [])]  # the network's own score
        scene.shots, scene.persons, scene.tracks = faces.shots, faces.persons, faces.tracks
        encoded = outcome.get("encoded")  # Light-ASD's encoder rows: whose lips follow the sound (None: mouth motion)
        attribute(scene, audio.track() if info.has_audio else np.zeros(0, np.float32), turns,
                  scores["motion"], voices=voices, sync_of=encoded.sync if encoded is not None else None)
    result = Analysis(scene, to_rttm(turns, src.stem) if info.has_audio else "", transcript.english,
                      transcript.with_english)
    folder.store("analysis", settings, result)
    _debug_video(job, scene)
    return result


def _debug_video(job: Job, scene: Scene) -> None:
    if job.render.debug_video and scene.media.has_video:  # nothing to draw on for audio-only input
        from .av.debug import render

        render(job.input, scene, job.render.debug_video)


def probe(job: Job, progress: Progress) -> MediaInfo:
    from . import media

    with progress.stage("probe", 1):
        return media.probe(job.input, audio=job.speech.audio_stream)


def translate(job: Job, scene: Scene, folder: JobFolder, progress: Progress, audio_path: str | None,
              english: list[Heard] | None = None) -> Scene:
    """Fill segments[].translation from the backend (cached per source text), keeping hand-edited ones.

    `english`: what the ASR pass decoded of Whisper's English (the analysis' record), the X->en leg's
    answer wherever it covers a sentence.
    """
    source = [[s.id, s.text, s.language, s.start, s.end] for s in scene.segments]
    settings = {"to": job.target_language, "translator": job.translator, "options": job.translator_options,
                "source_language": scene.source_language, "source": source,
                "audio_stream": scene.media.audio_stream, "english": jobs.to_data(english or [])}

    def compute() -> Translation:
        from .translate import translate_scene

        out = translate_scene(scene, job.target_language, translator=job.translator, audio_path=audio_path,
                              cache_path=job.translation_cache, options=job.translator_options,
                              english=english or ())
        made = {}
        for before, after in zip(scene.segments, out.segments, strict=True):
            changed = {f.name: getattr(after, f.name) for f in dataclasses.fields(after)
                       if getattr(after, f.name) != getattr(before, f.name)}
            made[str(after.id)] = {"translation": after.translation, **changed}
        return Translation(out.target_language, made)

    machine = run_stage(progress, folder, "translate", settings, compute, Translation, total=len(scene.segments))
    for seg in scene.segments:
        if not seg.translation_edited:
            seg.translation = None
            for name, value in machine.segments.get(str(seg.id), {}).items():
                setattr(seg, name, value)
    scene.target_language = machine.target_language
    return scene


def hand_edits(folder: JobFolder, scene: Scene) -> None:
    """Mark translations that differ from the machine's (the job's last translate stage) as edited by hand."""
    machine = folder.peek("translate", Translation)
    if machine is None or not machine.segments or machine.target_language != scene.target_language:
        return
    for seg in scene.segments:
        if seg.translation is not None and seg.translation != machine.text(seg.id):
            seg.translation_edited = True


def _carry_edits(old: Scene | None, new: Scene, target: str | None) -> None:
    """Hand-edited translations (into `target`) of the folder's previous scene.json survive a new translate run."""
    if old is None or old.target_language != target:
        return
    edited = {s.id: s for s in old.segments if s.translation_edited}
    for seg in new.segments:
        was = edited.get(seg.id)
        if was is not None and was.text == seg.text:
            seg.translation, seg.translation_edited = was.translation, True


def _previous_scene(folder: JobFolder) -> Scene | None:
    from . import scene as scene_io

    path = folder.path("scene.json")
    if not path.is_file():
        return None
    try:
        old = scene_io.load(path)
    except InputError:
        return None
    hand_edits(folder, old)
    return old


def video_name(job: Job, scene: Scene) -> str:
    """The video's name in the job folder: -o's name, else INPUT_STEM.LANG.mp4."""
    if job.output:
        return Path(job.output).name
    return f"{Path(job.input).stem}.{scene.target_language or scene.source_language or 'subtitled'}.mp4"


def render_outputs(job: Job, scene: Scene, folder: JobFolder, progress: Progress,
                   src: Path, info: MediaInfo | None = None) -> dict[str, Path]:
    """Burn the video and write the subtitle files into the job folder; -o gets the video and files too."""
    from .render import burn as burn_mod

    target = folder.path(video_name(job, scene))
    check_output_path(target, src)
    outputs = {"video": target, **burn_mod.export_paths(target, scene)}
    placed: dict[str, Path] = {}
    if job.output:
        out = Path(job.output)
        placed = {f"output_{k}": out.with_name(p.name) for k, p in outputs.items()}
        for p in placed.values():
            check_output_path(p, src)
    frames = (info.frame_count or round(info.duration * info.fps)) if info else None
    with progress.stage("render", frames):
        burn_mod.burn(scene, src, target, quality=job.render.quality, info=info)
    outputs = {k: p for k, p in outputs.items() if p.is_file()}  # no speech found: no subtitle files
    placed = {k: p for k, p in placed.items() if k.removeprefix("output_") in outputs}
    for key, path in placed.items():
        place(outputs[key.removeprefix("output_")], path)
    return {**outputs, **placed}


def place(made: Path, where: Path) -> None:
    """Put a job-folder file at `where` too: a hard link when the filesystem allows, else a copy; atomic."""
    if where.exists() and where.resolve() == made.resolve():
        return
    with atomic_path(where) as tmp:
        try:
            tmp.unlink()
            os.link(made, tmp)
        except OSError:
            shutil.copyfile(made, tmp)


def run(job: Job, progress: Progress | None = None, executor: Executor = local) -> JobResult:
    """The whole job (see jobs.run_job): analysis, translation when asked, render when asked."""
    from . import media
    from . import scene as scene_io

    started = time.perf_counter()
    progress = progress or Progress()
    src = Path(job.input)
    from_json = src.suffix.lower() == ".json"
    folder = JobFolder(job.folder, src)
    job.save()
    outputs: dict[str, Path] = {"job": folder.path("job.json")}
    old = _previous_scene(folder)
    if from_json:
        scene = scene_io.load(src)
        hand_edits(folder, scene)
        media_path = Path(scene.media.path)
        info = None
        analysed = folder.peek("analysis", Analysis)  # the job folder's own analysis of that media keeps its English
        same = analysed is not None and analysed.scene.media.path == scene.media.path \
            and analysed.scene.media.audio_stream == scene.media.audio_stream
        english = analysed.english if same else []
    else:
        info = probe(job, progress)
        analysis = analyze(job, progress, info=info, folder=folder, executor=executor)
        scene, english = analysis.scene, analysis.english
        media_path = src
        if analysis.rttm:
            outputs["rttm"] = write_text_atomic(folder.path("diarization.rttm"), analysis.rttm)
    scene_file = folder.path("scene.json")
    if job.target_language:
        if not from_json:
            scene_io.save(scene, scene_file)  # the transcript survives a failed translation
        audio = str(media_path) if media_path.is_file() else None
        _carry_edits(old, scene, job.target_language)  # marked segments keep their translation through translate()
        scene = translate(job, scene, folder, progress, audio, english)
    outputs["scene"] = scene_io.save(scene, scene_file)
    if job.output or job.render.video:
        if from_json:
            info = media.probe(media_path)
        outputs.update(render_outputs(job, scene, folder, progress, media_path, info))
    return JobResult(scene, outputs, time.perf_counter() - started)


def render(job: Job, progress: Progress | None = None, *, scene_path: str | os.PathLike | None = None) -> JobResult:
    """Re-render from an edited scene.json (see jobs.render_job): no analysis, no translation."""
    from . import edits, media
    from . import scene as scene_io

    started = time.perf_counter()
    progress = progress or Progress()
    folder = JobFolder(job.folder)
    path = Path(scene_path) if scene_path else folder.path("scene.json")
    scene = scene_io.load(path)
    src = Path(job.input if Path(job.input).suffix.lower() != ".json" else scene.media.path)
    media.check_input(src)
    with progress.stage("edits", 1):
        analysed = folder.peek("analysis", Analysis)
        hand_edits(folder, scene)
        edits.apply(scene, analysed.scene if analysed else None)
    info = media.require(probe(dataclasses.replace(job, input=str(src)), progress), video=True)
    outputs = render_outputs(job, scene, folder, progress, src, info)
    if path.resolve() == folder.path("scene.json").resolve():  # the job's own record follows its edits
        outputs["scene"] = scene_io.save(scene, path)
    return JobResult(scene, outputs, time.perf_counter() - started)

