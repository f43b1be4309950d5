"""Real jobs on a real local Ray cluster (two nodes of one CPU each, `ray.cluster_utils.Cluster`).

`sceneglot analyze cut2.mp4 --ray ADDRESS` and `... twoshot.mp4 --ray ADDRESS` run at the same
time as two processes (drivers like any other submitters) sharing the cluster; their stages run
as Ray tasks on the cluster's worker processes, and each scene must equal the one a local run
makes: same speakers, persons, phrase count and texts. The drivers run no model: Whisper and
onnxruntime are not even imported there. A long input's windows are one task each: faces per
window on the cluster, joined here, equal the local windowed run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from sceneglot import scene as scene_io
from sceneglot.jobs import fingerprint
from tests.media_fixtures import CUT2, DIAR_WAV, SHARED, TWOSHOT

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
MODEL_MODULES = ("onnxruntime", "ctranslate2", "faster_whisper")  # torch and cv2 come with record types
JOB_TIMEOUT = 2400.0  # s for one job: ~250 s for both jobs at load 10, and a loaded CI machine is slower


def _node_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "SCENEGLOT_MODEL_PATH": str(SHARED / "models"), "SCENEGLOT_QUIET": "1"}


@pytest.fixture(scope="module")
def cluster(monkeypatch_module):
    """Two nodes, one CPU and a small object store each; shut down whatever happens.

    Ray's workers run at nice 0 like the drivers and the local runs they are compared with: at Ray's
    default nice 15 a loaded machine gives them a few percent of a core (measured ~5 % at load 18),
    and the jobs then ran out of their time limit, not out of anything the tests check."""
    monkeypatch_module.setenv("RAY_worker_niceness", "0")  # read by the raylets Cluster starts
    env = _node_env()
    store = 80 << 20
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": store,
                                                      "include_dashboard": False, "env_vars": env})
    try:
        c.add_node(num_cpus=1, object_store_memory=store, env_vars=env)
        c.wait_for_nodes()
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()


def test_input_reaches_a_node_without_the_submitters_path(cluster, tmp_path):
    """A task on a node where the input path does not exist gets the same bytes from the object store."""
    from sceneglot.cluster import connect, local_input

    connect(cluster.address)
    data = CUT2.read_bytes()
    refs = [ray.put(data[:500_000]), ray.put(data[500_000:])]
    missing = str(tmp_path / "elsewhere" / "cut2.mp4")  # exists on no node

    @ray.remote(num_cpus=1)
    def fetch(path, key, pieces, cache):
        return str(local_input(path, key, pieces, Path(cache)))

    key = fingerprint(CUT2)
    made = [Path(p) for p in ray.get([fetch.remote(missing, key, refs, str(tmp_path / "cache")) for _ in range(3)])]
    assert len(set(made)) == 1 and made[0].name == "cut2.mp4" and made[0].parent.name == key
    assert made[0].read_bytes() == data
    same = ray.get(fetch.remote(str(CUT2), key, refs, str(tmp_path / "cache")))
    assert same == str(CUT2)  # the same file is there: used where it is, not copied


def _analyze(folder: Path, *extra: str, env: dict[str, str] | None = None, src: Path = CUT2) -> subprocess.Popen:
    code = ("import json, sys; from sceneglot.cli import main; rc = main(sys.argv[1:]);"
            f"print('MODULES', json.dumps([m for m in {list(MODEL_MODULES)!r} if m in sys.modules])); sys.exit(rc)")
    env = {**os.environ, **_node_env(), **(env or {})}
    return subprocess.Popen([sys.executable, "-c", code, "analyze", str(src), "--no-debug-video", "--artifacts",
                             str(folder), "--progress", "json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _finish(proc: subprocess.Popen, timeout: float = JOB_TIMEOUT) -> tuple[str, list[str]]:
    """The job's stderr and the model modules its driver imported; a failure names its cause: the error
    lines (not the progress events around them) or, on a timeout, the stage each event last reached."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the job ran past {timeout:.0f} s (load {os.getloadavg()[0]:.1f}); last events: "
                    f"{_last_events(err)}", pytrace=False)
    said = "\n".join(line for line in err.splitlines() if not line.startswith("{"))
    assert proc.returncode == 0, f"exit {proc.returncode}: {said[-3000:]}\nlast events: {_last_events(err)}"
    found = re.search(r"MODULES (\[.*\])", out)
    return err, json.loads(found.group(1)) if found else None


def _last_events(err: str) -> dict[str, str]:
    last: dict[str, str] = {}
    for line in err.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                e = json.loads(line)
                last[e.get("stage", "?")] = f"{e.get('message') or ''} {e.get('done', '')}/{e.get('total', '')}"
    return last


