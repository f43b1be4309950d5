"""The headline job for real: `sceneglot translate cut2.mp4 --to pt -o OUT.mp4` with the real models, then an
edit of scene.json and `sceneglot render`, then Ctrl-C and resume. Nothing here is faked: the CLI runs in its own
process, every stage computes, and the checks compare with the clip's hand-made truth (cut2.json)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sceneglot import media
from sceneglot import scene as scene_io
from sceneglot.render.burn import Painter
from tests.media_fixtures import CUT2, EVAL, GRID, SHARED

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
MODEL_MODULES = ("torch", "onnxruntime", "ctranslate2", "faster_whisper", "sceneglot.translate", "sceneglot.speech",
                 "sceneglot.vision")


def _env() -> dict[str, str]:
    env = {**os.environ, "SCENEGLOT_MODEL_PATH": str(SHARED / "models")}
    env.pop("SCENEGLOT_QUIET", None)  # --progress json must speak even where the suite runs quiet
    return env


def _sceneglot(args: list[str]) -> tuple[subprocess.CompletedProcess, float, list[str]]:
    """Run the CLI in a fresh process; also report which model modules it imported."""
    code = ("import json, sys; from sceneglot.cli import main; rc = main(sys.argv[1:]);"
            f"print('MODULES', json.dumps([m for m in {list(MODEL_MODULES)!r} if m in sys.modules])); sys.exit(rc)")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=_env(),
                          cwd=ROOT, timeout=1200)
    seconds = time.perf_counter() - start
    modules = re.search(r"MODULES (\[.*\])", proc.stdout)
    return proc, seconds, (json.loads(modules.group(1)) if modules else None)


def _events(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("stage-*.json"))}


def _srt_texts(path: Path) -> list[str]:
    """Cue texts of an SRT file without the "S0: " speaker labels."""
    blocks = [b.splitlines() for b in path.read_text(encoding="utf-8").strip().split("\n\n")]
    return [re.sub(r"^S\d+: ", "", " ".join(b[2:])) for b in blocks]


def _squash(texts) -> str:
    return " ".join(" ".join(texts).split())


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    out = root / "out" / "cut2.pt.mp4"
    out.parent.mkdir()
    from sceneglot.av import export as asd_export
    from sceneglot.speech import export as speech_export

    asd_export.onnx_paths()  # the one-off ONNX exports (torch) before the job, as on any machine after its first
    speech_export.onnx_paths()
    proc, seconds, modules = _sceneglot(["translate", str(CUT2), "--to", "pt", "-o", str(out), "--progress", "json",
                                         "--cache", str(root / "translations.sqlite3")])  # a first translation
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = out.parent / "cut2.pt.sceneglot"
    return {"root": root, "out": out, "folder": folder, "seconds": seconds, "events": _events(proc.stderr),
            "scene": scene_io.load(folder / "scene.json"), "modules": modules}


def test_a_job_with_the_exports_cached_never_imports_torch(first):
    assert "torch" not in first["modules"]
    assert {"onnxruntime", "sceneglot.speech"} <= set(first["modules"])


def test_video_keeps_duration_size_and_audio(first):
    src, dst = media.probe(CUT2), media.probe(first["out"])
    assert abs(dst.duration - src.duration) < 0.1
    assert (dst.width, dst.height, dst.fps) == (src.width, src.height, src.fps)
    assert dst.has_audio and dst.audio_codec == src.audio_codec and dst.sample_rate == src.sample_rate
    audio = media.read_audio(first["out"])
    assert abs(len(audio) / 16000 - src.duration) < 0.1 and float(np.sqrt(np.mean(audio**2))) > 0.01


def test_every_output_is_in_the_job_folder_and_beside_the_video(first):
    folder, out = first["folder"], first["out"]
    names = {"job.json", "scene.json", "diarization.rttm", "cut2.pt.mp4", "cut2.en.srt", "cut2.en.vtt",
             "cut2.pt.srt", "cut2.pt.vtt", "cut2.pt.ass"}  # the language named once
    assert names <= {p.name for p in folder.iterdir()}
    for name in names - {"job.json", "scene.json", "diarization.rttm"}:
        assert (out.parent / name).read_bytes() == (folder / name).read_bytes()
    assert not [p for p in out.parent.rglob("*") if ".part" in p.name]


def test_target_srt_and_vtt_carry_the_scene_translations(first):
    scene = first["scene"]
    assert scene.target_language == "pt" and all(s.translation for s in scene.segments)
    translations = _squash(s.translation for s in sorted(scene.segments, key=lambda s: s.start))
    assert _squash(_srt_texts(first["out"].with_suffix(".srt"))) == translations  # cut2.pt.srt
    vtt = first["out"].with_suffix(".vtt").read_text(encoding="utf-8")
    assert _squash(re.sub(r"<v [^>]*>", "", line) for line in vtt.splitlines()[1:]
                   if line and "-->" not in line) == translations


def test_subtitle_is_drawn_near_the_speaking_face_in_that_speakers_colour(first):
    truth = json.loads((EVAL / "scenes" / "cut2.json").read_text())
    scene = first["scene"]
    painter = Painter(scene)
    by_truth: dict[str, set[str]] = {}
    for turn in truth["turns"]:
        t = (turn["start"] + turn["end"]) / 2
        cues = [c for c in painter.visible(t) if c.speaker]
        assert len(cues) == 1, f"one phrase on screen at {t:.2f} s"
        by_truth.setdefault(turn["speaker"], set()).add(cues[0].speaker)
        rgb = painter.colors[cues[0].speaker]
        frame = next(media.iter_frames(first["out"], start=t)).image.astype(np.int16)
        src = next(media.iter_frames(CUT2, start=t)).image.astype(np.int16)
        near = np.abs(frame - np.array(rgb[::-1], np.int16)).max(axis=2) < 60
        changed = np.abs(frame - src).max(axis=2) > 40
        ys, xs = np.nonzero(near & changed)
        assert len(xs) > 300, f"speaker-coloured text at {t:.2f} s"
        (face,) = [p["box"] for p in turn["on_screen"] if p["person"] == turn["speaker"] and p["speaking"]]
        x0, y0, x1, y1 = face
        margin = 0.25 * (x1 - x0)
        assert x0 - margin < np.median(xs) < x1 + margin and y0 - margin < np.median(ys) < y1 + margin
    # The truth's two speakers are two diarized speakers, so two colours.
    assert all(len(v) == 1 for v in by_truth.values()) and len(set.union(*by_truth.values())) == 2


def test_progress_events_arrive_in_order_for_every_stage(first):
    events = first["events"]
    stages = ["probe", "audio", "asr", "diarization", "speech", "faces", "asd", "assign", "translate", "render"]
    assert {e["stage"] for e in events} == set(stages)
    at = {}
    for stage in stages:
        own = [(i, e) for i, e in enumerate(events) if e["stage"] == stage]
        (i0, start), (i1, end) = own[0], own[-1]
        assert start["message"] == "start" and start["done"] == 0
        assert end["message"] == "done" and end["done"] == end["total"]
        done = [e["done"] for _, e in own]
        assert done == sorted(done)
        at[stage] = (i0, i1)
    assert at["probe"][1] < min(i0 for i0, _ in at.values() if i0 != at["probe"][0])
    assert max(at[s][1] for s in ("speech", "faces", "asd")) < at["assign"][0]
    assert at["assign"][1] < at["translate"][0] and at["translate"][1] < at["render"][0]
    assert at["faces"][1] < at["asd"][0] and at["diarization"][1] < at["speech"][0]
    frames = [e for e in events if e["stage"] == "render" and e["message"] == "frames"]
    assert frames and frames[-1]["total"] == media.probe(CUT2).frame_count


@pytest.fixture(scope="module")
def edited(first, tmp_path_factory):
    """The job folder copied, scene.json edited by hand (a translation, a phrase's text, a speaker's name),
    then `sceneglot render FOLDER/scene.json -o EDITED.mp4`."""
    root = tmp_path_factory.mktemp("edit")
    folder = root / "job"
    shutil.copytree(first["folder"], folder)
    data = json.loads((folder / "scene.json").read_text(encoding="utf-8"))
    segs = sorted(data["segments"], key=lambda s: s["start"])
    segs[1]["translation"] = "Frase corrigida à mão pelo revisor."
    segs[2]["text"] = "I would like to get much better at that one day."
    data["speakers"][0]["name"] = "Ana"
    (folder / "scene.json").write_text(json.dumps(data), encoding="utf-8")
    before = _hashes(folder)
    out = root / "edited.mp4"
    proc, seconds, modules = _sceneglot(["render", str(folder / "scene.json"), "-o", str(out), "--progress", "json"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"folder": folder, "out": out, "seconds": seconds, "modules": modules, "events": _events(proc.stderr),
            "before": before, "edited_ids": (segs[1]["id"], segs[2]["id"]), "old": first["scene"]}


def test_render_after_edit_runs_neither_analysis_nor_translation(edited):
    assert _hashes(edited["folder"]) == edited["before"]  # every stage cache untouched
    assert {e["stage"] for e in edited["events"]} == {"edits", "probe", "render"}
    assert edited["modules"] == []  # no ASR, diarization, vision or translation code was even imported


def test_edited_text_is_in_the_new_subtitle_files(edited):
    out = edited["out"]
    pt = _squash(_srt_texts(out.with_suffix(".pt.srt")))
    assert "Frase corrigida à mão pelo revisor." in pt and "Frase corrigida" in out.with_suffix(".pt.vtt").read_text()
    assert "get much better at that one day" in _squash(_srt_texts(out.with_suffix(".en.srt")))
    assert ",Ana," in out.with_suffix(".ass").read_text(encoding="utf-8")  # the Dialogue lines' Name field


def test_edits_are_recorded_in_the_scene(edited):
    scene = scene_io.load(edited["folder"] / "scene.json")
    tr_id, text_id = edited["edited_ids"]
    by_id = {s.id: s for s in scene.segments}
    assert by_id[tr_id].translation_edited and not any(s.translation_edited for s in scene.segments if s.id != tr_id)
    seg = by_id[text_id]  # new words spell the new text, inside the phrase, in order
    assert " ".join(w.text.strip() for w in seg.words) == seg.text
    assert seg.start <= seg.words[0].start and seg.words[-1].end <= seg.end
    assert all(a.end <= b.start for a, b in zip(seg.words, seg.words[1:], strict=False))
    assert all(len(t.asd) == len(t.speaking) > 0 for t in scene.tracks)  # raw and fused scores both kept


def test_edited_translation_is_what_the_frames_show(edited):
    new = scene_io.load(edited["folder"] / "scene.json")
    painter = Painter(new)
    cue = next(c for c in painter.cues if c.segment == edited["edited_ids"][0])
    t = cue.end - 0.3  # the translation has settled (it is typed in the source language first)
    src = next(media.iter_frames(CUT2, start=t))
    frame = next(media.iter_frames(edited["out"], start=t)).image.astype(np.int16)
    want = painter.paint(src.image.copy(), src.time).astype(np.int16)
    old = Painter(edited["old"]).paint(src.image.copy(), src.time).astype(np.int16)
    differs = np.abs(want - old).max(axis=2) > 40  # where the new text and the old one differ
    assert differs.sum() > 300
    assert np.abs(frame - want)[differs].mean() < 0.5 * np.abs(frame - old)[differs].mean()


def test_ctrl_c_stops_the_job_and_the_next_run_resumes(tmp_path):
    folder = tmp_path / "job"
    args = ["analyze", str(GRID[1]), "--artifacts", str(folder), "--no-debug-video", "--progress", "json"]
    # SIG_DFL in the child: under a background shell job SIGINT starts ignored, and Python would keep that.
    proc = subprocess.Popen([sys.executable, "-m", "sceneglot", *args], stderr=subprocess.PIPE, text=True,
                            env=_env(), cwd=ROOT, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if '"stage": "faces"' in line and '"frames"' in line:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130
    assert rest.strip().splitlines()[-1].startswith("sceneglot: interrupted; finished stages are kept")
    assert '"assign"' not in rest and not (folder / "scene.json").exists()
    assert not [p for p in folder.iterdir() if ".part" in p.name]
    again = subprocess.run([sys.executable, "-m", "sceneglot", *args], capture_output=True, text=True,
                           env=_env(), cwd=ROOT, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert scene_io.load(folder / "scene.json").tracks
