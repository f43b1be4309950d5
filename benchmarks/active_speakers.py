"""Audio-visual benchmark on the shared scenes: who-says-what accuracy, frame-level ASD accuracy, ASD time share.

    python benchmarks/active_speakers.py [--engine onnxruntime|opencv] [--fallback] [--no-parallel] [--job]
                                         [--repeat N] [SCENE ...]

Runs each stage from scratch (fresh artifacts folder) and prints a table:
- phrase->face: share of truth speech time, covered by a phrase, whose phrase is attached to
  the person truly speaking (or null when that person is off screen); persons are mapped to truth
  labels by optimal matching of face positions. `covered` is the share of truth speech time under a phrase.
- ASD acc raw / fused: frame-level accuracy (score > 0 <=> truth speaking) over visible faces, for the
  network's own scores and for the scores after voice-identity fusion (what scene.json holds).
- time (stages run one after another): wall seconds per stage and ASD's share of speech + faces + ASD
  (ASD = scoring + attribution), then the same share in process CPU time, which other jobs on the
  machine disturb much less than wall time. A second table splits ASD into its steps.
- parallel (what `sceneglot analyze` / `translate` do: speech in a thread beside faces -> ASD):
  wall time of pipeline.analyze() against the same concurrent run without ASD; the difference is
  the wall time ASD adds. Each run starts from a fresh artifacts folder; medians of --repeat runs.
- --job: also times translate_scene (default translator, to Portuguese, fresh translation cache) and
  the subtitle burn, so the shares can be given against the whole `translate -o` job: run one stage
  after another, and as shipped (the wall time ASD adds to parallel analyze, over analyze + translate
  + render).
Load averages are printed: other jobs on the machine inflate wall times.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval" / "scenes"
os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models"))

from sceneglot import av, media  # noqa: E402
from sceneglot.av import attribute as av_attribute  # noqa: E402
from sceneglot.av.score import person_map, truth_face, turn_at  # noqa: E402
from sceneglot.jobs import AsdSettings, Job  # noqa: E402
from sceneglot.pipeline import analyze  # noqa: E402
from sceneglot.scene import Scene  # noqa: E402
from sceneglot.speech.pipeline import transcribe_scene, transcribe_with_turns  # noqa: E402
from sceneglot.vision import analyze_faces  # noqa: E402

FPS = 25


def phrase_accuracy(scene: Scene, truth: dict, mapping: dict[str, str]) -> tuple[float, float]:
    good = covered = total = 0
    for k in range(int(truth["duration"] * FPS)):
        t = k / FPS
        turn = turn_at(truth, t)
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
            who = truth_face(truth, t, box) if box else None
            if who is None:
                continue
            n += 1
            good += (s > 0) == who["speaking"]
    return good / max(n, 1)


def run_scene(name: str, engine: str, fallback: bool) -> dict:
    path = EVAL / f"{name}.mp4"
    truth = json.loads((EVAL / f"{name}.json").read_text())
    steps: dict[str, float] = {}
    c0, t0 = time.process_time(), time.perf_counter()
    speech, turns = transcribe_with_turns(path)
    c1, t1 = time.process_time(), time.perf_counter()
    faces = analyze_faces(path)
    c2, t2 = time.process_time(), time.perf_counter()
    if fallback:
        from sceneglot.av import lipmotion

        audio = media.read_audio(path)
        raw, motion = lipmotion.score_tracks(path, faces.tracks, audio), {}
        method = av.FALLBACK
    else:
        t = time.perf_counter()
        audio = media.read_audio(path)
        steps["read audio"] = time.perf_counter() - t
        from sceneglot.av import asd

        motion: dict = {}
        raw = asd.score_tracks(path, faces.tracks, audio, engine=engine, times=steps, motion=motion)
        method = av.LIGHT_ASD
    t3 = time.perf_counter()
    for tr in faces.tracks:
        tr.asd = [list(r) for r in raw.get(tr.id, [])]
    scene = Scene(media=media.probe(path), shots=faces.shots, speakers=speech.speakers,
                  persons=faces.persons, tracks=faces.tracks, segments=speech.segments)
    av_attribute.attribute(scene, audio, turns, motion)
    c4, t4 = time.process_time(), time.perf_counter()
    steps["assign"] = t4 - t3
    mapping = person_map(scene, truth)
    phrase, covered = phrase_accuracy(scene, truth, mapping)
    return {
        "scene": name, "method": method, "phrase": phrase, "covered": covered,
        "asd_raw": asd_accuracy(scene.tracks, raw, truth),
        "asd_fused": asd_accuracy(scene.tracks, {t.id: t.speaking for t in scene.tracks}, truth),
        "speech_s": t1 - t0, "faces_s": t2 - t1, "asd_s": t3 - t2, "assign_s": t4 - t3,
        "share": (t4 - t2) / (t4 - t0), "cpu_speech_s": c1 - c0, "cpu_faces_s": c2 - c1,
        "cpu_asd_s": c4 - c2, "cpu_all_s": c4 - c0, "cpu_share": (c4 - c2) / (c4 - c0), "steps": steps,
        "scene_obj": scene,
    }


def run_parallel(name: str, engine: str, repeat: int = 1) -> dict:
    """Median over `repeat` runs of run_parallel_once: other jobs on a small machine make single runs noisy."""
    runs = [run_parallel_once(name, engine) for _ in range(repeat)]
    out = {k: float(np.median([r[k] for r in runs])) for k in ("with_s", "with_cpu_s", "without_s", "without_cpu_s")}
    out["added_s"] = out["with_s"] - out["without_s"]
    out["share"] = out["added_s"] / out["with_s"]
    return out


def run_parallel_once(name: str, engine: str) -> dict:
    """Wall and CPU time of pipeline.analyze (speech beside faces -> ASD), and of the same without ASD."""
    path = EVAL / f"{name}.mp4"
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        c, t = time.process_time(), time.perf_counter()
        analyze(Job(input=str(path), folder=folder, asd=AsdSettings(engine=engine)))
        out["with_s"], out["with_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    c, t = time.process_time(), time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        job = pool.submit(transcribe_scene, path)
        analyze_faces(path)
        job.result()
    out["without_s"], out["without_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    return out


def run_job(name: str, scene: Scene) -> dict:
    """Seconds of the rest of `translate -o`: translation (default translator, English -> Portuguese,
    which the offline Bergamot model covers) and the burn."""
    from sceneglot.render.burn import burn
    from sceneglot.translate import translate_scene

    path = EVAL / f"{name}.mp4"
    with tempfile.TemporaryDirectory() as folder:
        t = time.perf_counter()  # a fresh translation cache: the cost of a first run
        translated = translate_scene(scene, "pt", audio_path=str(path), cache_path=Path(folder) / "cache.sqlite3")
        t1 = time.perf_counter()
        burn(translated, str(path), str(Path(folder) / "out.mp4"))
    return {"translate_s": t1 - t, "render_s": time.perf_counter() - t1}


def _load() -> str:
    return "load avg " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenes", nargs="*", default=["cut2", "twoshot"])
    parser.add_argument("--engine", default="onnxruntime", choices=av.ENGINES)
    parser.add_argument("--fallback", action="store_true", help="score with the lip-motion fallback instead")
    parser.add_argument("--no-parallel", action="store_true", help="skip the concurrent pipeline.analyze runs")
    parser.add_argument("--job", action="store_true", help="also time translation + render (translate -o)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scene of the parallel timing (median)")
    args = parser.parse_args()
    os.environ.setdefault("SCENEGLOT_QUIET", "1")
    av.active_speakers  # noqa: B018  (import check before the long runs)
    print(_load())
    head = (f"{'scene':<9} {'method':<11} {'phrase->face':>12} {'covered':>8} {'ASD raw':>8} {'ASD fused':>9} "
            f"{'speech s':>9} {'faces s':>8} {'ASD s':>7} {'ASD share':>9} {'ASD cpu s':>9} {'cpu share':>9}")
    print(head)
    print("-" * len(head))
    results = []
    for name in args.scenes:
        r = run_scene(name, args.engine, args.fallback)
        results.append(r)
        print(f"{r['scene']:<9} {r['method']:<11} {r['phrase']:>11.1%} {r['covered']:>8.1%} {r['asd_raw']:>8.1%} "
              f"{r['asd_fused']:>9.1%} {r['speech_s']:>9.1f} {r['faces_s']:>8.1f} {r['asd_s'] + r['assign_s']:>7.1f} "
              f"{r['share']:>9.1%} {r['cpu_asd_s']:>9.1f} {r['cpu_share']:>9.1%}", flush=True)
    print(_load())
    if not args.fallback:
        order = ["session", "read audio", "mfcc", "decode", "crop", "encoder", "backend", "assign"]
        print("\nASD steps, wall seconds (serial run; decode = waiting on media.iter_frames at 25 fps)")
        print(f"{'scene':<9} " + " ".join(f"{k:>10}" for k in order) + f" {'frames':>7} {'face-frames':>11} "
              f"{'enc ms/ff':>9}")
        for r in results:
            st = r["steps"]
            print(f"{r['scene']:<9} " + " ".join(f"{st.get(k, 0.0):>10.2f}" for k in order)
                  + f" {st.get('frames', 0):>7} {st.get('face_frames', 0):>11}"
                  f" {1000 * st.get('encoder', 0.0) / max(st.get('face_frames', 0), 1):>9.1f}")
    parallel: dict[str, dict] = {}
    if not args.no_parallel and not args.fallback:
        print(f"\nparallel pipeline.analyze (speech in a thread beside faces -> ASD), fresh artifacts each, "
              f"median of {args.repeat}")
        print(f"{'scene':<9} {'with ASD s':>10} {'without s':>9} {'ASD adds s':>10} {'wall share':>10} "
              f"{'cpu with s':>10} {'cpu without':>11}")
        for name in args.scenes:
            p = parallel[name] = run_parallel(name, args.engine, args.repeat)
            print(f"{name:<9} {p['with_s']:>10.1f} {p['without_s']:>9.1f} {p['added_s']:>10.1f} {p['share']:>10.1%} "
                  f"{p['with_cpu_s']:>10.1f} {p['without_cpu_s']:>11.1f}  ({_load()})", flush=True)
    if args.job:
        print("\nwhole `translate -o` job: translate + render after analysis. 'serial share': ASD's part of "
              "speech+faces+ASD+translate+render run one after another; 'as shipped': the wall time ASD adds "
              "to parallel analyze + translate + render")
        for r in results:
            try:
                j = run_job(r["scene"], r["scene_obj"])
            except Exception as exc:  # a missing translator must not hide the tables above
                print(f"{r['scene']:<9} not measured: {exc}")
                continue
            whole = r["speech_s"] + r["faces_s"] + r["asd_s"] + r["assign_s"] + j["translate_s"] + j["render_s"]
            line = (f"{r['scene']:<9} translate {j['translate_s']:.1f} s, render {j['render_s']:.1f} s, "
                    f"serial share {(r['asd_s'] + r['assign_s']) / whole:.1%}")
            if r["scene"] in parallel:
                p = parallel[r["scene"]]
                shipped = p["with_s"] + j["translate_s"] + j["render_s"]
                line += f", as shipped: adds {p['added_s']:.1f} s of {shipped:.1f} s = {p['added_s'] / shipped:.1%}"
            print(line, flush=True)
    print("targets: phrase->face >= 95 % on both; frame-level ASD >= 90 % on twoshot; ASD share <= 15 %")


if __name__ == "__main__":
    main()