def test_two_jobs_share_the_cluster_and_equal_local_runs(cluster, tmp_path):
    clips = {"cut2": CUT2, "twoshot": TWOSHOT}
    running = {name: _analyze(tmp_path / f"{name}-ray", "--ray", cluster.address, src=src)
               for name, src in clips.items()}  # both at once: their tasks queue on the same two CPUs
    for name, proc in running.items():
        err, modules = _finish(proc)
        assert modules == [], f"the driver imported model code: {modules}"
        events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        ends = {e["stage"] for e in events if e.get("message") == "done"}
        assert {"asr", "diarization", "faces", "asd", "assign"} <= ends
        for stage in ("asr", "diarization", "faces", "asd"):  # results computed there, cached here
            assert (tmp_path / f"{name}-ray" / f"stage-{stage}.json").is_file()

    # The local runs with the threads of a 1-CPU task (Ray sets OMP_NUM_THREADS for its workers): Whisper's
    # CPU decoding follows the OpenMP thread count, so equal threads is what "the same job" means here.
    one_thread = {"SCENEGLOT_THREADS": "1", "OMP_NUM_THREADS": "1"}
    for name, src in clips.items():
        _, modules = _finish(_analyze(tmp_path / f"{name}-local", env=one_thread, src=src))
        assert "faster_whisper" in modules  # it did run here
        remote = scene_io.load(tmp_path / f"{name}-ray" / "scene.json")
        here = scene_io.load(tmp_path / f"{name}-local" / "scene.json")
        assert [s.id for s in remote.speakers] == [s.id for s in here.speakers], name
        assert [(p.id, p.tracks) for p in remote.persons] == [(p.id, p.tracks) for p in here.persons], name
        assert len(remote.segments) == len(here.segments) > 0, name
        assert [s.text for s in remote.segments] == [s.text for s in here.segments], name
        assert [(s.speaker, s.person) for s in remote.segments] == [(s.speaker, s.person) for s in here.segments]


def test_windows_run_as_tasks_and_join_as_locally(cluster):
    """A long input's faces: one Ray task per window (submitted together), joined on the submitter,
    equal the local windowed run; the edge falls inside the longest shot, where a face is on screen."""
    from sceneglot import media, pipeline, windows
    from sceneglot.cluster import RayExecutor
    from sceneglot.jobs import Job

    info = media.probe(CUT2)
    job = Job(input=str(CUT2), folder="unused")
    edge = round(round(6.4 / (5 / info.fps)) * (5 / info.fps), 6)
    ws = [windows.Window(0.0, edge), windows.Window(edge, 9.6), windows.Window(9.6, info.duration)]
    with RayExecutor(cluster.address) as executor:
        parts = pipeline.map_stage(executor, "faces", pipeline.faces_window_stage, job, info, None,
                                   [(w,) for w in ws])
    there = windows.combine(parts, ws, job.faces, info)
    here = windows.analyze_faces(CUT2, job.faces, info, ws)
    assert [(t.id, t.start, t.end, len(t.boxes)) for t in there.tracks] == \
        [(t.id, t.start, t.end, len(t.boxes)) for t in here.tracks]
    assert [p.tracks for p in there.persons] == [p.tracks for p in here.persons]
    assert there.frames == here.frames == sum(p.frames for p in parts) > 0


def test_speech_windows_run_as_tasks_with_the_local_text(cluster, monkeypatch):
    """A long input's ASR: one Ray task per speech window (submitted together, each finding its window's edges
    from the minute around them and reading its audio from seeks) gives the segments, words and times the
    local run gives window by window from the decoded soundtrack. Short windows (8 s, 3 s slack) make the
    30 s sample.wav four windows; the local run has the threads of a 1-CPU task."""
    from sceneglot import media, pipeline, windows
    from sceneglot.cluster import RayExecutor
    from sceneglot.jobs import Job, SpeechSettings

    monkeypatch.setenv("SCENEGLOT_THREADS", "1")
    info = media.probe(DIAR_WAV)
    job = Job(input=str(DIAR_WAV), folder="unused", speech=SpeechSettings(language="en"))
    count = windows.speech_count(info.duration, 8.0, 3.0)
    assert count == 4
    items = [(k, count, 8.0, 3.0) for k in range(count)]
    with RayExecutor(cluster.address) as executor:
        there = pipeline.map_stage(executor, "asr", pipeline.asr_window_stage, job, info, None, items)
    here = pipeline.map_stage(pipeline.local, "asr", pipeline.asr_window_stage, job, info,
                              pipeline.lazy_audio(DIAR_WAV, info), items)
    said = lambda parts: [[(s.start, s.end, s.text, [(w.start, w.end, w.text) for w in s.words])  # noqa: E731
                           for s in segs] for segs, _ in parts]
    assert said(there) == said(here)
    assert sum(len(segs) for segs, _ in here) >= count  # someone speaks in every window


