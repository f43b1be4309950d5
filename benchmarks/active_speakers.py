"""Audio-visual benchmark on the shared scenes: who-says-what accuracy, frame-level ASD accuracy, ASD time share.

    python benchmarks/active_speakers.py [--engine onnxruntime|opencv] [--fallback] [SCENE ...]

Runs each stage from scratch (fresh artifacts folder) and prints a table:
- phrase->face: share of truth speech time, covered by a phrase, whose phrase is attached to
  the person truly speaking (or null when that person is off screen); persons are mapped to truth
  labels by optimal matching of face positions. `covered` is the share of truth speech time under a phrase.
- ASD acc raw / fused: frame-level accuracy (score > 0 <=> truth speaking) over visible faces, for the
  network's own scores and for the scores after voice-identity fusion (what scene.json holds).
- time: wall seconds per stage and ASD's share of the whole pipeline (ASD = scoring + assignment), then
  the same share in process CPU time, which other jobs on the machine disturb much less than wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval" / "scenes"
os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models"))

from sceneglot import av, media  # noqa: E402
from sceneglot.av import assign as av_assign  # noqa: E402
from sceneglot.pipeline import Artifacts  # noqa: E402
from sceneglot.scene import Scene  # noqa: E402
from sceneglot.speech import transcribe_scene  # noqa: E402
from sceneglot.vision import analyze_faces  # noqa: E402

FPS = 25


def _turn(truth: dict, t: float) -> dict | None:
    return next((u for u in truth["turns"] if u["start"] <= t < u["end"]), None)


def _truth_person(truth: dict, t: float, box: list[float]) -> dict | None:
    """The truth on-screen entry whose box holds this face box's centre at time t."""
    turn = _turn(truth, t)
    if turn is None:
        return None
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return next((o for o in turn["on_screen"] if o["box"][0] <= cx < o["box"][2] and o["box"][1] <= cy < o["box"][3]),
                None)


def person_map(scene: Scene, truth: dict) -> dict[str, str]:
    """Predicted person -> truth label, by Hungarian matching on frames where a face sits in a truth box."""
    preds = sorted({t.person for t in scene.tracks if t.person})
    labels = sorted({o["person"] for u in truth["turns"] for o in u["on_screen"]})
    counts = np.zeros((len(preds), len(labels)))
    for tr in scene.tracks:
        if tr.person is None:
            continue
        for row in tr.boxes:
            who = _truth_person(truth, row[0], row[1:])
            if who:
                counts[preds.index(tr.person), labels.index(who["person"])] += 1
    rows, cols = linear_sum_assignment(-counts)
    return {preds[i]: labels[j] for i, j in zip(rows, cols, strict=True) if counts[i, j] > 0}


def phrase_accuracy(scene: Scene, truth: dict, mapping: dict[str, str]) -> tuple[float, float]:
    good = covered = total = 0
    for k in range(int(truth["duration"] * FPS)):
        t = k / FPS
        turn = _turn(truth, t)
        if turn is None:
            continue
        total += 1
        seg = next((s for s in scene.segments if s.start <= t < s.end), None)
        if seg is None:
            continue
        covered += 1
        visible = {o["person"] for o in turn["on_screen"]}
        want = turn["speaker"] if turn["speaker"] in visible else None
        got = mapping.get(seg.person) if seg.person else None
        good += got == want
    return good / max(covered, 1), covered / max(total, 1)


def asd_accuracy(tracks, scores: dict[str, list[list[float]]], truth: dict) -> float:
    good = n = 0
    for tr in tracks:
        boxes = {round(r[0] * FPS): r[1:] for r in tr.boxes}
        for t, s in scores.get(tr.id, []):
            box = boxes.get(round(t * FPS))
            who = _truth_person(truth, t, box) if box else None
            if who is None:
                continue
            n += 1
            good += (s > 0) == who["speaking"]
    return good / max(n, 1)


def run_scene(name: str, engine: str, fallback: bool) -> dict:
    path = EVAL / f"{name}.mp4"
    truth = json.loads((EVAL / f"{name}.json").read_text())
    with tempfile.TemporaryDirectory() as folder:
        art = Artifacts(folder, path)
        c0, t0 = time.process_time(), time.perf_counter()
        speech = transcribe_scene(path, artifacts=art)
        t1 = time.perf_counter()
        faces = analyze_faces(path, artifacts=art)
        c2, t2 = time.process_time(), time.perf_counter()
        if fallback:
            from sceneglot.av import lipmotion

            raw = lipmotion.score_tracks(path, faces.tracks, media.read_audio(path))
            method = av.FALLBACK
        else:
            result = av.active_speakers(path, faces.tracks, engine=engine)
            raw, method = result.scores, result.method
        t3 = time.perf_counter()
        for tr in faces.tracks:
            tr.speaking = [list(r) for r in raw.get(tr.id, [])]
        scene = Scene(media=media.probe(path), shots=faces.shots, speakers=speech.speakers,
                      persons=faces.persons, tracks=faces.tracks, segments=speech.segments)
        av_assign.assign(scene)
        c4, t4 = time.process_time(), time.perf_counter()
    mapping = person_map(scene, truth)
    phrase, covered = phrase_accuracy(scene, truth, mapping)
    return {
        "scene": name, "method": method, "phrase": phrase, "covered": covered,
        "asd_raw": asd_accuracy(scene.tracks, raw, truth),
        "asd_fused": asd_accuracy(scene.tracks, {t.id: t.speaking for t in scene.tracks}, truth),
        "speech_s": t1 - t0, "faces_s": t2 - t1, "asd_s": t3 - t2, "assign_s": t4 - t3,
        "share": (t4 - t2) / (t4 - t0), "cpu_asd_s": c4 - c2, "cpu_all_s": c4 - c0,
        "cpu_share": (c4 - c2) / (c4 - c0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenes", nargs="*", default=["cut2", "twoshot"])
    parser.add_argument("--engine", default="onnxruntime", choices=["onnxruntime", "opencv"])
    parser.add_argument("--fallback", action="store_true", help="score with the lip-motion fallback instead")
    args = parser.parse_args()
    os.environ.setdefault("SCENEGLOT_QUIET", "1")
    av.active_speakers  # noqa: B018  (import check before the long runs)
    head = (f"{'scene':<9} {'method':<11} {'phrase->face':>12} {'covered':>8} {'ASD raw':>8} {'ASD fused':>9} "
            f"{'speech s':>9} {'faces s':>8} {'ASD s':>7} {'ASD share':>9} {'ASD cpu s':>9} {'cpu share':>9}")
    print(head)
    print("-" * len(head))
    for name in args.scenes:
        r = run_scene(name, args.engine, args.fallback)
        print(f"{r['scene']:<9} {r['method']:<11} {r['phrase']:>11.1%} {r['covered']:>8.1%} {r['asd_raw']:>8.1%} "
              f"{r['asd_fused']:>9.1%} {r['speech_s']:>9.1f} {r['faces_s']:>8.1f} {r['asd_s'] + r['assign_s']:>7.1f} "
              f"{r['share']:>9.1%} {r['cpu_asd_s']:>9.1f} {r['cpu_share']:>9.1%}", flush=True)
    print("targets: phrase->face >= 95 % on both; frame-level ASD >= 90 % on twoshot; ASD share <= 15 %")


if __name__ == "__main__":
    main()