def test_a_task_of_late_tracks_reads_only_their_stretch_of_sound(tmp_path):
    """An active-speaker task after the first (pipeline._asd_tasks: rows False) of a long input on a Ray node
    reads its tracks' stretch of the soundtrack from a seek (the provider cluster._stage_task hands it), never
    the whole soundtrack, and scores as the same task reading the decoded soundtrack. The input: 4 minutes
    (over one speech window) of a small test picture and pink noise in AAC without PNS, whose noise a decoder
    started at a seek draws otherwise (media.read_audio_span); the tracks are late, at 200-206 s."""
    import numpy as np

    from sceneglot import media, pipeline, windows
    from sceneglot.jobs import Job
    from sceneglot.scene import Track
    from sceneglot.soundtrack import Soundtrack

    clip = tmp_path / "long-nopns.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=240",
                    "-f", "lavfi", "-i", "anoisesrc=d=240:c=pink:r=48000:a=0.3", "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", "250", "-c:a", "aac", "-aac_pns", "0", str(clip)], check=True)
    info = media.probe(clip)
    assert windows.speech_count(info.duration) > 1
    tracks = [Track(tid, a, b, [[t, 20, 10, 140, 110] for t in np.arange(a, b + 1e-6, 0.04)])
              for tid, a, b in [("T2", 200.0, 202.96), ("T3", 203.04, 206.0)]]
    job = Job(input=str(clip), folder="unused")
    seek = pipeline.lazy_audio(clip, info, seek=True)
    there = pipeline.asd_stage(job, info, seek, tracks, rows=False)
    here = pipeline.asd_stage(job, info, pipeline.lazy_audio(clip, info), tracks, rows=False)
    assert seek._track is None  # nothing decoded whole, here or (below) in the Spans the task read
    spans, whole = seek.spans((199.0, 207.0)), Soundtrack(clip)
    assert len(spans) == len(whole) and spans._whole is None  # its length too, from the last seconds
    assert np.array_equal(spans.read(199.5, 206.5), whole.read(199.5, 206.5))
    assert there["scores"] == here["scores"] and there["motion"] == here["motion"]
    assert all(len(there["scores"][t.id]) == 75 for t in tracks)
    for t in tracks:
        assert np.array_equal(there["encoded"].visual[t.id][1], here["encoded"].visual[t.id][1])


def test_pivot_english_decoded_on_the_cluster_reaches_the_translation(cluster, tmp_path):
    """translate --to pt --ray on German speech: the ASR task decodes Whisper's English beside the transcript and
    sends it back in its result, and the driver's X->en leg takes it from there: the driver loads no Whisper."""
    code = ("import json, sys; from sceneglot.cli import main; rc = main(sys.argv[1:]);"
            f"print('MODULES', json.dumps([m for m in {list(MODEL_MODULES)!r} if m in sys.modules])); sys.exit(rc)")
    speech = SHARED / "eval" / "speech" / "multilingual" / "deyu.wav"
    proc = subprocess.run([sys.executable, "-c", code, "translate", str(speech), "--to", "pt", "--artifacts",
                           str(tmp_path / "job"), "--cache", str(tmp_path / "c.sqlite"), "--ray", cluster.address],
                          capture_output=True, text=True, env={**os.environ, **_node_env()}, cwd=ROOT, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(re.search(r"MODULES (\[.*\])", proc.stdout).group(1)) == []
    segs = [s for s in scene_io.load(tmp_path / "job" / "scene.json").segments if s.text.strip()]
    assert segs and all(s.translation and s.pivot for s in segs)
    assert {s.route for s in segs} == {"whisper:de>en + bergamot:en>pt"}
    assert "homepage" in " ".join(s.pivot for s in segs).lower()


def test_unreachable_cluster_is_one_line(tmp_path):
    env = {**os.environ, **_node_env()}
    proc = subprocess.run([sys.executable, "-m", "sceneglot", "analyze", str(CUT2), "--no-debug-video",
                           "--artifacts", str(tmp_path / "job"), "--ray", "127.0.0.1:9"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "Ray cluster at 127.0.0.1:9" in proc.stderr
    assert not (tmp_path / "job" / "scene.json").exists()


def test_nothing_imports_ray_without_the_option():
    code = ("import sys; from sceneglot import cli, jobs, pipeline; from sceneglot.web import worker;"
            "from sceneglot.commands import options; cli.build_parser();"
            "assert options.executor(type('A', (), {'ray': None})()) is None;"
            "assert options.ray_executor(None) is None;"
            "print('ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **_node_env()}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"
